"""The memory message: one dated heading per day, and prices that match the real count."""

from __future__ import annotations

import random
from datetime import timedelta

from helpers import BASE
from tiermem.context import (
    Tier,
    exact_tokens,
    fit,
    memory_candidate,
    memory_lines,
    memory_section_cost,
    pack,
    render,
)
from tiermem.records import Kind, MemoryRecord
from tiermem.tokens import TiktokenCounter

COUNTER = TiktokenCounter("cl100k_base")
WORDS = "we went hiking near Porto last weekend and my dog Biscuit loved it so much café".split()


def said(seq: int, text: str, *, minutes: float = 0, name: str = "Ann",
         kind: Kind = Kind.TURN, covers: tuple[str, ...] = ()) -> MemoryRecord:  # fmt: skip
    return MemoryRecord(id=f"r{seq}", kind=kind, text=text, role="user", session_id="s",
                        seq=seq, timestamp=BASE + timedelta(minutes=minutes),
                        metadata={"name": name}, covers=covers)  # fmt: skip


def test_a_day_whose_lines_share_a_time_says_it_once() -> None:
    lines = memory_lines([said(2, "Lovely!", name="Bob"), said(1, "I adopted a corgi.")])
    assert lines == ["[2024-05-01 12:00]", "Ann: I adopted a corgi.", "Bob: Lovely!"]


def test_a_day_with_several_times_puts_the_time_on_each_line() -> None:
    lines = memory_lines([said(1, "Morning run done."), said(2, "Lunch?", minutes=95),
                          said(3, "Back home.", minutes=60 * 24 * 3)])  # fmt: skip
    assert lines == [
        "[2024-05-01]", "12:00 Ann: Morning run done.", "13:35 Ann: Lunch?",
        "[2024-05-04 12:00]", "Ann: Back home.",
    ]  # fmt: skip


def test_summaries_and_memories_stay_marked() -> None:
    summary = said(1, "Ann got a dog.\nShe named it Biscuit.", kind=Kind.SUMMARY,
                   covers=("a", "b", "c"))  # fmt: skip
    memory = said(2, "Prefers tea", kind=Kind.MEMORY)
    assert memory_lines([summary, memory])[1:] == [
        "summary of 3 earlier turns: Ann got a dog. / She named it Biscuit.",
        "memory: Prefers tea",
    ]


def test_the_packer_prices_lines_as_they_are_rendered() -> None:
    rng = random.Random(7)
    records = [
        said(i, " ".join(rng.choices(WORDS, k=rng.randint(3, 30))) + rng.choice(".?!"),
             minutes=rng.choice((0, 0, 0, 7, 60 * 24, 60 * 24 * 9)), name=rng.choice("AB"))
        for i in range(200)
    ]  # fmt: skip
    candidates = [
        memory_candidate(r, tier=Tier.LONG_TERM, score=rng.random(), parts=None,
                         count=COUNTER.count)
        for r in records
    ]  # fmt: skip
    exact = 0
    for _ in range(100):
        budget = rng.randint(30, 3000)
        packing = pack(candidates=rng.sample(candidates, 60), budget=budget, pinned_budget=0,
                       section_costs={"memory": memory_section_cost(COUNTER)})  # fmt: skip
        counted = exact_tokens(COUNTER, render(packing.kept))
        assert counted <= budget
        exact += counted == packing.tokens
        context = fit(packing.decisions, budget=budget, counter=COUNTER)
        assert context.token_count <= budget
    # BPE may merge across a line break now and then; the price is exact almost always
    assert exact >= 95
