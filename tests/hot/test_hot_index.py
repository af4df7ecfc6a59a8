"""`HotIndex`: isolation by scope, deletes and updates at once, fusion-ready candidates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hot_data import queries, turns

from tiermem.config import RetrievalConfig
from tiermem.hot.columns import ScopeFilter
from tiermem.hot.index import HotIndex
from tiermem.long_term import Filter, Insert, LanceStore, Search
from tiermem.records import MemoryRecord
from tiermem.retrieval import fuse
from tiermem.static_embedding import StaticEmbedder

EMBEDDER = StaticEmbedder()
HOSTILE = ["alice", "alice ", "ALICE", "alice' OR '1'='1", "alice\u200b", "%", "None"]


def _vectors(records: list[MemoryRecord]) -> np.ndarray:
    return np.asarray(EMBEDDER.embed([r.text for r in records]), np.float32)


def _filled(records: list[MemoryRecord], **options: int) -> HotIndex:
    index = HotIndex(EMBEDDER.dimensions, **options)  # type: ignore[arg-type]
    index.add(records, _vectors(records))
    return index


def test_each_hostile_or_colliding_id_sees_only_its_own_rows() -> None:
    records = [
        r
        for n, user in enumerate(HOSTILE)
        for r in turns(20, seed=n, user_id=user, session_id="same", prefix=f"p{n}x")
    ]
    index = _filled(records, commit_rows=50)  # some committed, some in the tail
    query = "lisbon tickets budget"
    vector = _vectors([dataclasses.replace(records[0], text=query)])[0]
    for user in HOSTILE:
        found = index.search(query, vector, ScopeFilter(user_id=user), 200)
        owners = {r.user_id for r, _ in found.text_hits + found.vector_hits}
        assert owners == {user}
    nobody = index.search(query, vector, ScopeFilter(user_id="alice2"), 200)
    assert nobody.text_hits == nobody.vector_hits == []


def test_exact_scope_keeps_anonymous_rows_apart_from_a_users() -> None:
    anonymous = turns(10, user_id=None, session_id="s", prefix="a")
    users = turns(10, user_id="u", session_id="s", prefix="b")
    index = _filled(anonymous + users)
    vector = _vectors(anonymous[:1])[0]
    exact = index.search(anonymous[0].text, vector, ScopeFilter(session_id="s", exact=True), 50)
    assert {r.user_id for r, _ in exact.text_hits + exact.vector_hits} == {None}
    wide = index.search(anonymous[0].text, vector, ScopeFilter(session_id="s"), 50)
    assert {r.user_id for r, _ in wide.vector_hits} == {None, "u"}


def test_deletes_and_updates_are_seen_by_the_next_search() -> None:
    records = turns(300, seed=5)
    index = _filled(records, commit_rows=64)
    target = records[10]
    vector = _vectors([target])[0]
    found = index.search(target.text, vector, ScopeFilter(user_id="u1"), 5)
    assert found.vector_hits[0][0].id == target.id
    assert index.delete([target.id, "missing"]) == 1
    again = index.search(target.text, vector, ScopeFilter(user_id="u1"), 300)
    assert target.id not in {r.id for r, _ in again.text_hits + again.vector_hits}
    assert index.get(target.id) is None
    changed = dataclasses.replace(records[20], text="zanzibar quokka")
    index.add([changed], _vectors([changed]))
    hits = index.search("quokka", None, ScopeFilter(), 5).text_hits
    assert [(r.id, r.text) for r, _ in hits] == [(changed.id, "zanzibar quokka")]
    assert index.get(changed.id) == changed
    assert len(index) == 299


def test_an_id_twice_in_one_batch_keeps_the_last() -> None:
    (first,) = turns(1)
    second = dataclasses.replace(first, text="quokka")
    index = _filled([first, second])
    assert len(index) == 1
    assert [r.text for r, _ in index.search("quokka", None, ScopeFilter(), 5).text_hits] == [
        "quokka"
    ]
    assert index.search(first.text, None, ScopeFilter(), 5).text_hits == []


def test_candidates_match_the_lancedb_search_and_fuse_alike() -> None:
    """The same rows in LanceDB and in the hot index: the same fused top 20 (nearly)."""
    records = turns(1_500, seed=11)
    vectors = _vectors(records)
    store = LanceStore("memory://", table="records", embedder="test",
                       dimensions=EMBEDDER.dimensions)  # fmt: skip
    store.run(Insert(records, vectors))
    index = HotIndex(EMBEDDER.dimensions, commit_rows=500)
    index.add(records, vectors)
    config = RetrievalConfig()
    shared = []
    for query in queries(15, seed=4):
        vector = _vectors([dataclasses.replace(records[0], text=query)])[0]
        text_hits, vector_hits = store.run(Search(query, vector, Filter(user_id="u1"), 160))
        lance = fuse(text_hits, vector_hits, config=config)
        found = index.search(query, vector, ScopeFilter(user_id="u1"), 160)
        hot = fuse(found.text_hits, found.vector_hits, config=config)
        shared.append(len({h.record.id for h in lance[:20]} & {h.record.id for h in hot[:20]}))
    assert np.mean(shared) >= 19, shared


def test_vector_hits_include_every_text_hit_with_its_distance() -> None:
    records = turns(400, seed=2)
    index = _filled(records)
    vector = _vectors(records[:1])[0]
    found = index.search("lisbon budget", vector, ScopeFilter(), 10)
    in_vector = {r.id: d for r, d in found.vector_hits}
    for record, _ in found.text_hits:
        expected = 1.0 - float(_vectors([record])[0] @ vector / np.linalg.norm(vector))
        assert in_vector[record.id] == pytest.approx(expected, abs=1e-4)


def test_either_half_may_be_skipped() -> None:
    index = _filled(turns(50))
    only_text = index.search("lisbon", None, ScopeFilter(), 5)
    assert only_text.vector_hits == []
    zero = np.zeros(EMBEDDER.dimensions, np.float32)
    assert index.search("lisbon", zero, ScopeFilter(), 5).vector_hits == []
    only_vector = index.search(None, _vectors(turns(1))[0], ScopeFilter(), 5)
    assert only_vector.text_hits == []
    assert len(only_vector.vector_hits) == 5


def test_neighbours_stay_within_the_scope_triple() -> None:
    mine = turns(5, user_id="u1", session_id="shared", prefix="m")
    theirs = turns(5, user_id="u2", session_id="shared", prefix="t")
    index = _filled(mine + theirs)
    positions = [("u1", None, "shared", 2), ("u2", None, "shared", 3), ("u1", None, "shared", 9)]
    assert [r.id for r in index.neighbours(positions, ScopeFilter(user_id="u1"))] == [mine[2].id]
    index.delete([mine[2].id])
    assert index.neighbours(positions, ScopeFilter(user_id="u1")) == []


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        _filled(turns(2)).search("x", None, ScopeFilter(), 0)
