"""The sync and async clients of one store: separate LanceDB connections, one store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tiermem.long_term import (
    AsyncLanceStore,
    Count,
    Delete,
    Fetch,
    Filter,
    Insert,
    LanceStore,
    Upsert,
)
from tiermem.records import Kind, MemoryRecord


def _turn(i: int) -> MemoryRecord:
    return MemoryRecord(id=f"r{i}", kind=Kind.TURN, text=f"turn {i}", session_id="s", seq=i,
                        timestamp=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip


def _vector() -> np.ndarray:
    return np.ones((1, 4), np.float32)


@pytest.mark.parametrize("consistency", [None, 0.0, 30.0])
@pytest.mark.parametrize("folder", [False, True])
async def test_each_client_reads_the_other_clients_writes(
    tmp_path: Path, folder: bool, consistency: float | None
) -> None:
    # with None, LanceDB never looks for new versions itself: only the store's own
    # count of writes tells a client that the other one wrote
    uri = str(tmp_path) if folder else "memory://"
    store = LanceStore(uri, table="records", embedder="test", dimensions=4,
                       read_consistency_seconds=consistency)  # fmt: skip
    first, second = AsyncLanceStore(store), AsyncLanceStore(store)
    try:
        store.run(Insert([_turn(0)], _vector()))
        assert await first.run(Count(Filter())) == 1
        await first.run(Insert([_turn(1)], _vector()))
        assert store.run(Count(Filter())) == 2
        await second.run(Delete(Filter(ids=("r0",))))
        assert store.run(Count(Filter())) == await first.run(Count(Filter())) == 1
        store.run(Upsert([_turn(2)], _vector()))
        assert sorted(r.id for r in await second.run(Fetch(Filter()))) == ["r1", "r2"]
    finally:
        store.close()
