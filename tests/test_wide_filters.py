"""A filter that keeps most of a large table is applied to the hits, never widening them."""

from __future__ import annotations

import pytest

from tiermem import MemoryConfig, TieredMemory
from tiermem import long_term as lt
from tiermem.long_term import plan

WORDS = "ferry Porto garden invoice concert dentist guitar parcel train Lisbon".split()


def _store() -> TieredMemory:
    config = MemoryConfig(long_term={"optimize_every": None, "vector_index_rows": 100})
    mem = TieredMemory("memory://", config=config)  # indexed: a "large" table
    big = [{"role": "user", "content": f"turn {i}: the {WORDS[i % 10]} and the {WORDS[i % 7]}"}
           for i in range(270)]  # fmt: skip
    # five long turns hold a rare word; a hundred short ones of another user rank above
    big += [{"role": "user", "content": f"zebra {i} " + "and the rest of a long day " * 8}
            for i in range(5)]  # fmt: skip
    mem.add_messages(big, session_id="b", user_id="big", agent_id="a")
    small = [{"role": "user", "content": f"zebra {i}"} for i in range(100)]
    mem.add_messages(small, session_id="s", user_id="small", agent_id="a")
    mem.optimize()
    return mem


@pytest.fixture
def mem(monkeypatch: pytest.MonkeyPatch) -> TieredMemory:
    monkeypatch.setattr(plan, "_FLAT_ROWS", 50)  # this table counts as large
    return _store()


def _text(mem: TieredMemory, query: str, limit: int, **scope: str) -> list[tuple[str, float]]:
    found, _ = mem._store.run(lt.Search(query, None, lt.Filter(**scope), limit))
    return [(record.user_id or "", score) for record, score in found]


def _nearest(mem: TieredMemory, query: str, limit: int, **scope: str) -> list[tuple[str, float]]:
    vector = mem.embedder.embed([query])[0]
    _, found = mem._store.run(lt.Search(None, vector, lt.Filter(**scope), limit))
    return [(record.user_id or "", distance) for record, distance in found]


def test_hits_within_a_wide_scope_are_those_of_the_filter_applied_first(
    mem: TieredMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = ["ferry to Porto", "the garden concert", "a dentist and a train"]
    after = [(_text(mem, q, 40, user_id="big"), _nearest(mem, q, 40, user_id="big"))
             for q in queries]  # fmt: skip
    monkeypatch.setattr(plan, "_POSTFILTER_SHARE", 2.0)  # never: the filter always first
    first = [(_text(mem, q, 40, user_id="big"), _nearest(mem, q, 40, user_id="big"))
             for q in queries]  # fmt: skip
    assert after == first  # the same scores in the same order (ties may swap records)
    for text, nearest in after:
        assert len(text) == len(nearest) == 40
        assert {user for user, _ in text + nearest} == {"big"}


def test_too_few_hits_passing_the_filter_fall_back_to_filtering_first(
    mem: TieredMemory,
) -> None:
    # the table's best "zebra" hits, well past what the filter-after pass asks, are
    # all the other user's: that pass finds none of big's
    assert {user for user, _ in _text(mem, "zebra", 100)} == {"small"}
    assert [user for user, _ in _text(mem, "zebra", 40, user_id="big")] == ["big"] * 5
    hits = mem.search("zebra", user_id="big", k=40)
    assert {h.record.text.split()[1] for h in hits} >= {"0", "1", "2", "3", "4"}
