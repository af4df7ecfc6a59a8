"""The packer is pure: candidates and a budget in, decisions out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helpers import turn
from tiermem.context import Candidate, Tier, pack


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
