"""Hostile values and the harness shared by the fuzzing and isolation tests.

Strategies for arbitrary unicode, control characters, huge strings, NaN and
infinities, values of the wrong type and filter-syntax injections; a store seeded
with a little of everything; a snapshot of everything a call could change; and a
runner that calls a public method by name, sync or async.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tiermem import (
    InvalidInputError,
    MemoryConfig,
    MessageTooLargeError,
    NotFoundError,
    TieredMemory,
)
from tiermem.records import Kind, MemoryRecord

#: The only errors bad input may raise: each names the argument and the rule it broke.
ALLOWED = (InvalidInputError, MessageTooLargeError, NotFoundError)
EXAMPLES = int(os.environ.get("TIERMEM_FUZZ_EXAMPLES", "60"))
# CI replays the same examples every run (no flaky red builds); locally they vary, and
# TIERMEM_FUZZ_EXAMPLES raises the count for a longer hunt
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CONFIG = MemoryConfig(
    tokenizer="cl100k_base",
    short_term={"max_tokens": 120},
    medium_term={"trigger_tokens": 80, "summary_tokens": 60, "max_summaries": 3},
    long_term={"optimize_every": None},
)
DIMENSIONS = 256  # the default embedder's

# --- values ------------------------------------------------------------------------

INJECTIONS = [
    "' OR '1'='1", "') OR (1=1", "x' OR user_key IS NOT NULL OR 'a'='a", "' --", "/*", "*/",
    "%", "_", "*", "?", "\\", "\\'", '"', "`", ";", "NULL", "true", "1=1", "user_key",
    "array_has_any(tag_keys, ['x'])", "kind IN ('turn')", "'; DROP TABLE records; --",
    "text:zebra OR user_id:*", "$where", "${jndi:x}", "{{7*7}}", "\u202e\u200b\ufeff",
]  # fmt: skip
control = st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x85\u2028\u2029\u200b")
surrogate = st.characters(categories=["Cs"])
any_char = st.characters(exclude_categories=()) | control
text_any = st.text(any_char, max_size=40) | st.text(st.characters() | control, max_size=40)
huge = st.builds(lambda s, n: s * n, st.text(any_char, min_size=1, max_size=4),
                 st.integers(2_000, 60_000))  # fmt: skip
injection = st.sampled_from(INJECTIONS) | st.builds(
    lambda a, b: a + b, st.sampled_from(INJECTIONS), st.sampled_from(INJECTIONS)
)
hostile_text = text_any | huge | injection | st.text(surrogate, min_size=1, max_size=3)
numbers = (
    st.integers(-(2**70), 2**70) | st.sampled_from([10**400, -(10**400)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, True, False])
    | st.decimals(allow_nan=True) | st.fractions() | st.complex_numbers(max_magnitude=10)
    | st.builds(np.float32, st.floats(width=32)) | st.builds(np.int64, st.integers(-9, 2**40))
)  # fmt: skip
scalars = st.none() | st.booleans() | numbers | text_any | st.binary(max_size=10)


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text_any,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text_any, inner, max_size=3),
    max_leaves=8,
)
hostile_json = (
    json_value | huge | st.builds(_deep, st.sampled_from([63, 64, 65, 1_200, 5_000]))
    | st.dictionaries(st.text(surrogate, min_size=1, max_size=2), st.integers(), min_size=1)
)  # fmt: skip
wrong = (
    scalars | st.lists(scalars, max_size=4) | st.tuples(scalars, scalars)
    | st.dictionaries(text_any, scalars, max_size=3) | st.sets(st.integers(), max_size=3)
    | st.builds(object) | st.builds(bytearray, st.binary(max_size=5))
    | st.builds(np.array, st.lists(st.integers())) | st.just(iter(()))
    | st.dictionaries(text_any, hostile_json, max_size=2)
)  # fmt: skip
zones = (
    st.none()
    | st.timezones()
    | st.builds(
        timezone, st.timedeltas(timedelta(hours=-23, minutes=59), timedelta(hours=23, minutes=59))
    )
)
# any datetime at all: the edges of the calendar, shifted out of it by their UTC offset
datetimes = st.datetimes(timezones=cast(Any, zones)) | st.sampled_from([
    datetime.min, datetime.max, datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=20))),
    datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-20))),
    datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC),
])  # fmt: skip

valid_id = st.sampled_from(["u1", "u2", "s1", "agent-7", "ümlaut-東京"])
valid_text = st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=60)
valid: dict[str, st.SearchStrategy[Any]] = {
    "role": st.sampled_from(["user", "assistant", "system"]),
    "content": valid_text | text_any | huge, "text": valid_text | text_any,
    "query": valid_text | text_any | huge,
    "session_id": valid_id, "user_id": valid_id | st.none(), "agent_id": valid_id | st.none(),
    "timestamp": st.none() | datetimes | st.floats(-7e10, 2.6e11),
    "metadata": st.none() | st.dictionaries(st.text(max_size=8), json_value, max_size=3),
    "importance": st.floats(0, 1), "tags": st.lists(valid_id, max_size=3),
    "k": st.integers(1, 50), "max_tokens": st.integers(1, 3_000) | st.just(2_000_000),
    "kinds": st.lists(st.sampled_from(["turn", "memory", "summary"]), max_size=3),
    "batch_size": st.integers(1, 7),
}  # fmt: skip
spoiler = hostile_text | wrong | numbers | datetimes


@st.composite
def call_args(draw: st.DrawFn, names: list[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Valid arguments (some left out, for the defaults), then zero to two spoiled.

    Mostly valid calls get past the first check to the next ones, and into the store.
    """
    kwargs = {n: draw(valid[n]) for n in names if n in required or draw(st.booleans())}
    for n in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        kwargs[n] = draw(spoiler)
    return kwargs


