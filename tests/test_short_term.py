"""The short-term window evicts whole turns, oldest first, tool calls with their results."""

from __future__ import annotations

from helpers import turn
from tiermem.short_term import ShortTermWindow, group_units


def test_evicts_whole_oldest_turns_to_stay_within_bound() -> None:
    window = ShortTermWindow(max_tokens=30)
    evicted = [r.seq for i in range(6) for r in window.append(turn(i, tokens=10))]
    assert evicted == [0, 1, 2]
    assert [r.seq for r in window] == [3, 4, 5]
    assert window.tokens == 30


def test_newest_turn_stays_even_when_alone_over_the_bound() -> None:
    window = ShortTermWindow(max_tokens=30)
    window.append(turn(0, tokens=10))
    evicted = window.append(turn(1, tokens=50))
    assert [r.seq for r in evicted] == [0]
    assert [r.seq for r in window] == [1]


def test_tool_call_and_its_results_leave_together() -> None:
    call = turn(1, "calling", role="assistant", tokens=10,
                metadata={"tool_calls": [{"id": "c1"}, {"id": "c2"}]})  # fmt: skip
    window = ShortTermWindow(max_tokens=45)
    window.append(turn(0, tokens=10))
    window.append(call)
    window.append(turn(2, "r1", role="tool", tokens=10, metadata={"tool_call_id": "c1"}))
    window.append(turn(3, "r2", role="tool", tokens=10, metadata={"tool_call_id": "c2"}))
    assert [r.seq for r in window] == [0, 1, 2, 3]  # 40 tokens: within 45
    evicted = window.append(turn(4, tokens=10))  # 50: must evict
    assert [r.seq for r in evicted] == [0]
    evicted = window.append(turn(5, tokens=10))  # 50 again: the whole tool exchange goes
    assert [r.seq for r in evicted] == [1, 2, 3]
    assert [r.seq for r in window] == [4, 5]


def test_group_units_matches_the_window() -> None:
    records = [
        turn(0),
        turn(1, role="assistant", metadata={"tool_calls": [{"id": "a"}]}),
        turn(2, role="tool", metadata={"tool_call_id": "a"}),
        turn(3, role="assistant"),
    ]
    assert [[r.seq for r in u] for u in group_units(records)] == [[0], [1, 2], [3]]


def test_remove_and_replace_keep_token_total_right() -> None:
    window = ShortTermWindow(max_tokens=100)
    for i in range(3):
        window.append(turn(i, tokens=10))
    assert window.remove("t0001")
    assert not window.remove("missing")
    assert window.tokens == 20
    window.replace(turn(2, "longer", tokens=25))
    assert window.tokens == 35
