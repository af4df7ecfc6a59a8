"""Store upkeep: old versions dropped, lookup indexes built, rounds spaced as the store grows."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import lancedb

from tiermem import MemoryConfig, TieredMemory
from tiermem.maintenance import Maintainer


def test_optimize_drops_old_versions_and_indexes_lookups(tmp_path: Path) -> None:
    config = MemoryConfig(
        tokenizer="cl100k_base",
        long_term={"optimize_every": None, "keep_versions_seconds": 0.05},
        hot={"enabled": False},  # one commit per turn: the versions optimize must drop
    )
    with TieredMemory(tmp_path / "store", config=config) as mem:
        added = [mem.add_message("user", f"turn {i} Lisbon", session_id="s") for i in range(30)]
        table = lancedb.connect(tmp_path / "store").open_table("records")
        assert len(table.list_versions()) > 30  # one commit per turn
        time.sleep(0.1)
        mem.optimize()
        # compaction and each new index add a version; the 30 appends are gone
        table = lancedb.connect(tmp_path / "store").open_table("records")
        assert len(table.list_versions()) < 15
        indexed = {column for index in table.list_indices() for column in index.columns}
        assert {"id", "seq", "session_key", "user_key", "agent_key", "kind", "text"} <= indexed
        assert mem.get(added[7].id).text == "turn 7 Lisbon"
        assert len(mem.search("Lisbon", session_id="s", k=50)) == 30


def test_a_reader_refreshes_once_per_call_within_its_interval(tmp_path: Path) -> None:
    lagging = MemoryConfig(tokenizer="cl100k_base", long_term={"read_consistency_seconds": 3600})
    with TieredMemory(tmp_path / "store") as writer:
        writer.add_message("user", "first words", session_id="s", user_id="u")
        with TieredMemory(tmp_path / "store", config=lagging) as reader:
            assert reader.stats()["turns"] == 1
            writer.add_message("user", "second words", session_id="s", user_id="u")
            # an hour of allowed lag: the reader keeps the version it caught up with
            assert reader.stats()["turns"] == 1
        with TieredMemory(tmp_path / "store") as strong:
            assert strong.stats()["turns"] == 2


class _Optimizer:
    """Stands in for `TieredMemory.optimize`: counts rounds, can be held up."""

    def __init__(self) -> None:
        self.rounds = 0
        self.release = threading.Event()

    def __call__(self) -> None:
        self.rounds += 1
        self.release.wait(5)


def test_upkeep_rounds_never_overlap() -> None:
    optimizer = _Optimizer()
    maintainer = Maintainer(optimizer, every=200)
    maintainer.note_writes(199)
    assert optimizer.rounds == 0
    maintainer.note_writes(1)  # starts a round that waits for release
    for _ in range(5):
        maintainer.note_writes(1_000)  # due, but a round is running
    optimizer.release.set()
    maintainer.wait()
    assert optimizer.rounds == 1
    maintainer.note_writes(200)
    maintainer.wait()
    assert optimizer.rounds == 2


def test_no_upkeep_when_switched_off() -> None:
    optimizer = _Optimizer()
    optimizer.release.set()
    maintainer = Maintainer(optimizer, every=None)
    maintainer.note_writes(10_000)
    maintainer.wait()
    assert optimizer.rounds == 0


def _cache_bytes(path: Path, mb: int | None) -> int:
    config = MemoryConfig(
        tokenizer="cl100k_base",
        long_term={"optimize_every": None, "index_cache_mb": mb, "metadata_cache_mb": mb},
    )
    with TieredMemory(path, config=config) as mem:
        for i in range(40):  # every batch a version, every tenth an index refresh
            turns = [{"role": "user", "content": f"turn {i}.{j}: the Porto ferry {i * j}"}
                     for j in range(50)]  # fmt: skip
            mem.add_messages(turns, session_id="s", user_id="u")
            if i % 10 == 9:
                mem.optimize()
        for i in range(40):
            assert mem.build_context(f"ferry {i}", session_id="s", user_id="u").kept
        return int(mem._store.session.size_bytes)


def test_lancedb_caches_stay_within_their_configured_size(tmp_path: Path) -> None:
    unbounded = _cache_bytes(tmp_path / "default", None)
    bounded = _cache_bytes(tmp_path / "bounded", 1)
    assert bounded <= 2 * 1024 * 1024 * 1.05  # 1 MB each for indexes and metadata
    assert unbounded > 2 * bounded  # the bound was what held it, not a small workload


def test_lancedb_builds_a_vector_index_only_when_the_hot_path_is_off(tmp_path: Path) -> None:
    def vector_indexed(hot: bool) -> bool:
        folder = tmp_path / f"hot-{hot}"
        config = MemoryConfig(long_term={"optimize_every": None, "vector_index_rows": 300},
                              hot={"enabled": hot})  # fmt: skip
        with TieredMemory(folder, config=config) as mem:
            mem.add_messages([{"role": "user", "content": f"fact {i} of Lisbon"}
                              for i in range(400)], session_id="s")  # fmt: skip
            mem.optimize()
            assert len(mem.search("Lisbon fact 7", session_id="s", k=5)) == 5
        table = lancedb.connect(folder).open_table("records")
        return any(index.columns == ["vector"] for index in table.list_indices())

    assert vector_indexed(hot=False)
    assert not vector_indexed(hot=True)  # the in-process index serves the vectors
