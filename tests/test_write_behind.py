"""Opt-in write-behind: own writes read back at once, others see them once committed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from helpers import turn
from tiermem import MemoryConfig, StoreError, TieredMemory
from tiermem.records import MemoryRecord
from tiermem.write_behind import WriteBehind


def _config(ms: float) -> MemoryConfig:
    return MemoryConfig(tokenizer="cl100k_base", long_term={"write_behind_ms": ms})


def test_own_writes_are_read_back_at_once(tmp_path: Path) -> None:
    with TieredMemory(tmp_path / "store", config=_config(10_000)) as mem:
        records = [
            mem.add_message("user", f"the ferry to Faro leaves at {h}", session_id="s", user_id="u")
            for h in range(5)
        ]
        assert mem.get(records[-1].id).text == records[-1].text
        assert {h.record.id for h in mem.search("ferry Faro", user_id="u")} == {
            r.id for r in records
        }


def test_other_instances_see_writes_once_committed(tmp_path: Path) -> None:
    with (
        TieredMemory(tmp_path / "store") as reader,
        TieredMemory(tmp_path / "store", config=_config(30)) as writer,
    ):
        record = writer.add_message("user", "the code word is tangerine", user_id="u")
        deadline = time.monotonic() + 10
        while not reader.search("tangerine", user_id="u") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [h.record.id for h in reader.search("tangerine", user_id="u")] == [record.id]


def test_close_commits_what_waits(tmp_path: Path) -> None:
    with TieredMemory(tmp_path / "store", config=_config(60_000)) as mem:
        ids = [mem.add_message("user", f"turn {i}", session_id="s").id for i in range(20)]
    with TieredMemory(tmp_path / "store") as fresh:
        assert [r.id for r in fresh.records(session_id="s")] == ids


async def test_async_calls_read_their_own_writes(tmp_path: Path) -> None:
    async with TieredMemory(tmp_path / "store", config=_config(60_000)) as mem:
        record = await mem.aadd_message("user", "async: the train to Braga", user_id="u")
        hits = await mem.asearch("train Braga", user_id="u")
        assert [h.record.id for h in hits] == [record.id]


class _Flaky:
    """A commit that fails the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.committed: list[str] = []

    def __call__(self, records: Sequence[MemoryRecord], vectors: NDArray[np.float32]) -> None:
        assert len(records) == len(vectors)
        if self.failures:
            self.failures -= 1
            raise StoreError("disk full")
        self.committed += [r.id for r in records]


def test_a_failed_commit_keeps_its_appends_for_the_next() -> None:
    commit = _Flaky(failures=1)
    behind = WriteBehind(commit, delay=60)
    behind.add([turn(1), turn(2)], np.zeros((2, 4), np.float32))
    with pytest.raises(StoreError, match="disk full"):
        behind.flush()
    behind.add([turn(3)], np.zeros((1, 4), np.float32))
    behind.close()  # commits all three, in order
    assert commit.committed == ["t0001", "t0002", "t0003"]
    with pytest.raises(StoreError, match="closed"):
        behind.add([turn(4)], np.zeros((1, 4), np.float32))
