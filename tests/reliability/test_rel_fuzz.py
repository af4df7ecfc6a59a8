"""Hostile input, property-based, over the whole public API, sync and async.

Every argument of every call gets arbitrary unicode, control characters, huge
strings, NaN/inf and values of the wrong type. Only documented errors may come out
(`InvalidInputError`, `MessageTooLargeError`, `NotFoundError`), a rejected call
leaves the store and the in-memory tiers exactly as they were, and the store stays
readable. Scope ids carrying quotes, SQL, wildcards or LanceDB filter syntax never
widen what a search or a context sees.
"""

from __future__ import annotations

import asyncio
import math
import os
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tiermem import (
    InvalidInputError,
    MemoryConfig,
    MessageTooLargeError,
    NotFoundError,
    TieredMemory,
)

ALLOWED = (InvalidInputError, MessageTooLargeError, NotFoundError)
# CI replays the same examples every run (no flaky red builds); locally they vary, and
# TIERMEM_FUZZ_EXAMPLES raises the count for a longer hunt
FUZZ = settings(
    max_examples=int(os.environ.get("TIERMEM_FUZZ_EXAMPLES", "120")),
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

# --- strategies ------------------------------------------------------------------

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
    st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, True, False])
    | st.decimals(allow_nan=True) | st.complex_numbers(max_magnitude=10)
)  # fmt: skip
scalars = st.none() | st.booleans() | numbers | text_any | st.binary(max_size=10)
wrong = (
    scalars | st.lists(scalars, max_size=4) | st.tuples(scalars, scalars)
    | st.dictionaries(text_any, scalars, max_size=3) | st.sets(st.integers(), max_size=3)
    | st.builds(object) | st.builds(bytearray, st.binary(max_size=5))
    | st.builds(np.float32, st.floats(width=32)) | st.builds(np.array, st.lists(st.integers()))
)  # fmt: skip
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text_any,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text_any, inner, max_size=3),
    max_leaves=8,
)
# aware datetimes whose UTC value stays within years 1..9999 (see the known finding)
datetimes = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1),
    timezones=cast(Any, st.none() | st.timezones() | st.builds(
        timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23)))),
)  # fmt: skip

valid_id = st.sampled_from(["u1", "u2", "s1", "agent-7", "ümlaut-東京"])
valid_text = st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=60)
valid: dict[str, st.SearchStrategy[Any]] = {
    "role": st.sampled_from(["user", "assistant", "system"]),
    "content": valid_text | text_any | huge, "text": valid_text | text_any,
    "query": valid_text | text_any | huge,
    "session_id": valid_id, "user_id": valid_id | st.none(), "agent_id": valid_id | st.none(),
    "timestamp": st.none() | datetimes | st.floats(0, 4e9),
    "metadata": st.none() | st.dictionaries(st.text(max_size=8), json_value, max_size=3),
    "importance": st.floats(0, 1), "tags": st.lists(valid_id, max_size=3),
    "k": st.integers(1, 50), "max_tokens": st.integers(1, 3_000),
}  # fmt: skip


spoiler = hostile_text | wrong | numbers


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
    st.lists(message, max_size=4) | st.tuples(message) | st.just([]) | st.just(())
)


def _has_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_surrogate(v) for v in value)
    return False


def known_finding(name: str, kwargs: dict[str, Any]) -> bool:
    """Inputs that hit a reported bug; each has its own strict xfail test below.

    Left out here so the properties keep checking everything else.
    """
    if name in {"build_context", "abuild_context"} and any(
        isinstance(kwargs.get(k), np.ndarray) for k in ("user_id", "agent_id")
    ):
        return True  # `user_id or agent_id` is evaluated before the ids are checked
    metas = [kwargs.get("metadata")]
    msgs = kwargs.get("messages")
    if "messages" in kwargs:
        if not isinstance(msgs, list | tuple):
            return True  # not iterable: TypeError instead of InvalidInputError
        metas += [m.get("metadata") for m in msgs if isinstance(m, dict)]
    if any(isinstance(m, dict) and _has_surrogate(m) for m in metas):
        return True  # lone surrogates in metadata: StoreError at insert
    importance = kwargs.get("importance")
    return isinstance(importance, int) and abs(importance) > 1e308  # OverflowError


METHODS: dict[str, st.SearchStrategy[Any]] = {
    "add_message": call_args(
        ["role", "content", "session_id", "user_id", "agent_id", "timestamp", "metadata"],
        ("role", "content"),
    ),
    "add_messages": st.builds(
        lambda base, msgs: {**base, "messages": msgs},
        call_args(["session_id", "user_id", "agent_id"]), messages,
    ),
    "remember": call_args(
        ["text", "user_id", "agent_id", "session_id", "importance", "tags", "metadata"],
        ("text",),
    ),
    "search": call_args(["query", "k", "user_id", "agent_id", "session_id", "tags"], ("query",)),
    "build_context": call_args(["query", "session_id", "user_id", "agent_id", "max_tokens"]),
    "get": st.just({}),
    "update": call_args(["text", "importance", "tags", "metadata"]),
    "forget": st.just({}),
}  # fmt: skip

