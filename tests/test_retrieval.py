"""Fusion (score mixing and RRF, on both store paths), named speakers, and neighbouring turns."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import turn
from tiermem import HashingEmbedder, MemoryConfig, TieredMemory
from tiermem.config import RetrievalConfig
from tiermem.records import Kind, MemoryRecord, ScoreParts, SearchHit
from tiermem.retrieval import fuse, named_speakers, neighbor_positions, with_neighbors

CONFIG = RetrievalConfig(neighbors=2, neighbor_weight=0.8, other_speaker_weight=0.5,
                         recency_weight=0.0, importance_weight=0.0)  # fmt: skip


def by(name: str, seq: int, text: str = "hello") -> MemoryRecord:
    return turn(seq, text, metadata={"name": name})


def hit(record: MemoryRecord, score: float, speaker: float = 1.0) -> SearchHit:
    return SearchHit(record=record, score=score, parts=ScoreParts(speaker=speaker))


def test_named_speakers_are_whole_words_in_any_case() -> None:
    records = [by("Ann", 1), by("Bob", 2), by("Dr. O'Neil", 3), turn(4)]
    assert named_speakers("What did ann's sister say?", records) == {"Ann"}
    assert named_speakers("Did Annabel or Bobby call?", records) == set()
    assert named_speakers("When did Dr. O'Neil and BOB meet?", records) == {"Bob", "Dr. O'Neil"}
    assert named_speakers("what did the user say?", records) == set()  # a role is not a name


def test_turns_by_a_speaker_the_query_does_not_name_are_scaled() -> None:
    ann, bob = by("Ann", 1, "I love hiking"), by("Bob", 2, "I love hiking")
    memory = MemoryRecord(id="m", kind=Kind.MEMORY, text="loves hiking", timestamp=ann.timestamp)
    vector_hits = [(ann, 0.2), (bob, 0.2), (memory, 0.2)]
    hits = fuse([], vector_hits, config=CONFIG, named=frozenset({"Ann"}))
    scores = {h.record.id: h.score for h in hits}
    assert scores[bob.id] == pytest.approx(scores[ann.id] * 0.5)
    assert scores[memory.id] == pytest.approx(scores[ann.id])  # no speaker: not doubted
    assert {h.record.id: h.parts.speaker for h in hits}[bob.id] == 0.5
    unnamed = fuse([], vector_hits, config=CONFIG)
    assert len({h.score for h in unnamed}) == 1


def test_rrf_ranks_by_places_in_each_list_where_score_mixing_ranks_by_scores() -> None:
    # x: the best BM25 by far but a poor vector; y and z: middling in both lists
    x, y, z = turn(1, "x"), turn(2, "y"), turn(3, "z")
    text_hits = [(x, 10.0), (y, 1.0), (z, 0.5)]
    vector_hits = [(x, 0.9), (y, 0.5), (z, 0.55)]  # cosine distances
    mixed = fuse(text_hits, vector_hits, config=CONFIG)
    ranked = fuse(text_hits, vector_hits, config=CONFIG.model_copy(update={"fusion": "rrf"}))
    assert [h.record.id for h in mixed] == [x.id, y.id, z.id]
    # y is first by vector and second by text: 61/62 + 61/61 beats x's 61/61 + 61/63
    assert [h.record.id for h in ranked] == [y.id, x.id, z.id]
    parts = {h.record.id: h.parts for h in ranked}
    assert parts[x.id].text == 1.0
    assert parts[x.id].vector == pytest.approx(61 / 63)
    assert parts[y.id].vector == 1.0


def test_rrf_gives_tied_scores_one_rank_and_honours_rrf_k() -> None:
    a, b, c = turn(1, "a"), turn(2, "b"), turn(3, "c")
    config = RetrievalConfig(fusion="rrf", rrf_k=1.0, recency_weight=0.0, importance_weight=0.0)
    hits = fuse([(a, 2.0), (b, 2.0), (c, 1.0)], [], config=config)
    parts = {h.record.id: h.parts.text for h in hits}
    assert parts == pytest.approx({a.id: 1.0, b.id: 1.0, c.id: 2 / 4})


@pytest.mark.parametrize("hot", [True, False])
def test_both_store_paths_fuse_by_rank_when_told(hot: bool, tmp_path: Path) -> None:
    config = MemoryConfig(
        hot={"enabled": hot},
        retrieval={"fusion": "rrf", "neighbors": 0, "recency_weight": 0.0},
    )
    texts = ["the red kite flies", "a red red kite", "blue sea", "kite shop in town"]
    with TieredMemory(tmp_path / "m", config=config, embedder=HashingEmbedder()) as mem:
        for text in texts:
            mem.add_message("user", text, session_id="s")
        hits = mem.search("red kite", k=10)
    # every part is (k + 1) / (k + rank) for a whole rank, the first of each list 1.0
    for name in ("text", "vector"):
        values = sorted((getattr(h.parts, name) for h in hits), reverse=True)
        assert values[0] == 1.0
        for value in values:
            if value:
                rank = 61 / value - 60
                assert rank == pytest.approx(round(rank))


def test_turns_around_the_best_hits_inherit_a_share_of_their_score() -> None:
    question, answer, far = by("Bob", 10), by("Ann", 11), by("Ann", 12)
    hits = [hit(question, 0.9)]
    owner = (None, None, "s")
    assert neighbor_positions(hits, CONFIG) == [(owner, 8), (owner, 9), (owner, 11), (owner, 12)]
    out = with_neighbors(hits, [answer, far, by("Ann", 13)], config=CONFIG)
    scores = {h.record.id: h.score for h in out}
    assert scores == pytest.approx({question.id: 0.9, answer.id: 0.72, far.id: 0.576})
    assert [h.record.id for h in out] == [question.id, answer.id, far.id]
    assert out[1].parts.neighbor == pytest.approx(0.72)


def test_a_weak_hit_next_to_a_strong_one_is_raised_to_what_it_inherits() -> None:
    question, answer = by("Bob", 10), by("Ann", 11)
    hits = [hit(question, 0.9), hit(answer, 0.1)]
    assert ((None, None, "s"), 11) not in neighbor_positions(
        hits, CONFIG
    )  # already found: no fetch
    out = with_neighbors(hits, [], config=CONFIG)
    assert {h.record.id: h.score for h in out}[answer.id] == pytest.approx(0.72)


def test_a_named_speaker_s_answer_inherits_from_the_other_speaker_s_question() -> None:
    # the question is Bob's, so it was scaled; its answer by Ann inherits the unscaled score
    question, answer, aside = by("Bob", 10), by("Ann", 11), by("Bob", 9)
    hits = [hit(question, 0.45, speaker=0.5)]
    out = with_neighbors(hits, [answer, aside], config=CONFIG, named=frozenset({"Ann"}))
    scores = {h.record.id: h.score for h in out}
    assert scores[answer.id] == pytest.approx(0.9 * 0.8)
    assert scores[aside.id] == pytest.approx(0.9 * 0.8 * 0.5)


def test_only_the_best_sources_lend_and_only_within_their_session() -> None:
    config = RetrievalConfig(neighbors=1, neighbor_sources=1)
    best, other = by("Ann", 5), by("Ann", 20)
    elsewhere = MemoryRecord(id="x", kind=Kind.TURN, text="hi", timestamp=best.timestamp,
                             session_id="s2", seq=6)  # fmt: skip
    hits = [hit(best, 0.9), hit(other, 0.5)]
    assert neighbor_positions(hits, config) == [((None, None, "s"), 4), ((None, None, "s"), 6)]
    out = with_neighbors(hits, [by("Ann", 6), by("Ann", 21), elsewhere], config=config)
    assert {h.record.seq for h in out} == {5, 6, 20}
    assert with_neighbors(hits, [by("Ann", 6)], config=RetrievalConfig(neighbors=0)) == hits
