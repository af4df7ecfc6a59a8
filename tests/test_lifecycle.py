"""Memory lifecycle: expiry, forgetting by rule, consolidation, pinned turns.

Each behaviour runs with the in-process index on (the default) and off (LanceDB's
SQL filters): both paths must agree.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tiermem import MemoryConfig, TieredMemory
from tiermem.errors import InvalidInputError, NotFoundError, StoreError

HOT = [pytest.param(True, id="hot"), pytest.param(False, id="lance")]
HOSTILE = ["u'1", "u%", "' OR 1=1 --", 'u1" OR user_id IS NOT NULL', "u1'); DROP TABLE x;--"]


def _config(hot: bool, **more: Any) -> MemoryConfig:
    base: dict[str, Any] = {
        "short_term": {"max_tokens": 120},
        "medium_term": {"trigger_tokens": 80, "summary_tokens": 60, "max_summaries": 3},
    }
    if not hot:
        base["hot"] = {"enabled": False}
    return MemoryConfig(**{**base, **more})


@pytest.fixture(params=HOT)
def hot(request: pytest.FixtureRequest) -> bool:
    flag: bool = request.param
    return flag


@pytest.fixture
def mem(hot: bool) -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=_config(hot)) as memory:
        yield memory


class Clock:
    """The library's clock, moved by hand: expiry is read against it at query time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime.now(UTC)
        monkeypatch.setattr("tiermem.records.now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _lance_rows(path: Path) -> int:
    import lancedb

    return int(lancedb.connect(str(path)).open_table("records").count_rows())


# --- expiry -------------------------------------------------------------------------


def test_an_expired_memory_reaches_no_read(mem: TieredMemory, clock: Clock) -> None:
    brief = mem.remember("The door code is 7741", user_id="u1", ttl=60)
    lasting = mem.remember("Lives in Porto", user_id="u1", ttl=timedelta(days=1))
    forever = mem.remember("Prefers tea", user_id="u1")
    mem.add_message("user", "what is the door code?", session_id="s", user_id="u1")
    assert brief.expires_at == clock.now + timedelta(seconds=60)
    assert "7741" in mem.build_context("door code", session_id="s", user_id="u1").text

    clock.advance(61)
    assert "7741" not in mem.build_context("door code", session_id="s", user_id="u1").text
    assert brief.id not in {h.record.id for h in mem.search("door code", user_id="u1")}
    with pytest.raises(NotFoundError):
        mem.get(brief.id)
    listed = {r.id for r in mem.records(user_id="u1")}
    assert brief.id not in listed
    assert {lasting.id, forever.id} <= listed
    assert mem.stats(user_id="u1")["memories"] == 2
    assert brief.id not in {r.id for r, _ in mem.export_records()}
    assert mem.get(lasting.id).expires_at == lasting.expires_at


async def test_aremember_expires_too(mem: TieredMemory, clock: Clock) -> None:
    record = await mem.aremember("Parked on level 3", user_id="u1", ttl=5.0)
    assert [h.record.id for h in await mem.asearch("parked", user_id="u1")] == [record.id]
    clock.advance(5)  # expired at exactly its time
    assert await mem.asearch("parked", user_id="u1") == []
    assert await mem.arecords(user_id="u1") == []


def test_optimize_purges_what_expired(hot: bool, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "store"
    with TieredMemory(path, config=_config(hot)) as mem:
        mem.remember("gone soon", user_id="u1", expires_at=clock.now + timedelta(minutes=1))
        kept = mem.remember("kept", user_id="u1", expires_at=clock.now + timedelta(days=1))
        mem.remember("forever", user_id="u2")
        mem.optimize()
        assert _lance_rows(path) == 3  # nothing expired yet
        clock.advance(120)
        mem.optimize()
        assert _lance_rows(path) == 2
        assert {r.text for r in mem.records()} == {"kept", "forever"}
        assert mem.get(kept.id).text == "kept"


def test_remembering_an_expired_fact_again_stores_it_anew(mem: TieredMemory, clock: Clock) -> None:
    old = mem.remember("Likes jazz", user_id="u1", ttl=10)
    clock.advance(11)
    new = mem.remember("likes  JAZZ", user_id="u1")
    assert new.id != old.id
    assert new.expires_at is None
    assert [r.id for r in mem.records(user_id="u1")] == [new.id]


def test_a_fact_said_again_lives_as_long_as_the_longer(mem: TieredMemory, clock: Clock) -> None:
    first = mem.remember("Likes jazz", user_id="u1", ttl=10)
    again = mem.remember("Likes jazz", user_id="u1", ttl=100)
    assert again.id == first.id
    assert again.expires_at == clock.now + timedelta(seconds=100)
    forever = mem.remember("Likes jazz", user_id="u1")
    assert forever.expires_at is None


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"ttl": 5, "expires_at": datetime(2030, 1, 1, tzinfo=UTC)}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": float("nan")}, "ttl"),
        ({"ttl": "5"}, "ttl"),
        ({"ttl": True}, "ttl"),
        ({"ttl": 1e300}, "ttl"),
        ({"expires_at": "2030-01-01"}, "expires_at"),
        ({"expires_at": 1_900_000_000}, "expires_at"),
    ],
)
def test_bad_expiry_is_refused_and_nothing_is_stored(
    mem: TieredMemory, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        mem.remember("a fact", user_id="u1", **kwargs)
    assert raised.value.argument == argument
    assert isinstance(raised.value, ValueError)
    assert mem.records() == []


def test_a_naive_expiry_means_utc(mem: TieredMemory) -> None:
    record = mem.remember("x", user_id="u1", expires_at=datetime(2099, 1, 2, 3, 4))
    assert record.expires_at == datetime(2099, 1, 2, 3, 4, tzinfo=UTC)


# --- forgetting by rule ---------------------------------------------------------------


def _history(mem: TieredMemory, user: str, session: str = "s", turns: int = 12) -> None:
    for i in range(turns):
        mem.add_message(
            "user", f"{user} says line {i}: the secret word is word{i}", session_id=session,
            user_id=user, timestamp=datetime(2024, 1, 1 + i, tzinfo=UTC),
        )  # fmt: skip


def test_forget_where_kinds_tags_and_before(mem: TieredMemory) -> None:
    a = mem.remember("pref A", user_id="u1", tags=["pref"])
    b = mem.remember("work B", user_id="u1", tags=["work"])
    mem.remember("pref C", user_id="u2", tags=["pref"])
    _history(mem, "u1")
    report = mem.forget_where(user_id="u1", tags=["pref"], dry_run=True)
    assert report.dry_run
    assert report.ids == (a.id,)
    assert report.counts == {"turn": 0, "memory": 1, "summary": 0}
    assert mem.get(a.id).text == "pref A"  # a dry run changes nothing

    done = mem.forget_where(user_id="u1", tags=["pref"])
    assert done.ids == (a.id,)
    assert not done.dry_run
    with pytest.raises(NotFoundError):
        mem.get(a.id)
    assert mem.get(b.id).text == "work B"
    assert {r.text for r in mem.records(user_id="u2")} == {"pref C"}

    old = mem.forget_where(user_id="u1", kinds=["turn"], before=datetime(2024, 1, 4, tzinfo=UTC))
    assert old.counts["turn"] == 3
    left = [r.text for r in mem.records(user_id="u1", kinds=["turn"])]
    assert len(left) == 9
    assert not any(f"line {i}:" in t for t in left for i in range(3))


def test_forgetting_turns_drops_the_summaries_that_cover_them(mem: TieredMemory) -> None:
    _history(mem, "u1")
    _history(mem, "u2")
    summaries = mem.records(user_id="u1", kinds=["summary"])
    assert summaries, "the small window must have folded some turns"
    covered = min(s.covered_seqs.start for s in summaries)
    turn = next(r for r in mem.records(user_id="u1", kinds=["turn"]) if r.seq == covered)
    report = mem.forget_where(user_id="u1", kinds=["turn"], before=turn.timestamp
                              + timedelta(seconds=1))  # fmt: skip
    assert report.counts["turn"] >= 1
    assert report.counts["summary"] >= 1
    secret = re.compile(rf"\b{turn.text.split('is ')[-1]}\b")  # e.g. word0, not word10
    ctx = mem.build_context("secret word", session_id="s", user_id="u1", max_tokens=2000)
    assert not secret.search(ctx.text)
    assert not any(secret.search(s.text) for s in mem.records(user_id="u1"))
    assert len(mem.records(user_id="u2", kinds=["summary"])) >= 1  # another user's stay


async def test_aforget_where_matches_the_sync_one(mem: TieredMemory) -> None:
    mem.remember("one", user_id="u1", tags=["t"])
    mem.remember("two", user_id="u1")
    dry = await mem.aforget_where(user_id="u1", tags=["t"], dry_run=True)
    real = await mem.aforget_where(user_id="u1", tags=["t"])
    assert dry.ids == real.ids
    assert dry.counts == real.counts
    assert [r.text for r in await mem.arecords(user_id="u1")] == ["two"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_forget_where_touches_nothing_outside_its_scope(mem: TieredMemory, hostile: str) -> None:
    victim = "u1"
    mem.remember("victim fact", user_id=victim, tags=["t"])
    mem.add_message("user", "victim turn", session_id=hostile, user_id=victim)
    mem.remember("hostile fact", user_id=hostile, tags=["t"])
    mem.add_message("user", "hostile turn", session_id=hostile, user_id=hostile)
    # a hostile id names nothing but its own records, whatever it spells
    report = mem.forget_where(user_id=hostile)
    assert report.total == 2
    assert {r.text for r in mem.records()} == {"victim fact", "victim turn"}
    assert mem.forget_where(session_id=hostile, user_id="nobody").total == 0
    assert mem.forget_where(user_id=victim, tags=[hostile]).total == 0
    assert len(mem.records()) == 2


def test_colliding_ids_across_users_stay_apart(mem: TieredMemory) -> None:
    # the same session id and tag for two users: forgetting one user's leaves the other's
    for user in ("alice", "bob"):
        mem.add_message("user", f"{user} turn", session_id="shared", user_id=user)
        mem.remember(f"{user} fact", user_id=user, session_id="shared", tags=["same"])
    report = mem.forget_where(user_id="alice", session_id="shared")
    assert report.counts == {"turn": 1, "memory": 1, "summary": 0}
    assert {r.text for r in mem.records()} == {"bob turn", "bob fact"}
    ctx = mem.build_context("turn", session_id="shared", user_id="bob")
    assert "bob turn" in ctx.text
    assert "alice" not in ctx.text


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({}, "scope"),
        ({"user_id": "u1", "before": "2024-01-01"}, "before"),
        ({"user_id": "u1", "kinds": ["turns"]}, "kinds"),
        ({"user_id": "u1", "kinds": "turn"}, "kinds"),
        ({"user_id": "u1", "tags": "t"}, "tags"),
        ({"user_id": "u1", "dry_run": "yes"}, "dry_run"),
        ({"user_id": ""}, "user_id"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_lost(
    mem: TieredMemory, kwargs: dict[str, Any], argument: str
) -> None:
    mem.remember("fact", user_id="u1")
    with pytest.raises(InvalidInputError) as raised:
        mem.forget_where(**kwargs)
    assert raised.value.argument == argument
    assert len(mem.records()) == 1


# --- consolidation ---------------------------------------------------------------------


def test_consolidate_merges_what_says_the_same_thing(mem: TieredMemory) -> None:
    keep = mem.remember("Likes green tea.", user_id="u1", importance=0.4, tags=["drink"])
    same = mem.remember("likes   GREEN tea!", user_id="u1", importance=0.9, tags=["pref"],
                        deduplicate=False)  # fmt: skip
    near = mem.remember("The user likes green tea", user_id="u1", importance=0.2,
                        deduplicate=False)  # fmt: skip
    other = mem.remember("Lives in Porto", user_id="u1")
    theirs = mem.remember("Likes green tea.", user_id="u2")

    dry = mem.consolidate(user_id="u1", dry_run=True)
    assert dry.dry_run
    assert dry.removed == 2
    assert len(mem.records(user_id="u1")) == 4  # a dry run changes nothing

    report = mem.consolidate(user_id="u1")
    assert [(m.kept.id, {r.id for r in m.merged}) for m in report.merges] == [
        (same.id, {keep.id, near.id})  # the most important one is kept
    ]
    kept = mem.get(same.id)
    assert kept.importance == pytest.approx(0.9)
    assert set(kept.tags) == {"drink", "pref"}
    assert set(kept.metadata["merged_from"]) == {keep.id, near.id}
    assert {r.id for r in mem.records(user_id="u1")} == {same.id, other.id}
    assert mem.get(theirs.id).text == "Likes green tea."  # another user's twin stays
    assert mem.consolidate(user_id="u1").merges == ()  # nothing left to merge


def test_consolidate_never_merges_a_negation(mem: TieredMemory) -> None:
    mem.remember("Likes tea", user_id="u1")
    mem.remember("Does not like tea", user_id="u1")
    mem.remember("doesn't like tea", user_id="u1")
    mem.remember("Never likes tea", user_id="u1")
    report = mem.consolidate(user_id="u1")
    merged = [{r.text for r in (m.kept, *m.merged)} for m in report.merges]
    assert merged == [{"Does not like tea", "doesn't like tea"}]  # one statement, two spellings
    assert {r.text for r in mem.records(user_id="u1")} >= {"Likes tea", "Never likes tea"}
    # even with every threshold at 0, a negated statement never joins a plain one
    mem.remember("Likes coffee", user_id="u2")
    mem.remember("Does not like coffee", user_id="u2")
    loose = mem.consolidate(user_id="u2", text_threshold=0.0, vector_threshold=0.0)
    assert loose.merges == ()


def test_consolidate_thresholds_decide_near_duplicates(mem: TieredMemory) -> None:
    mem.remember("Works as a nurse in Lisbon", user_id="u1")
    mem.remember("Works as a nurse in Lisbon now", user_id="u1")
    assert mem.consolidate(user_id="u1", text_threshold=1.0, dry_run=True).merges == ()
    assert mem.consolidate(user_id="u1", text_threshold=0.8, vector_threshold=0.5,
                           dry_run=True).removed == 1  # fmt: skip


async def test_aconsolidate_and_its_checks(mem: TieredMemory) -> None:
    mem.remember("Has a cat", user_id="u1")
    mem.remember("has a cat.", user_id="u1", deduplicate=False)
    report = await mem.aconsolidate(user_id="u1")
    assert report.removed == 1
    for bad in ({"text_threshold": 1.5}, {"vector_threshold": "x"}, {"dry_run": 1}):
        with pytest.raises(InvalidInputError):
            await mem.aconsolidate(user_id="u1", **bad)
    with pytest.raises(InvalidInputError, match="scope"):
        mem.consolidate()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_consolidate_stays_in_its_scope(mem: TieredMemory, hostile: str) -> None:
    mem.remember("Owns a boat", user_id="u1")
    mem.remember("Owns a boat", user_id=hostile)
    mem.remember("owns a boat!", user_id=hostile, deduplicate=False)
    assert mem.consolidate(user_id=hostile).removed == 1
    assert {r.user_id for r in mem.records()} == {"u1", hostile}
    assert mem.consolidate(user_id="u1").removed == 0


# --- pinned turns -----------------------------------------------------------------------


def test_a_pinned_turn_stays_in_every_context(mem: TieredMemory) -> None:
    pinned = mem.add_message("user", "My locker code is 4411", session_id="s", user_id="u1",
                             pinned=True, importance=0.9)  # fmt: skip
    assert pinned.pinned
    assert pinned.importance == 0.9
    mem.add_messages(
        [{"role": "user", "content": f"small talk about the weather number {i}"}
         for i in range(30)],
        session_id="s", user_id="u1",
    )  # fmt: skip
    ctx = mem.build_context("weather forecast", session_id="s", user_id="u1", max_tokens=300)
    assert "4411" in ctx.text
    line = next(line for line in ctx.explain().splitlines() if "4411" in line)
    # evicted from the window long ago, it comes back from the long-term tier
    assert line.startswith("KEPT long_term")
    assert "pinned by user" in line
    # not in another session's context, nor another user's
    other = mem.build_context("locker code", session_id="s", user_id="u2", max_tokens=300)
    assert "4411" not in other.text


def test_a_pinned_turn_yields_to_the_budget(mem: TieredMemory) -> None:
    mem.add_message("user", "PINNED " + "long words " * 60, session_id="s", pinned=True)
    mem.add_message("user", "the newest question?", session_id="s")
    ctx = mem.build_context("question", session_id="s", max_tokens=60)
    assert ctx.token_count <= 60
    assert "the newest question?" in ctx.text
    assert "PINNED" not in ctx.text


async def test_bulk_and_async_turns_take_pins(mem: TieredMemory) -> None:
    first, second = mem.add_messages(
        [{"role": "user", "content": "pin me", "pinned": True, "importance": 1.0},
         {"role": "assistant", "content": "ok"}], session_id="s",
    )  # fmt: skip
    assert (first.pinned, first.importance, second.pinned) == (True, 1.0, False)
    third = await mem.aadd_message("user", "and me", session_id="s", pinned=True)
    assert third.pinned
    assert (await mem.aget(third.id)).pinned
    for bad in ({"pinned": "yes"}, {"importance": 2}):
        with pytest.raises(InvalidInputError) as raised:
            mem.add_message("user", "x", session_id="s", **bad)  # type: ignore[arg-type]
        assert raised.value.argument in bad
    with pytest.raises(InvalidInputError, match=r"messages\[0\]\.pinned"):
        mem.add_messages([{"role": "user", "content": "x", "pinned": 1}], session_id="s")
    assert len(mem.records(session_id="s")) == 3


# --- durability and other instances -------------------------------------------------------


_CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import UTC, datetime
    from tiermem import TieredMemory
    mem = TieredMemory(sys.argv[1])
    fact = mem.remember("expiring fact", user_id="u1", expires_at=datetime(2099, 5, 6, tzinfo=UTC))
    turn = mem.add_message("user", "pinned turn", session_id="s", user_id="u1", pinned=True)
    print(fact.id, turn.id, flush=True)
    os._exit(0)  # no close: the log is left for the next opener to replay
    """
)


def test_a_crash_keeps_expiry_and_pins(tmp_path: Path) -> None:
    path = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    fact_id, turn_id = done.stdout.split()
    for hot in (True, False):
        with TieredMemory(path, config=_config(hot)) as mem:
            assert mem.get(fact_id).expires_at == datetime(2099, 5, 6, tzinfo=UTC)
            assert mem.get(turn_id).pinned


def test_another_instance_sees_expiry_and_forgetting(
    hot: bool, clock: Clock, tmp_path: Path
) -> None:
    path = tmp_path / "store"
    with TieredMemory(path, config=_config(hot)) as writer, \
            TieredMemory(path, config=_config(hot)) as reader:  # fmt: skip
        brief = writer.remember("brief fact", user_id="u1", ttl=30)
        writer.remember("tagged fact", user_id="u1", tags=["old"])
        writer.remember("lasting fact", user_id="u1")
        assert {r.text for r in reader.records(user_id="u1")} == {
            "brief fact", "tagged fact", "lasting fact",
        }  # fmt: skip
        clock.advance(31)
        assert brief.id not in {r.id for r in reader.records(user_id="u1")}
        writer.forget_where(user_id="u1", tags=["old"])
        assert {r.text for r in reader.records(user_id="u1")} == {"lasting fact"}
        assert [h.record.text for h in reader.search("fact", user_id="u1")] == ["lasting fact"]


# --- schema -------------------------------------------------------------------------------


def _schema_2_store(path: Path) -> None:
    import lancedb

    with TieredMemory(path, config=_config(False)) as mem:
        mem.remember("an old fact", user_id="u1")
        mem.add_message("user", "an old turn", session_id="s", user_id="u1")
    db = lancedb.connect(str(path))
    db.open_table("records").drop_columns(["written", "expires_at", "pinned"])
    db.drop_table("tiermem_deleted")
    db.open_table("tiermem_meta").update(where="key = 'schema_version'", values={"value": "2"})


@pytest.mark.parametrize("on", HOT)
def test_a_schema_2_store_migrates(tmp_path: Path, on: bool, clock: Clock) -> None:
    import lancedb

    path = tmp_path / "store"
    _schema_2_store(path)
    with TieredMemory(path, config=_config(on)) as mem:
        assert {(r.text, r.expires_at, r.pinned) for r in mem.records()} == {
            ("an old fact", None, False), ("an old turn", None, False),
        }  # fmt: skip
        mem.remember("new fact", user_id="u1", ttl=10)
        mem.add_message("user", "pin", session_id="s", user_id="u1", pinned=True)
        clock.advance(11)
        assert {r.text for r in mem.records()} == {"an old fact", "an old turn", "pin"}
        assert mem.forget_where(user_id="u1", kinds=["turn"], dry_run=True).total == 2
    table = lancedb.connect(str(path)).open_table("records")
    assert {"written", "expires_at", "pinned"} <= set(table.schema.names)


def test_a_version_3_table_without_the_new_columns_is_refused(tmp_path: Path) -> None:
    import lancedb

    path = tmp_path / "store"
    with TieredMemory(path, config=_config(False)) as mem:
        mem.remember("x", user_id="u1")
    lancedb.connect(str(path)).open_table("records").drop_columns(["pinned"])
    with pytest.raises(StoreError, match="pinned"):
        TieredMemory(path)


def test_an_export_file_keeps_expiry_and_pins_and_old_files_still_load(tmp_path: Path) -> None:
    import json

    from tiermem.transfer import dump_record, header_line, read_export

    with TieredMemory("memory://") as mem:
        fact = mem.remember("fact", user_id="u1", expires_at=datetime(2099, 1, 1, tzinfo=UTC))
        turn = mem.add_message("user", "turn", session_id="s", pinned=True)
        items = list(mem.export_records())
        lines = [header_line(mem.embedder.name, mem.embedder.dimensions)]
        lines += [dump_record(record, vector) for record, vector in items]
    _, records = read_export(lines)
    back = {r.id: r for r, _ in records}
    assert back[fact.id].expires_at == fact.expires_at
    assert back[turn.id].pinned
    # a line written before these fields existed: never expires, not pinned
    old = json.loads(lines[1])
    del old["expires_at"], old["pinned"]
    _, records = read_export([lines[0], json.dumps(old)])
    ((record, _),) = list(records)
    assert (record.expires_at, record.pinned) == (None, False)
    with TieredMemory("memory://") as copy:
        assert copy.import_records(items) == 2
        assert copy.get(fact.id).expires_at == fact.expires_at
        assert copy.get(turn.id).pinned


def test_a_turn_can_be_pinned_after_the_fact(mem: TieredMemory) -> None:
    turn = mem.add_message("user", "Remember: my flight is BA2490", session_id="s", user_id="u1")
    mem.add_messages(
        [{"role": "user", "content": f"chatter about lunch number {i}"} for i in range(30)],
        session_id="s", user_id="u1",
    )  # fmt: skip
    assert "BA2490" not in mem.build_context("lunch", session_id="s", user_id="u1",
                                             max_tokens=200).text  # fmt: skip
    assert mem.update(turn.id, pinned=True).pinned
    ctx = mem.build_context("lunch", session_id="s", user_id="u1", max_tokens=200)
    assert "BA2490" in ctx.text
    with pytest.raises(InvalidInputError, match="pinned"):
        mem.update(turn.id, pinned="no")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["add_message", "remember", "update", "forget_where", "consolidate"]
)
def test_sync_and_async_lifecycle_calls_take_the_same_arguments(name: str) -> None:
    import inspect

    sync = inspect.signature(getattr(TieredMemory, name)).parameters
    asynchronous = inspect.signature(getattr(TieredMemory, f"a{name}")).parameters
    assert list(sync.items()) == list(asynchronous.items())