# --- harness ---------------------------------------------------------------------


def seeded() -> tuple[TieredMemory, list[str]]:
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


def memory_ids(mem_ids: list[str]) -> st.SearchStrategy[Any]:
    # half known ids, half anything: one_of picks its branches about evenly
    return st.sampled_from(mem_ids) | (hostile_text | wrong | st.just("0" * 32))


class Runner:
    """Calls a method by name, sync or async (one event loop for the whole test)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __call__(self, mem: TieredMemory, name: str, use_async: bool, kwargs: Any) -> Any:
        if use_async:
            method: Callable[..., Any] = getattr(mem, "a" + name)
            return self.loop.run_until_complete(method(**kwargs))
        return getattr(mem, name)(**kwargs)

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def runner() -> Iterator[Runner]:
    r = Runner()
    yield r
    r.close()


@pytest.mark.parametrize("name", list(METHODS))
def test_hostile_arguments_only_raise_documented_errors(name: str, runner: Runner) -> None:
    mem, ids = seeded()
    outcomes = {"ok": 0, "rejected": 0}
    state = {"before": snapshot(mem)}  # one snapshot per example: before the next call

    @FUZZ
    @given(kwargs=METHODS[name], memory_id=memory_ids(ids), use_async=st.booleans())
    def check(kwargs: dict[str, Any], memory_id: Any, use_async: bool) -> None:
        assume(not known_finding(name, kwargs))
        if name in {"get", "update", "forget"}:
            kwargs = {"memory_id": memory_id, **kwargs}
        try:
            runner(mem, name, use_async, kwargs)
        except ALLOWED:
            outcomes["rejected"] += 1
            assert snapshot(mem) == state["before"], "a rejected call changed the store"
            return
        except Exception as exc:
            pytest.fail(f"{name}({kwargs!r}) raised {type(exc).__name__}: {exc}")
        outcomes["ok"] += 1
        state["before"] = snapshot(mem)  # whatever was accepted, every row still reads back

    try:
        check()
    finally:
        mem.close()
    assert outcomes["rejected"] > 0
    print(f"{name}: {outcomes['ok'] + outcomes['rejected']} cases, {outcomes}")


# --- scope isolation ---------------------------------------------------------------

VICTIMS = ["alice", "bob"]
MARK = "zebra-secret-of-"


def look_alikes(victim: str) -> st.SearchStrategy[str]:
    """Ids close to a victim's: case, padding, wildcards, quotes, confusables, NFD."""
    return st.sampled_from([
        victim.upper(), f"{victim} ", f" {victim}", f"{victim}%", f"{victim[:-1]}_",
        f"{victim}*", f"{victim}'", f"{victim}' OR '1'='1", f"{victim}\u200b",
        "\u0430" + victim[1:], unicodedata.normalize("NFD", victim + "é"), f"{victim}\\",
        f"%{victim}%", f"{victim}') OR ('a'='a", f"{victim}\n",
    ])  # fmt: skip


hostile_id = (
    st.sampled_from(VICTIMS).flatmap(look_alikes) | injection
    | st.text(any_char, min_size=1, max_size=30)
).filter(lambda s: s not in VICTIMS and s.strip() != "" and "\x00" not in s
         and not _has_surrogate(s))  # fmt: skip


def victims_store() -> TieredMemory:
    mem = TieredMemory("memory://", config=CONFIG)
    for v in VICTIMS:
        mem.add_message("user", f"{MARK}{v} zebra", session_id=f"sess-{v}", user_id=v,
                        agent_id=v)  # fmt: skip
        mem.remember(f"{MARK}{v} remembered zebra", user_id=v, agent_id=v, session_id=v, tags=[v])
    return mem


def leaked(texts: list[str], allowed: set[str]) -> set[str]:
    return {v for v in VICTIMS for t in texts if f"{MARK}{v}" in t and v not in allowed}


def test_hostile_scope_ids_never_widen_search(runner: Runner) -> None:
    mem = victims_store()

    @FUZZ
    @given(
        scope_id=hostile_id,
        field=st.sampled_from(["user_id", "agent_id", "session_id", "tags"]),
        also_victim=st.booleans(),
        use_async=st.booleans(),
        write_first=st.booleans(),
    )
    def check(scope_id: str, field: str, also_victim: bool, use_async: bool,
              write_first: bool) -> None:  # fmt: skip
        if write_first:  # the hostile scope has records of its own, sometimes
            mem.remember(f"own zebra of {scope_id!r}", user_id=scope_id, agent_id=scope_id,
                         session_id=scope_id, tags=[scope_id])  # fmt: skip
        kwargs: dict[str, Any] = {"query": "zebra remembered secret", "k": 100}
        kwargs[field] = [scope_id] if field == "tags" else scope_id
        if also_victim and field != "user_id":
            kwargs["user_id"] = VICTIMS[0]  # AND-ed with the hostile id: still nothing
        hits = runner(mem, "search", use_async, kwargs)
        assert leaked([h.record.text for h in hits], set()) == set()
        for h in hits:
            if field == "tags":
                assert scope_id in h.record.tags
            else:
                assert getattr(h.record, field) == scope_id

    try:
        check()
    finally:
        mem.close()


