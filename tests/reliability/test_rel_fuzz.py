"""Hostile input, property-based, over the whole public API, sync and async.

Every argument of every call gets arbitrary unicode, control characters, huge
strings, NaN/inf, out-of-calendar times and values of the wrong type. Only
documented errors may come out (`InvalidInputError`, `MessageTooLargeError`,
`NotFoundError`), each naming an argument the caller passed; a rejected call leaves
the store and the in-memory tiers exactly as they were; whatever is accepted reads
back and leaves the store searchable. Below the properties, each bug they found is
pinned by a plain regression test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pytest
import rel_hostile as h
from hypothesis import given
from hypothesis import strategies as st

from tiermem import InvalidInputError, NotFoundError, StoreError, TieredMemory
from tiermem.long_term.rows import _to_table
from tiermem.records import Kind, MemoryRecord

WRITES = {"add_message", "add_messages", "remember", "update", "import_records"}
METHODS: dict[str, st.SearchStrategy[Any]] = {
    "add_message": h.call_args(
        ["role", "content", "session_id", "user_id", "agent_id", "timestamp", "metadata"],
        ("role", "content"),
    ),
    "add_messages": st.builds(
        lambda base, msgs: {**base, "messages": msgs},
        h.call_args(["session_id", "user_id", "agent_id"]), h.messages,
    ),
    "remember": h.call_args(
        ["text", "user_id", "agent_id", "session_id", "importance", "tags", "metadata"],
        ("text",),
    ),
    "search": h.call_args(["query", "k", "user_id", "agent_id", "session_id", "tags"], ("query",)),
    "build_context": h.call_args(["query", "session_id", "user_id", "agent_id", "max_tokens"]),
    "get": st.just({}),
    "update": h.call_args(["text", "importance", "tags", "metadata"]),
    "forget": st.just({}),
    "records": h.call_args(["user_id", "agent_id", "session_id", "kinds", "tags"]),
    "forget_scope": h.call_args(["user_id", "agent_id", "session_id"]),
    "export_records": h.call_args(["batch_size"]),
    "import_records": st.builds(
        lambda base, items: {**base, "items": items}, h.call_args(["batch_size"]), h.import_items
    ),
}  # fmt: skip
BY_ID = {"get", "update", "forget"}


def memory_ids(known: list[str]) -> st.SearchStrategy[Any]:
    # half known ids, half anything (one_of would flatten the branches and pick evenly)
    other = h.hostile_text | h.wrong | st.just("0" * 32)
    return st.booleans().flatmap(lambda pick: st.sampled_from(known) if pick else other)


def named_argument(name: str, kwargs: dict[str, Any], exc: Exception) -> bool:
    """Does the error name an argument of this call (``messages[2].content`` names messages)?"""
    if isinstance(exc, NotFoundError):
        return name in BY_ID
    assert isinstance(exc, InvalidInputError)
    assert exc.rule
    assert str(exc) == f"{exc.argument}: {exc.rule}"
    root = exc.argument.split("[")[0].split(".")[0]
    passed = set(kwargs) | ({"scope"} if name == "forget_scope" else set())
    return root in passed


@pytest.fixture
def runner() -> Iterator[h.Runner]:
    r = h.Runner()
    yield r
    r.close()


@pytest.mark.parametrize("name", list(METHODS))
def test_hostile_arguments_only_raise_documented_errors(name: str, runner: h.Runner) -> None:
    mem, ids = h.seeded()
    outcomes = {"ok": 0, "rejected": 0}
    state = {"before": h.snapshot(mem)}  # one snapshot per example: before the next call

    @h.FUZZ
    @given(kwargs=METHODS[name], memory_id=memory_ids(ids), use_async=st.booleans())
    def check(kwargs: dict[str, Any], memory_id: Any, use_async: bool) -> None:
        if name in BY_ID:
            kwargs = {"memory_id": memory_id, **kwargs}
        rejected: Exception | None = None
        try:
            runner(mem, name, use_async, kwargs)
        except h.ALLOWED as exc:
            rejected = exc
        except Exception as exc:
            pytest.fail(f"{name}({kwargs!r}) raised {type(exc).__name__}: {exc}")
        if rejected is not None:
            outcomes["rejected"] += 1
            assert named_argument(name, kwargs, rejected), f"{rejected!r} names no argument"
            assert h.snapshot(mem) == state["before"], "a rejected call changed the store"
            return
        outcomes["ok"] += 1
        # whatever was accepted leaves the store searchable, and reads back (the snapshot
        # exports every row)
        if name in WRITES:
            mem.search("zebra turn", k=50)
            mem.build_context("zebra", session_id="s1", user_id="u1", max_tokens=300)
        state["before"] = h.snapshot(mem)

    try:
        check()
    finally:
        mem.close()
    assert outcomes["rejected"] > 0
    print(f"fuzz {name}: {outcomes['ok'] + outcomes['rejected']} cases, {outcomes}")


def test_calls_without_arguments_stay_well(runner: h.Runner) -> None:
    mem, _ = h.seeded()
    for use_async in (False, True):
        assert runner(mem, "stats", use_async, {})["records"] == len(h.snapshot(mem)[0])
        runner(mem, "optimize", use_async, {})
    before = h.snapshot(mem)
    for name, kwargs in [("stats", {"verbose": True}), ("optimize", {"now": 1})]:
        with pytest.raises(TypeError):  # Python's own check of keyword arguments
            runner(mem, name, False, kwargs)
    assert h.snapshot(mem) == before
    mem.close()
    mem.close()  # twice is harmless


# --- former findings: each was an exception nobody documented, or a poisoned store --

FINDINGS: list[tuple[str, Callable[[TieredMemory, list[str]], Any], str]] = [
    ("add_messages(42) raised TypeError", lambda m, ids: m.add_messages(42), "messages"),
    ("add_messages(None) raised TypeError", lambda m, ids: m.add_messages(None), "messages"),
    ("add_messages(one message) took its keys as messages",
     lambda m, ids: m.add_messages({"role": "user", "content": "hi"}), "messages"),
    ("add_messages(session_id=3) blamed messages[0]",
     lambda m, ids: m.add_messages([{"role": "user", "content": "hi"}], session_id=3),
     "session_id"),
    ("add_messages([], session_id=3) was accepted",
     lambda m, ids: m.add_messages([], session_id=3), "session_id"),
    ("importance=10**400 raised OverflowError",
     lambda m, ids: m.remember("x", importance=10**400), "importance"),
    ("timestamp=10**400 raised OverflowError",
     lambda m, ids: m.add_message("user", "x", timestamp=10**400), "timestamp"),
    ("metadata nested 5000 deep raised RecursionError",
     lambda m, ids: m.add_message("user", "x", metadata={"a": h._deep(5_000)}), "metadata"),
    ("metadata nested 900 deep was stored, to fail reads deep in a stack",
     lambda m, ids: m.remember("x", metadata={"a": h._deep(900)}), "metadata"),
    ("a lone surrogate in metadata: StoreError at insert",
     lambda m, ids: m.add_message("user", "x", metadata={"note": "\ud800"}), "metadata"),
    ("a lone surrogate in a metadata key: StoreError at insert",
     lambda m, ids: m.remember("x", metadata={"\udfff": 1}), "metadata"),
    ("update with a lone surrogate in metadata: StoreError at upsert",
     lambda m, ids: m.update(ids[0], metadata={"a": "\ud800"}), "metadata"),
    ("update to a text larger than any context was stored",
     lambda m, ids: m.update(ids[-2], text="word " * 5_000), "text"),
    ("build_context(user_id=<numpy array>) raised numpy's ValueError",
     lambda m, ids: m.build_context("q", user_id=np.array([1, 2])), "user_id"),
    ("records(kinds=5) raised TypeError", lambda m, ids: m.records(kinds=5), "kinds"),
    ("records(kinds=[[]]) raised TypeError", lambda m, ids: m.records(kinds=[[]]), "kinds"),
    ("export_records(batch_size=0) never returned",
     lambda m, ids: m.export_records(batch_size=0), "batch_size"),
    ("export_records(batch_size=-1) raised StoreError",
     lambda m, ids: list(m.export_records(batch_size=-1)), "batch_size"),
    ("aexport_records(batch_size=0) never returned",
     lambda m, ids: m.aexport_records(batch_size=0), "batch_size"),
    ("import_records(batch_size='x') raised TypeError",
     lambda m, ids: m.import_records([], batch_size="x"), "batch_size"),
    ("import_records(42) raised TypeError", lambda m, ids: m.import_records(42), "items"),
    ("import_records([42]) raised TypeError", lambda m, ids: m.import_records([42]), "items"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "call", "argument"), FINDINGS, ids=[c for c, _, _ in FINDINGS])
def test_former_finding_is_refused_up_front(
    case: str, call: Callable[[TieredMemory, list[str]], Any], argument: str
) -> None:
    mem, ids = h.seeded()
    before = h.snapshot(mem)
    with pytest.raises(InvalidInputError) as info:
        call(mem, ids)
    assert info.value.argument.startswith(argument), info.value
    assert h.snapshot(mem) == before
    mem.close()


def test_a_budget_beyond_the_search_limit_is_no_error_about_k() -> None:
    """A 1M-token window is real; build_context asked for more hits than `k` may be."""
    mem, _ = h.seeded()
    ctx = mem.build_context("zebra", session_id="s1", user_id="u1", max_tokens=1_000_000)
    assert "zebra" in ctx.text
    mem.close()


class _Naive(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


class _Broken(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return timedelta(hours=30)  # not within a day: datetime itself refuses it


@pytest.mark.parametrize(
    "timestamp",
    [
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-20))),
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=20))),
        datetime(5, 5, 5, tzinfo=_Broken()),
        253_402_300_800.0,
        -62_135_596_801,
        10**400,
    ],
    ids=["after-9999-in-utc", "before-year-1-in-utc", "bad-tzinfo", "epoch-10000", "epoch-0",
         "epoch-huge"],
)  # fmt: skip
def test_a_time_outside_the_calendar_in_utc_is_refused(timestamp: Any) -> None:
    """Such a turn used to be stored; then unscoped searches, the author's contexts,
    get, forget and export_records all failed with 'date value out of range'."""
    mem, _ = h.seeded()
    before = h.snapshot(mem)
    with pytest.raises(InvalidInputError, match=r"^timestamp: ") as info:
        mem.add_message("user", "poison", timestamp=timestamp, user_id="mallory")
    assert "1 to 9999" in info.value.rule or "offset" in info.value.rule
    with pytest.raises(InvalidInputError, match=r"^messages\[0\]\.timestamp: "):
        mem.add_messages([{"role": "user", "content": "poison", "timestamp": timestamp}])
    assert h.snapshot(mem) == before
    mem.close()


def test_times_are_kept_in_utc_and_read_back_as_written() -> None:
    mem, _ = h.seeded()
    lisbon = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    edges = [datetime.min, datetime.max, datetime.max.replace(tzinfo=UTC), lisbon,
             datetime(2024, 5, 1, tzinfo=_Naive()), -62_135_596_800, 253_402_300_799.0]  # fmt: skip
    written = [mem.add_message("user", "edge of time", timestamp=t, session_id="t") for t in edges]
    assert written[3].timestamp == lisbon
    assert written[3].timestamp.tzinfo is UTC
    assert written[4].timestamp == datetime(2024, 5, 1, tzinfo=UTC)  # no offset: taken as UTC
    for record in written:
        assert mem.get(record.id).timestamp == record.timestamp
    assert len(list(mem.export_records())) == 12 + len(edges)
    assert mem.search("edge of time", k=20)
    mem.close()


def test_a_row_stored_out_of_range_by_an_older_release_harms_no_read(tmp_path: Path) -> None:
    """An earlier release stored such times; such a store must still read, search, forget."""
    store = tmp_path / "store"
    with TieredMemory(store, config=h.CONFIG) as mem:
        mem.add_message("user", "an ordinary zebra turn", user_id="u1")
        schema = mem._store.schema
    poison = MemoryRecord(id="f" * 32, kind=Kind.TURN, text="poison zebra", role="user",
                          timestamp=datetime(2024, 1, 1, tzinfo=UTC), session_id="p",
                          user_id="mallory", seq=0)  # fmt: skip
    row = _to_table([poison], np.zeros((1, h.DIMENSIONS), dtype=np.float32) + 0.0625, schema)
    micros = 253_402_300_800 * 10**6 + 20 * 3_600 * 10**6  # year 10000 in UTC
    when = pa.array([micros], pa.int64()).cast(schema.field("timestamp").type)
    row = row.set_column(row.schema.get_field_index("timestamp"), "timestamp", when)
    lancedb.connect(str(store)).open_table(h.CONFIG.long_term.table).add(row)

    with TieredMemory(store, config=h.CONFIG) as mem:
        assert len(list(mem.export_records())) == 2
        assert mem.get(poison.id).timestamp == datetime.max.replace(tzinfo=UTC)
        assert {x.record.text for x in mem.search("zebra")} >= {"poison zebra"}
        assert "poison zebra" in mem.build_context("zebra", session_id="p", user_id="mallory").text
        mem.forget(poison.id)
        assert mem.stats()["records"] == 1


def test_an_import_holds_records_to_the_rules_of_every_write() -> None:
    mem, _ = h.seeded()
    good, vector = next(iter(mem.export_records()))
    before = h.snapshot(mem)
    bad = [
        ({"timestamp": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-20)))},
         "items[1].timestamp"),
        ({"text": "a\ud800b"}, "items[1].text"),
        ({"id": "not-hex!"}, "items[1].id"),
        ({"kind": "secret"}, "items[1].kind"),
        ({"metadata": {"a": h._deep(100)}}, "items[1].metadata"),
        ({"user_id": ""}, "items[1].user_id"),
        ({"seq": 2**63}, "items[1].seq"),
        ({"importance": float("nan")}, "items[1].importance"),
        ({"role": None}, "items[1].role"),
        ({"session_id": None}, "items[1].session_id"),
    ]  # fmt: skip
    for change, argument in bad:
        items = [(good, vector), (MemoryRecord(**{**_fields(good), **change}), vector)]
        with pytest.raises(InvalidInputError) as info:
            mem.import_records(items, batch_size=1)  # the first item alone would be a batch
        assert info.value.argument == argument, change
    for vec in (vector[:-1], np.full_like(vector, np.nan), ["x"] * h.DIMENSIONS):
        with pytest.raises(InvalidInputError, match=r"items\[0\]\.vector"):
            mem.import_records([(good, vec)])
    assert h.snapshot(mem) == before
    assert mem.import_records([(good, vector)]) == 1  # the round trip itself still works
    mem.close()


def _fields(record: MemoryRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in MemoryRecord.__dataclass_fields__}


def test_metadata_keeps_its_documented_shape() -> None:
    mem, _ = h.seeded()
    deep = {"a": h._deep(62)}  # a mapping around 63 lists: 64 levels, the most allowed
    record = mem.add_message("user", "deep enough", metadata=deep)
    assert mem.get(record.id).metadata == json.loads(json.dumps(deep))
    with pytest.raises(InvalidInputError, match="deeper than 64"):
        mem.add_message("user", "too deep", metadata={"a": h._deep(64)})
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(InvalidInputError, match="metadata"):
        mem.remember("loop", metadata={"a": looped})
    mem.close()


@h.FUZZ
@given(
    # no other string: any would be a folder, made where the tests run
    uri=h.wrong.filter(lambda x: not isinstance(x, str)) | st.sampled_from(["", "   ", "\n"]),
    name=h.hostile_text.filter(lambda s: "/" not in s and s not in ("", ".", "..")),
    part=st.sampled_from(["config", "embedder", "summarizer", "token_counter", "callbacks"]),
    value=h.wrong,
)
def test_hostile_constructor_arguments_only_raise_documented_errors(
    uri: Any, name: str, part: str, value: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A bad uri or part is an InvalidInputError naming it; a folder name no file system
    takes is a StoreError saying the store cannot be opened; nothing else comes out."""
    with pytest.raises(InvalidInputError) as info:
        TieredMemory(uri)
    assert info.value.argument == "uri"
    iterable = isinstance(value, Iterable) and not isinstance(value, str | bytes)
    if value is not None and not (part == "callbacks" and iterable):  # any handlers will do
        with pytest.raises(InvalidInputError) as info:
            TieredMemory("memory://", **{part: value})
        assert info.value.argument == part
    folder = tmp_path_factory.mktemp("hostile") / name[:200]
    refused: StoreError | None = None
    try:
        TieredMemory(folder, config=h.CONFIG).close()
    except StoreError as exc:
        refused = exc
    assert refused is None or str(refused).startswith("cannot open the store")
