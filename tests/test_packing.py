"""The packer is pure: candidates and a budget in, decisions out."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from helpers import turn
from tiermem.context import Candidate, Heading, Packing, Tier, pack
from tiermem.records import COVERS_SEQ, Kind, MemoryRecord


def cand(key: int, tokens: int, score: float, *, pinned: bool = False,
         tier: Tier = Tier.LONG_TERM) -> Candidate:  # fmt: skip
    return Candidate(key=str(key), tier=tier, records=(turn(key),), tokens=tokens,
                     score=score, pinned=pinned)  # fmt: skip


def test_best_first_and_skips_what_does_not_fit() -> None:
    packing = pack(
        candidates=[cand(1, 50, 0.9), cand(2, 60, 0.8), cand(3, 30, 0.1)],
        budget=100,
        pinned_budget=0,
        section_costs={},
        base_cost=0,
    )
    assert [c.key for c in packing.kept] == ["1", "3"]
    left = [d for d in packing.decisions if not d.kept]
    assert [d.candidate.key for d in left] == ["2"]
    assert "over budget" in left[0].reason
    assert packing.tokens == 80


def test_pinned_newest_first_within_their_share_then_by_score() -> None:
    recent = [cand(i, 20, 0.0, pinned=True, tier=Tier.SHORT_TERM) for i in (9, 8, 7)]
    packing = pack(
        candidates=[*recent, cand(1, 30, 0.9)],
        budget=100,
        pinned_budget=40,
        section_costs={},
        base_cost=0,
    )
    reasons = {d.candidate.key: d.reason for d in packing.decisions if d.kept}
    assert reasons["9"] == "newest turn"
    assert reasons["8"] == "recent turn"
    assert reasons["1"].startswith("rank 1")  # the relevant memory beats the third recent turn
    assert packing.tokens == 90  # and the third recent turn still fits after it


def test_newest_turn_is_left_when_the_whole_budget_cannot_hold_it() -> None:
    packing = pack(
        candidates=[cand(9, 200, 0.0, pinned=True, tier=Tier.SHORT_TERM), cand(1, 10, 0.5)],
        budget=100,
        pinned_budget=50,
        section_costs={},
    )
    assert [c.key for c in packing.kept] == ["1"]


def test_section_and_base_costs_are_paid_once() -> None:
    packing = pack(
        candidates=[cand(1, 10, 0.9), cand(2, 10, 0.8)],
        budget=100,
        pinned_budget=0,
        section_costs={"memory": 7},
        base_cost=3,
    )
    assert packing.tokens == 10 + 10 + 7 + 3


@given(
    st.lists(st.tuples(st.integers(1, 300), st.floats(0, 1), st.booleans()), max_size=40),
    st.integers(1, 2000),
    st.floats(0, 1),
)
def test_never_over_budget_and_every_candidate_decided(
    items: list[tuple[int, float, bool]], budget: int, share: float
) -> None:
    candidates = [
        cand(i, tokens, score, pinned=pinned, tier=Tier.SHORT_TERM if pinned else Tier.LONG_TERM)
        for i, (tokens, score, pinned) in enumerate(items)
    ]
    packing = pack(
        candidates=candidates,
        budget=budget,
        pinned_budget=int(budget * share),
        section_costs={"memory": 5, "recent": 0},
    )
    assert packing.tokens <= budget
    assert sorted(d.candidate.key for d in packing.decisions) == sorted(c.key for c in candidates)


def test_token_exponent_puts_a_short_relevant_turn_first() -> None:
    long_one, short_one = cand(1, 90, 0.9), cand(2, 20, 0.8)
    by_score = pack(candidates=[long_one, short_one], budget=100, pinned_budget=0,
                    section_costs={}, base_cost=0)  # fmt: skip
    by_value = pack(candidates=[long_one, short_one], budget=100, pinned_budget=0,
                    section_costs={}, base_cost=0, token_exponent=1.0)  # fmt: skip
    assert [c.key for c in by_score.kept] == ["1"]
    assert [c.key for c in by_value.kept] == ["2"]


def dated(key: int, tokens: int, score: float, day: str, time: str, *,
          line_time: int = 3) -> Candidate:  # fmt: skip
    heading = Heading(day=day, tokens=8, time=time, time_tokens=4, line_time_tokens=line_time)
    return Candidate(key=str(key), tier=Tier.LONG_TERM, records=(turn(key),), tokens=tokens,
                     score=score, heading=heading)  # fmt: skip


def pack_lines(*candidates: Candidate, budget: int = 100) -> Packing:
    return pack(candidates=candidates, budget=budget, pinned_budget=0, section_costs={},
                base_cost=0)  # fmt: skip


def test_a_day_heading_is_paid_once_with_its_shared_time() -> None:
    first = dated(1, 10, 0.9, "2023-05-08", "13:56")
    second = dated(2, 10, 0.8, "2023-05-08", "13:56")
    assert pack_lines(first, second).tokens == 10 + 10 + 8 + 4


def test_a_second_time_in_a_day_moves_every_time_onto_its_line() -> None:
    first = dated(1, 10, 0.9, "2023-05-08", "13:56")
    later = dated(2, 10, 0.8, "2023-05-08", "18:30")
    # the heading loses its time; both lines gain theirs
    assert pack_lines(first, later).tokens == 10 + 10 + 8 + 3 + 3


def test_each_day_pays_its_own_heading() -> None:
    first = dated(1, 10, 0.9, "2023-05-08", "13:56")
    other = dated(2, 10, 0.8, "2023-06-20", "10:05")
    assert pack_lines(first, other).tokens == 2 * (10 + 8 + 4)


def test_what_a_heading_adds_can_leave_a_line_out() -> None:
    first = dated(1, 10, 0.9, "2023-05-08", "13:56")
    other_day = dated(3, 10, 0.7, "2023-06-20", "10:05")
    same_day = dated(2, 10, 0.6, "2023-05-08", "13:56")
    packing = pack_lines(first, other_day, same_day, budget=32)
    # 22 for the first line and its heading; the other day needs 22 more, its neighbour 10
    assert [c.key for c in packing.kept] == ["1", "2"]
    left = next(d for d in packing.decisions if not d.kept)
    assert left.candidate.key == "3"
    assert "needs 22" in left.reason


def _day_costs(kept: list[Candidate]) -> int:
    """What the kept lines' headings cost, computed from scratch."""
    total = 0
    for day in {c.heading.day for c in kept if c.heading}:
        members = [c.heading for c in kept if c.heading and c.heading.day == day]
        if len({h.time for h in members}) == 1:
            total += members[0].tokens + members[0].time_tokens
        else:
            total += members[0].tokens + sum(h.line_time_tokens for h in members)
    return total