def test_hostile_scope_ids_never_widen_a_context(runner: Runner) -> None:
    mem = victims_store()

    @FUZZ
    @given(scope_id=hostile_id, field=st.sampled_from(["user_id", "agent_id", "session_id"]),
           use_async=st.booleans())  # fmt: skip
    def check(scope_id: str, field: str, use_async: bool) -> None:
        kwargs: dict[str, Any] = {"query": "zebra secret remembered", "max_tokens": 2_000}
        kwargs[field] = scope_id
        if field != "session_id":
            kwargs["session_id"] = "fresh-session"
        ctx = runner(mem, "build_context", use_async, kwargs)
        assert leaked([ctx.text], set()) == set()

    try:
        check()
    finally:
        mem.close()


@pytest.mark.parametrize("name", ["get", "update", "forget"])
def test_hostile_record_ids_touch_nothing(name: str, runner: Runner) -> None:
    mem = victims_store()
    before = snapshot(mem)

    @FUZZ
    @given(memory_id=hostile_id | st.sampled_from(["' OR id IS NOT NULL OR '", "*", "%"]),
           use_async=st.booleans())  # fmt: skip
    def check(memory_id: str, use_async: bool) -> None:
        kwargs: dict[str, Any] = {"memory_id": memory_id}
        if name == "update":
            kwargs["text"] = "overwritten"
        with pytest.raises((NotFoundError, InvalidInputError)):
            runner(mem, name, use_async, kwargs)
        assert snapshot(mem) == before

    try:
        check()
    finally:
        mem.close()


# --- known findings: each a strict xfail, so the fix turns it green ---------------

FINDINGS: list[tuple[str, Callable[[TieredMemory, list[str]], Any]]] = [
    ("add_messages(42): TypeError, not InvalidInputError",
     lambda m, ids: m.add_messages(42)),  # type: ignore[arg-type]
    ("add_messages(None): TypeError, not InvalidInputError",
     lambda m, ids: m.add_messages(None)),  # type: ignore[arg-type]
    ("importance=10**400: OverflowError, not InvalidInputError",
     lambda m, ids: m.remember("x", importance=10**400)),
    ("metadata nested 5000 deep: RecursionError, not InvalidInputError",
     lambda m, ids: m.add_message("user", "x", metadata={"a": _deep(5_000)})),
    ("a lone surrogate in metadata: StoreError at insert, not InvalidInputError",
     lambda m, ids: m.add_message("user", "x", metadata={"note": "\ud800"})),
    ("a lone surrogate in a metadata key: StoreError at insert",
     lambda m, ids: m.remember("x", metadata={"\udfff": 1})),
    ("update with a lone surrogate in metadata: StoreError at upsert",
     lambda m, ids: m.update(ids[0], metadata={"a": "\ud800"})),
    ("build_context(user_id=<numpy array>): ValueError of numpy, not InvalidInputError",
     lambda m, ids: m.build_context("q", user_id=np.array([1, 2]))),  # type: ignore[arg-type]
]  # fmt: skip


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.xfail(strict=True, reason="finding: see the case id")
@pytest.mark.parametrize(("case", "call"), FINDINGS, ids=[c for c, _ in FINDINGS])
def test_known_input_finding(case: str, call: Callable[[TieredMemory, list[str]], Any]) -> None:
    mem, ids = seeded()
    before = snapshot(mem)
    with pytest.raises(InvalidInputError):
        call(mem, ids)
    assert snapshot(mem) == before


@pytest.mark.xfail(
    strict=True,
    reason="finding: an aware timestamp whose UTC value leaves years 1..9999 is stored, then "
    "every unscoped search, the author's contexts, get, forget and export_records fail with "
    "StoreError 'date value out of range': one turn makes the store unexportable",
)
@pytest.mark.parametrize(
    "timestamp",
    [
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-20))),
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=20))),
    ],
    ids=["after-9999", "before-year-1"],
)
def test_out_of_range_timestamp_is_refused_or_harmless(timestamp: datetime) -> None:
    mem, _ = seeded()
    try:
        record = mem.add_message("user", "poison", timestamp=timestamp, user_id="mallory")
    except InvalidInputError:
        return  # refused up front: the fix this test asks for
    list(mem.export_records())
    mem.search("turn zebra")
    mem.build_context("poison", user_id="mallory")
    mem.forget(record.id)


def test_timestamps_at_the_edges_of_the_calendar_are_harmless() -> None:
    mem, _ = seeded()
    for ts in (datetime.min, datetime.max, datetime(1, 1, 1, tzinfo=UTC), 253402300799.0,
               -62135596800.0, Decimal(0)):  # fmt: skip
        try:
            mem.add_message("user", "edge of time", timestamp=ts)  # type: ignore[arg-type]
        except InvalidInputError:
            continue
    assert len(list(mem.export_records())) >= 12
    assert mem.search("edge of time")
