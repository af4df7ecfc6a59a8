"""Bad input gets an error naming the argument and the rule, and the store is unchanged."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from tiermem import InvalidInputError, MessageTooLargeError, TieredMemory


def snapshot(mem: TieredMemory) -> tuple[int, int, int, list[str]]:
    stats = mem.stats()
    hits = mem.search("lisbon", k=50)
    return stats["turns"], stats["memories"], stats["summaries"], sorted(h.record.id for h in hits)


BAD_CALLS: list[tuple[str, Callable[[TieredMemory], Any], str]] = [
    ("empty content", lambda m: m.add_message("user", "   "), "content"),
    ("non-string content", lambda m: m.add_message("user", 42), "content"),
    ("NUL in content", lambda m: m.add_message("user", "a\x00b"), "content"),
    ("lone surrogate", lambda m: m.add_message("user", "a\ud800b"), "content"),
    ("unknown role", lambda m: m.add_message("wizard", "hi"), "role"),
    ("tool turn without call id", lambda m: m.add_message("tool", "42"), "metadata"),
    ("metadata not JSON", lambda m: m.add_message("user", "hi", metadata={"x": object()}),
     "metadata"),
    ("metadata with NaN", lambda m: m.add_message("user", "hi", metadata={"x": math.nan}),
     "metadata"),
    ("metadata key not a string", lambda m: m.add_message("user", "hi", metadata={1: "a"}),
     "metadata"),
    ("nested metadata key not a string",
     lambda m: m.remember("hi", metadata={"a": [{"b": {2: "c"}}]}), "metadata"),
    ("metadata over its size limit",
     lambda m: m.add_message("user", "hi", metadata={"blob": "x" * 300_000}), "metadata"),
    ("timestamp not a time", lambda m: m.add_message("user", "hi", timestamp="May"),
     "timestamp"),
    ("infinite timestamp", lambda m: m.add_message("user", "hi", timestamp=math.inf),
     "timestamp"),
    ("session id not a string", lambda m: m.add_message("user", "hi", session_id=3),
     "session_id"),
    ("empty user id", lambda m: m.add_message("user", "hi", user_id=""), "user_id"),
    ("importance above 1", lambda m: m.remember("x", importance=1.5), "importance"),
    ("importance NaN", lambda m: m.remember("x", importance=math.nan), "importance"),
    ("importance not a number", lambda m: m.remember("x", importance="high"), "importance"),
    ("tags a string", lambda m: m.remember("x", tags="pref"), "tags"),
    ("max_tokens zero", lambda m: m.build_context("q", max_tokens=0), "max_tokens"),
    ("max_tokens negative", lambda m: m.build_context("q", max_tokens=-5), "max_tokens"),
    ("max_tokens float", lambda m: m.build_context("q", max_tokens=10.5), "max_tokens"),
    ("k zero", lambda m: m.search("q", k=0), "k"),
    ("empty query", lambda m: m.search(""), "query"),
    ("update with bad importance", lambda m: m.update("abc", importance=2), "importance"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "call", "argument"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_rejected_with_named_argument_and_store_unchanged(
    mem: TieredMemory, case: str, call: Callable[[TieredMemory], Any], argument: str
) -> None:
    mem.add_message("user", "I moved to Lisbon", session_id="default")
    mem.remember("Lisbon is home", user_id="u1")
    before = snapshot(mem)
    with pytest.raises(InvalidInputError) as info:
        call(mem)
    assert info.value.argument == argument
    assert str(info.value).startswith(f"{argument}: ")
    assert isinstance(info.value, ValueError)
    assert snapshot(mem) == before


def test_message_larger_than_the_whole_budget(mem: TieredMemory) -> None:
    before = snapshot(mem)
    huge = "word " * (mem.config.context.max_tokens + 10)
    with pytest.raises(MessageTooLargeError, match=r"content: has .* tokens"):
        mem.add_message("user", huge)
    with pytest.raises(MessageTooLargeError, match="text"):
        mem.remember(huge)
    assert snapshot(mem) == before


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda m: m.add_message("w" * 1_000_000, "hi"), "role"),
        (lambda m: m.search("q", k=_nested(5_000)), "k"),
        (lambda m: list(m.export_records(batch_size=[_nested(5_000)] * 3)), "batch_size"),
    ],
    ids=["a megabyte role", "a deep k", "a deep batch size"],
)
def test_errors_show_a_bounded_preview_of_the_bad_value(
    mem: TieredMemory, call: Callable[[TieredMemory], Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call(mem)
    assert caught.value.argument == argument
    assert len(str(caught.value)) < 300