LINE = st.tuples(st.integers(1, 120), st.floats(0, 1), st.integers(0, 3), st.integers(0, 2),
                 st.integers(1, 4))  # fmt: skip


@given(st.lists(LINE, max_size=40), st.integers(1, 1500))
def test_heading_costs_add_up_and_stay_in_budget(
    items: list[tuple[int, float, int, int, int]], budget: int
) -> None:
    candidates = [
        dated(i, tokens, score, f"2023-05-0{day + 1}", f"1{time}:00", line_time=line_time)
        for i, (tokens, score, day, time, line_time) in enumerate(items)
    ]
    packing = pack(candidates=candidates, budget=budget, pinned_budget=0,
                   section_costs={"memory": 5}, base_cost=3)  # fmt: skip
    kept = packing.kept
    expected = sum(c.tokens for c in kept) + _day_costs(kept) + (5 + 3 if kept else 0)
    assert packing.tokens == expected
    assert packing.tokens <= budget


def summary_cand(key: str, tokens: int, score: float, covers: range) -> Candidate:
    record = MemoryRecord(
        id=key, kind=Kind.SUMMARY, text="Ann adopted a dog.", timestamp=turn(covers[-1]).timestamp,
        session_id="s", seq=covers[-1], metadata={COVERS_SEQ: [covers[0], covers[-1]]},
    )  # fmt: skip
    return Candidate(key=key, tier=Tier.MEDIUM_TERM, records=(record,), tokens=tokens, score=score)


