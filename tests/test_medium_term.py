"""The medium-term tier's extractive summaries, with the real tokenizer."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from helpers import BASE
from tiermem import ExtractiveSummarizer, Kind, MediumTermConfig, MemoryRecord, TiktokenCounter
from tiermem.effects import Effect, Embed, Summarize
from tiermem.long_term import Delete, Insert
from tiermem.medium_term import MediumTerm

COUNTER = TiktokenCounter("cl100k_base")

# a chat as people write it: most sentences are greetings, thanks and praise
CHAT = [
    ("Caroline", "Hey Melanie! How have you been?"),
    ("Melanie", "Hey Caroline! Good to see you!"),
    ("Caroline", "Thanks, Mel! I adopted a beagle called Rufus from the Riverside shelter."),
    ("Melanie", "Wow, Caroline! That's awesome!"),
    ("Melanie", "Thanks Mel! I ran the Boston marathon on 17 April in 3 hours 52 minutes."),
    ("Caroline", "Wow, amazing, Melanie! Totally agree."),
    ("Caroline", "Thanks, Melanie!"),
    ("Melanie", "My pottery class moves to Thursday evenings next month."),
    ("Caroline", "Cool, Mel!"),
    ("Melanie", "Thanks, Caroline!"),
]
FACTS = ("Rufus", "Boston marathon", "Thursday evenings")
PLEASANTRIES = ("Hey Melanie", "Hey Caroline", "That's awesome", "Totally agree",
                "Cool, Mel", "Thanks, Caroline!")  # fmt: skip


def turns(chat: list[tuple[str, str]], session: str = "s") -> list[MemoryRecord]:
    return [
        MemoryRecord(
            id=f"t{i}",
            kind=Kind.TURN,
            text=text,
            timestamp=BASE + timedelta(minutes=i),
            role="user" if speaker == chat[0][0] else "assistant",
            session_id=session,
            seq=i,
            metadata={"name": speaker},
        )
        for i, (speaker, text) in enumerate(chat)
    ]


def summarize(records: list[MemoryRecord], max_tokens: int) -> str:
    return ExtractiveSummarizer().summarize(records, max_tokens=max_tokens, token_counter=COUNTER)


def test_a_summary_keeps_the_facts_and_drops_the_pleasantries() -> None:
    summary = summarize(turns(CHAT), max_tokens=200)
    for fact in FACTS:
        assert fact in summary
    for pleasantry in PLEASANTRIES:
        assert pleasantry not in summary
    # with nothing more to say, it is shorter than its budget rather than padded
    assert COUNTER.count(summary) < 100
    lines = summary.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Caroline: I adopted a beagle called Rufus")


@pytest.mark.parametrize("budget", [30, 45, 60])
def test_a_tight_budget_keeps_the_facts_first(budget: int) -> None:
    summary = summarize(turns(CHAT), max_tokens=budget)
    assert summary
    assert COUNTER.count(summary) <= budget
    assert not any(p in summary for p in PLEASANTRIES)


def test_only_pleasantries_make_an_empty_summary() -> None:
    chat = [(s, t) for s, t in CHAT if not any(f in t for f in ("Rufus", "Boston", "pottery"))]
    assert summarize(turns(chat), max_tokens=200) == ""


def test_a_repeated_fact_is_kept_once() -> None:
    chat = [
        ("Ana", "I booked the ferry to Faro for Friday at 9."),
        ("Ben", "You booked the ferry to Faro for Friday at 9?"),
        ("Ana", "Yes, the ferry to Faro on Friday at 9."),
        ("Ben", "Then I will bring the bikes and the tent."),
    ]
    summary = summarize(turns(chat), max_tokens=200)
    assert summary.count("Faro") == 1
    assert "bikes and the tent" in summary


def test_names_other_than_the_speakers_are_information() -> None:
    # "Hey Ben!" names a participant; "Matt Patterson" is someone they talk about
    chat = [("Ana", "Hey Ben!"), ("Ben", "It was Matt Patterson, he sang."), ("Ana", "Nice, Ben.")]
    assert summarize(turns(chat), max_tokens=200) == "Ben: It was Matt Patterson, he sang."


def test_merging_summaries_keeps_each_line_with_its_speaker() -> None:
    first = summarize(turns(CHAT[:5]), max_tokens=200)
    second = summarize(turns(CHAT[5:]), max_tokens=200)
    summaries = [
        MemoryRecord(id=f"s{i}", kind=Kind.SUMMARY, text=text, timestamp=BASE, session_id="s")
        for i, text in enumerate((first, second))
    ]
    merged = summarize(summaries, max_tokens=200)
    assert merged.splitlines() == [*first.splitlines(), *second.splitlines()]
    assert "summary:" not in merged


def _turns(count: int, tokens: int = 40, first: int = 0) -> list[MemoryRecord]:
    return [MemoryRecord(id=f"p{i}", kind=Kind.TURN, text=f"Melanie ran {i} marathons.",
                         timestamp=BASE, seq=i, session_id="s", tokens=tokens)
            for i in range(first, first + count)]  # fmt: skip


def _medium(**config: int) -> MediumTerm:
    return MediumTerm(MediumTermConfig(**config), COUNTER, threading.RLock())


def test_pending_turns_fold_once_they_reach_the_trigger() -> None:
    medium = _medium(trigger_tokens=120)
    assert medium.admit(_turns(2)) == []  # 80 tokens pending: not yet
    folds = medium.admit(_turns(1, first=2))
    assert [[r.seq for r in fold] for fold in folds] == [[0, 1, 2]]
    assert medium.pending == []


def test_a_restored_session_holds_its_evicted_turns_without_folding() -> None:
    medium = _medium(trigger_tokens=40)
    medium.hold(_turns(3))
    assert [r.seq for r in medium.pending] == [0, 1, 2]
    assert [r.seq for f in medium.admit(_turns(1, first=3)) for r in f] == [0, 1, 2, 3]


def test_a_disabled_tier_never_holds_anything() -> None:
    medium = MediumTerm(MediumTermConfig(enabled=False), COUNTER, threading.RLock())
    assert medium.admit(_turns(50)) == []
    assert medium.pending == []


def _absorbed(medium: MediumTerm, folds: list[list[MemoryRecord]]) -> list[Effect[Any]]:
    """Drive `absorb` by hand (it is sans-I/O): summaries are the folds' first texts."""
    flow = medium.absorb(folds, lambda event: None)
    asked: list[Effect[Any]] = []
    result: Any = None
    while True:
        try:
            effect = flow.send(result)
        except StopIteration:
            return asked
        asked.append(effect)
        if isinstance(effect, Summarize):
            result = f"summary of {len(effect.records)}"
        elif isinstance(effect, Embed):
            result = np.zeros((len(effect.texts), 4), dtype=np.float32)
        else:
            result = None


def test_absorb_summarises_each_fold_and_merges_the_oldest_past_the_limit() -> None:
    medium = _medium(max_summaries=2)
    asked = _absorbed(medium, [_turns(2), _turns(2, first=2), _turns(2, first=4)])
    # three folds, then the two oldest summaries merged into one: four summaries asked
    assert sum(isinstance(e, Summarize) for e in asked) == 4
    assert len(medium.summaries) == 2
    merged = medium.summaries[0]
    assert merged.covered_seqs == range(0, 4)
    assert medium.summaries[1].covers == ("p4", "p5")
    # insert before delete: a crash between them leaves a duplicate, never a gap
    inserts = [e for e in asked if isinstance(e, Insert)]
    assert len(inserts) == 1
    assert {r.id for r in inserts[0].records} == {s.id for s in medium.summaries}
    assert not any(isinstance(e, Delete) for e in asked)  # merged away before being stored
    assert all(s.tokens > 0 for s in medium.summaries)
