"""Fusion, speakers the query names, and the turns around the best hits (pure functions)."""

from __future__ import annotations

import pytest

from helpers import turn
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