def test_a_summary_gives_way_to_the_relevant_turns_it_covers() -> None:
    # the summary outranks the second relevant turn; kept first, it would crowd it out
    candidates = [cand(1, 20, 0.9), summary_cand("S", 60, 0.8, range(0, 6)), cand(2, 20, 0.5),
                  cand(3, 20, 0.4), cand(40, 20, 0.3)]  # fmt: skip
    packing = pack(candidates=candidates, budget=85, pinned_budget=0, section_costs={},
                   base_cost=0)  # fmt: skip
    assert [c.key for c in packing.kept] == ["1", "2", "3", "40"]
    reasons = {d.candidate.key: d.reason for d in packing.decisions}
    assert reasons["S"] == "covered: its 3 relevant turns are kept verbatim"
    # decided after the last turn it covers, not at its own rank
    assert [d.candidate.key for d in packing.decisions].index("S") == 3


def test_a_summary_stands_for_covered_turns_that_do_not_fit() -> None:
    candidates = [cand(1, 20, 0.9), summary_cand("S", 30, 0.8, range(0, 6)), cand(2, 90, 0.5)]
    packing = pack(candidates=candidates, budget=60, pinned_budget=0, section_costs={},
                   base_cost=0)  # fmt: skip
    assert [c.key for c in packing.kept] == ["1", "S"]
    reasons = {d.candidate.key: d.reason for d in packing.decisions}
    assert reasons["2"].startswith("over budget")
    assert reasons["S"] == "rank 2 by score 0.800, stands for 1 covered turns left out"


def test_a_summary_of_another_session_covers_nothing_here() -> None:
    other = dataclasses.replace(turn(1), session_id="elsewhere")
    candidates = [
        Candidate(key="1", tier=Tier.LONG_TERM, records=(other,), tokens=20, score=0.9),
        summary_cand("S", 30, 0.8, range(0, 6)),
    ]
    packing = pack(candidates=candidates, budget=60, pinned_budget=0, section_costs={},
                   base_cost=0)  # fmt: skip
    assert [d.reason for d in packing.decisions] == ["rank 1 by score 0.900",
                                                    "rank 2 by score 0.800"]  # fmt: skip


def test_turns_pinned_by_their_user_go_right_after_the_newest() -> None:
    recent = [cand(i, 20, 0.0, pinned=True, tier=Tier.SHORT_TERM) for i in (9, 8)]
    held = dataclasses.replace(cand(3, 30, 0.0), held=True)  # evicted long ago, score 0
    too_big = dataclasses.replace(cand(2, 500, 0.0), held=True)
    packing = pack(
        candidates=[*recent, cand(1, 30, 0.9), held, too_big],
        budget=100,
        pinned_budget=40,
        section_costs={},
        base_cost=0,
    )
    order = [(d.candidate.key, d.reason) for d in packing.decisions]
    assert order[:3] == [("9", "newest turn"), ("3", "pinned by user"), ("8", "recent turn")]
    assert [c.key for c in packing.kept] == ["9", "3", "8", "1"]  # recent share kept too
    left = {d.candidate.key: d.reason for d in packing.decisions if not d.kept}
    assert left["2"].startswith("over budget")


def test_a_newest_turn_its_user_pinned_says_both() -> None:
    newest = dataclasses.replace(cand(9, 20, 0.0, pinned=True, tier=Tier.SHORT_TERM), held=True)
    packing = pack(candidates=[newest], budget=100, pinned_budget=0, section_costs={})
    assert packing.decisions[0].reason == "newest turn, pinned by user"