message = st.one_of(
    call_args(["role", "content", "timestamp", "metadata"], ("role", "content")),
    call_args(["role", "content", "timestamp", "metadata"], ("role", "content")),
    st.dictionaries(text_any, wrong, max_size=3),
    wrong,
)
messages: st.SearchStrategy[Any] = (
    st.lists(message, max_size=4) | st.tuples(message) | st.just([]) | st.just(()) | wrong
)


def has_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_surrogate(v) for v in value)
    return False


# --- records to import -------------------------------------------------------------

_RECORD_FIELDS = [f.name for f in dataclasses.fields(MemoryRecord)]


def _unit(seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    vector = np.random.default_rng(seed).standard_normal(DIMENSIONS).astype(np.float32)
    return vector / np.linalg.norm(vector)


@st.composite
def import_item(draw: st.DrawFn) -> Any:
    """A (record, vector) pair as an export holds it, perhaps with a field or two spoiled."""
    kind = draw(st.sampled_from(list(Kind)))
    record = MemoryRecord(
        id=draw(st.just(uuid.uuid4().hex) | st.sampled_from(["abc123", "A" * 64])),
        kind=kind, text=draw(valid_text), timestamp=datetime(2024, 5, 1, tzinfo=UTC),
        role="user" if kind is Kind.TURN else None,
        session_id="s1" if kind is Kind.TURN else draw(st.none() | valid_id),
        user_id=draw(valid["user_id"]), seq=draw(st.integers(-1, 10**6)),
        importance=draw(valid["importance"]), tags=tuple(draw(valid["tags"])),
        metadata=draw(valid["metadata"]) or {}, tokens=draw(st.integers(0, 500)),
    )  # fmt: skip
    spoilt = draw(st.lists(st.sampled_from(_RECORD_FIELDS), max_size=2, unique=True))
    fields = {name: draw(spoiler | st.just(None)) for name in spoilt}
    record = dataclasses.replace(record, **fields)
    vector: Any = _unit(draw(st.integers(0, 2**32 - 1)))
    if draw(st.integers(0, 9)) == 0:
        vector = draw(wrong | st.just(vector[:-1]) | st.just(np.full(DIMENSIONS, np.nan)))
    pair: Any = (record, vector)
    return draw(st.just(pair) | st.just([record, vector])) if draw(st.booleans()) else pair


import_items: st.SearchStrategy[Any] = (
    st.lists(import_item() | wrong | st.tuples(import_item()), max_size=3) | wrong
)

# --- the store and its state -------------------------------------------------------


def seeded() -> tuple[TieredMemory, list[str]]:
    """A store with turns (and a summary of the evicted ones), a memory, another scope."""
    mem = TieredMemory("memory://", config=CONFIG)
    ids = []
    for i in range(10):
        ids.append(mem.add_message("user", f"turn {i} about zebra crossings in Lisbon",
                                   session_id="s1", user_id="u1").id)  # fmt: skip
    ids.append(mem.remember("Likes zebras", user_id="u1", tags=["pref"]).id)
    ids.append(mem.add_message("assistant", "noted", session_id="s2", agent_id="agent-7").id)
    return mem, ids


def snapshot(mem: TieredMemory) -> tuple[Any, ...]:
    """Everything a call could change: every row with its vector, and the tiers."""
    rows = sorted(
        (r.id, r.kind, r.text, r.role, r.session_id, r.user_id, r.agent_id, r.seq,
         r.importance, r.tags, repr(r.metadata), r.covers, r.tokens, r.timestamp, v.tobytes())
        for r, v in mem.export_records()
    )  # fmt: skip
    stats = mem.stats()
    return tuple(rows), repr(stats["sessions"])


class Runner:
    """Calls a method by name, sync or async (one event loop for the whole test).

    An export is read to its end, so that its pages are fetched within the call.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __call__(self, mem: TieredMemory, name: str, use_async: bool, kwargs: Any) -> Any:
        if use_async:
            method: Callable[..., Any] = getattr(mem, "a" + name)
            if name == "export_records":
                return self.loop.run_until_complete(_drain(method(**kwargs)))
            return self.loop.run_until_complete(method(**kwargs))
        result = getattr(mem, name)(**kwargs)
        return list(result) if name == "export_records" else result

    def close(self) -> None:
        self.loop.close()


async def _drain(pages: Any) -> list[Any]:
    return [item async for item in pages]
