"""The vector graph as a side file: restored by record id into another process's rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import hot_data
import numpy as np
import pytest

from tiermem import MemoryConfig, TieredMemory
from tiermem.hot.graph import GraphKeys, load_graph
from tiermem.hot.vectors import VectorIndex

ROWS = 3_000


@pytest.fixture(scope="module")
def embedded() -> tuple[np.ndarray, np.ndarray]:
    return hot_data.embedded(ROWS, seed=5, queries_count=20)


def _exact_top(matrix: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> set[int]:
    return set(hot_data.exact_top(matrix, query, rows, k))


@pytest.fixture(scope="module")
def saved_once(
    tmp_path_factory: pytest.TempPathFactory, embedded: tuple[np.ndarray, np.ndarray]
) -> tuple[Path, list[str]]:
    """A graph of every row saved by a first process, built once for the tests that load it."""
    matrix, _ = embedded
    folder = tmp_path_factory.mktemp("graph") / "g"
    ids = [f"r{i}" for i in range(len(matrix))]
    first = VectorIndex(matrix.shape[1], hnsw_rows=500)
    first.add(np.arange(len(matrix)), matrix)
    assert first.save_graph(folder, lambda rows: [ids[int(r)] for r in rows])
    return folder, ids


def _saved(folder: Path, saved_once: tuple[Path, list[str]]) -> list[str]:
    """A copy of the first process's saved graph in ``folder``; the ids of its rows."""
    shutil.copytree(saved_once[0], folder)
    return saved_once[1]


def test_identity_keys_and_restored_keys_map_both_ways() -> None:
    rows = np.array([0, 5, 9], np.int64)
    assert GraphKeys().keys(rows).tolist() == [0, 5, 9]
    assert GraphKeys().rows(np.array([0, 5, 9], np.uint64)).tolist() == [0, 5, 9]
    # saved keys 3 and 7 are rows 1 and 0 here; key 4 names a record gone since
    keys = GraphKeys(offset=8, saved=np.array([3, 4, 7]), saved_rows=np.array([1, -1, 0]),
                     key_of_row=np.array([7, 3]))  # fmt: skip
    assert keys.keys(np.array([0, 1, 2, 5])).tolist() == [7, 3, 10, 13]
    assert keys.rows(np.array([7, 3, 10, 13, 4, 5], np.uint64)).tolist() == [0, 1, 2, 5, -1, -1]


def test_a_saved_graph_serves_another_row_order_without_a_rebuild(
    tmp_path: Path, embedded: tuple[np.ndarray, np.ndarray], saved_once: tuple[Path, list[str]]
) -> None:
    matrix, qs = embedded
    ids = _saved(tmp_path / "g", saved_once)
    # the next process loads the records in another order, some deleted, some new
    rng = np.random.default_rng(1)
    order = rng.permutation(ROWS)
    gone = set(order[:100].tolist())
    kept = [int(i) for i in order if int(i) not in gone]
    row_of = {ids[i]: row for row, i in enumerate(kept)}
    second = VectorIndex(matrix.shape[1], hnsw_rows=500, background=True)
    restored: list[bool] = []

    def seed() -> tuple[object, GraphKeys] | None:
        found = load_graph(tmp_path / "g", matrix.shape[1], row_of.get, len(kept))
        restored.append(found is not None)
        return found  # type: ignore[return-value]

    second.seed = seed  # type: ignore[assignment]
    second.add(np.arange(len(kept)), matrix[kept])
    assert second.wait_graph(timeout=120)
    assert restored == [True]
    # the restored graph was not rebuilt: its keys are the first process's rows
    assert second._keys.offset == ROWS
    live = np.arange(len(kept))
    for q in qs:
        rows = second.search(q, limit=100)[0]
        assert len(_exact_top(matrix[kept], q, live, 100) & set(rows.tolist())) >= 90
    # rows added after the restore are found through the graph, keyed past the old keys
    second.add(np.array([len(kept)]), -qs[0][None, :])
    second.add(np.array([len(kept) + 1]), qs[0][None, :])
    assert second.search(qs[0], limit=1)[0].tolist() == [len(kept) + 1]
    second.delete(np.array([len(kept) + 1]))
    assert len(kept) + 1 not in second.search(qs[0], limit=50)[0].tolist()


def test_an_unchanged_restored_graph_is_not_written_again(
    tmp_path: Path, embedded: tuple[np.ndarray, np.ndarray], saved_once: tuple[Path, list[str]]
) -> None:
    matrix, _ = embedded
    ids = _saved(tmp_path / "g", saved_once)
    second = VectorIndex(matrix.shape[1], hnsw_rows=500, background=True)
    row_of = {i: n for n, i in enumerate(ids)}
    second.seed = lambda: load_graph(tmp_path / "g", matrix.shape[1], row_of.get, ROWS)
    second.add(np.arange(ROWS), matrix)
    assert second.wait_graph(timeout=120)
    assert not second.save_graph(tmp_path / "g", lambda rows: [ids[int(r)] for r in rows])


def test_a_missing_torn_or_foreign_side_file_is_rebuilt(tmp_path: Path) -> None:
    assert load_graph(tmp_path / "none", 8, lambda _: 0, 1) is None
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "meta.json").write_text('{"format": 1, "dimensions": 8, "token": "x"}')
    assert load_graph(folder, 8, lambda _: 0, 1) is None  # its files are missing
    (folder / "meta.json").write_text("{not json")
    assert load_graph(folder, 8, lambda _: 0, 1) is None


def test_a_store_reopened_restores_its_graph_and_forgets_what_was_deleted(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    config = MemoryConfig(hot={"hnsw_rows": 300, "background_rows": 100_000})
    facts = [f"note {i}: parcel {i} waits at locker {i % 97} in hall {i % 13}" for i in range(900)]
    with TieredMemory(store, config=config) as mem:
        mem.add_messages([{"role": "user", "content": f} for f in facts], session_id="s",
                         user_id="u")  # fmt: skip
        assert mem._hot is not None
        assert mem._hot.index.vectors.wait_graph(timeout=120)
        before = [h.record.id for h in mem.search("parcel 17 locker", user_id="u", k=5)]
    assert (store / "_tiermem_hot" / "records.graph" / "meta.json").exists()
    # deleted by an instance without the hot path: the graph still holds it
    with TieredMemory(store, config=MemoryConfig(hot={"enabled": False})) as other:
        other.forget(before[0])
    with TieredMemory(store, config=config) as mem:
        assert mem._hot is not None
        assert mem._hot.index.vectors.wait_graph(timeout=120)
        assert mem._hot.index.vectors._keys.offset > 0  # restored, not built anew
        after = [h.record.id for h in mem.search("parcel 17 locker", user_id="u", k=5)]
        assert before[0] not in after
        assert after[:4] == before[1:5]
