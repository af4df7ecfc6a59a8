"""A scope is the whole (user, agent, session) triple, on every tier and entry point.

Two users, or two agents, or a user and an anonymous caller who share a session id
share nothing: not the short-term window, not the medium-term summaries, not what a
restart restores, not a listing or a clear. Owners below all collide on session ids
and some of their ids are hostile strings.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiermem import MemoryConfig, TieredMemory
from tiermem.long_term import SCHEMA_VERSION
from tiermem.records import Kind, MemoryRecord, Owner
from tiermem.tools import memory_tools

CONFIG = MemoryConfig(
    tokenizer="cl100k_base",
    short_term={"max_tokens": 120},
    medium_term={"trigger_tokens": 80, "summary_tokens": 60, "max_summaries": 3},
    long_term={"optimize_every": None},
)
HOSTILE = ["alice' OR '1'='1", "x' OR user_key IS NOT NULL OR 'a'='a", "%", "東京🙂"]
SESSIONS = ["default", "s1", "' OR 1=1 --"]
USERS: list[str | None] = [None, "alice", "bob", *HOSTILE[:2]]
AGENTS: list[str | None] = [None, "planner", HOSTILE[2]]
OWNERS: list[Owner] = [(u, a, s) for u, a, s in itertools.product(USERS, AGENTS, SESSIONS)]


def mark(owner: Owner) -> str:
    """A word only this owner ever writes (the ids themselves may be hostile)."""
    return f"mark{OWNERS.index(owner)}x"


def write(mem: TieredMemory, owner: Owner, turns: int = 8) -> None:
    user, agent, session = owner
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        mem.add_message(role, f"{mark(owner)} fact number {i}: the vault code is {mark(owner)}.",
                        session_id=session, user_id=user, agent_id=agent)  # fmt: skip


def visible_marks(text: str) -> set[str]:
    return {mark(o) for o in OWNERS if mark(o) in text}


def allowed(owner: Owner) -> set[str]:
    """Whose marks a context for ``owner`` may show: a named user or agent spans their
    sessions; an anonymous caller sees only its own session's records."""
    user, agent, _session = owner
    if user is None and agent is None:
        return {mark(owner)}
    return {
        mark(o) for o in OWNERS
        if (user is None or o[0] == user) and (agent is None or o[1] == agent)
    }  # fmt: skip


def test_the_reported_leak_is_closed() -> None:
    with TieredMemory("memory://") as mem:
        mem.add_message("user", "My bank PIN is 9931, alice here.", user_id="alice")
        mem.add_message("user", "Hi, I'm Bob.", user_id="bob")
        assert "9931" not in mem.build_context("what is my PIN?", user_id="bob").text
        assert "9931" not in mem.build_context("what is my PIN?").text  # anonymous "default"
        assert "9931" in mem.build_context("what is my PIN?", user_id="alice").text


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store where every owner wrote enough turns to evict and summarise."""
    path = tmp_path_factory.mktemp("crowded") / "store"
    with TieredMemory(path, config=CONFIG) as mem:
        for owner in OWNERS:
            write(mem, owner, turns=14)
    return path


def _check_window_and_summaries(mem: TieredMemory, owner: Owner, text: str) -> None:
    shown = visible_marks(text)
    assert mark(owner) in shown
    assert shown <= allowed(owner), (owner, shown - allowed(owner))


@pytest.fixture(scope="module")
def restarted(crowded: Path) -> Iterator[TieredMemory]:
    """The crowded store opened again: each owner's window is restored from disk on its
    first context, so one instance serves every owner's restart."""
    with TieredMemory(crowded, config=CONFIG) as mem:
        yield mem


@pytest.mark.parametrize("owner", OWNERS, ids=str)
def test_contexts_after_a_restart(restarted: TieredMemory, owner: Owner) -> None:
    user, agent, session = owner
    ctx = restarted.build_context("what is the vault code?", session_id=session,
                                  user_id=user, agent_id=agent, max_tokens=3000)  # fmt: skip
    _check_window_and_summaries(restarted, owner, ctx.text)
    # the recent turns are the short-term window: exactly this owner's
    recent = [m for m in ctx.messages if m["role"] != "system"]
    assert visible_marks(" ".join(str(m["content"]) for m in recent)) == {mark(owner)}


def test_summaries_hold_one_owner_each(crowded: Path) -> None:
    with TieredMemory(crowded, config=CONFIG) as mem:
        summaries = mem.records(kinds=[Kind.SUMMARY])
        assert summaries, "the small window should have folded turns into summaries"
        for summary in summaries:
            assert visible_marks(summary.text) <= {mark(summary.owner)}


@pytest.mark.parametrize("owner", OWNERS[::3], ids=str)
async def test_async_contexts_match(crowded: Path, owner: Owner) -> None:
    user, agent, session = owner
    async with TieredMemory(crowded, config=CONFIG) as mem:
        ctx = await mem.abuild_context(session_id=session, user_id=user, agent_id=agent,
                                       max_tokens=3000)  # fmt: skip
        _check_window_and_summaries(mem, owner, ctx.text)


def test_exact_listing_and_clearing_touch_one_owner() -> None:
    with TieredMemory("memory://", config=CONFIG) as mem:
        shared = [(None, None, "s1"), ("alice", None, "s1"), ("bob", None, "s1"),
                  ("alice", "planner", "s1")]  # fmt: skip
        for owner in shared:
            write(mem, owner, turns=3)
        for owner in shared:
            user, agent, session = owner
            listed = mem.records(user_id=user, agent_id=agent, session_id=session, exact=True)
            assert {r.owner for r in listed} == {owner}
        assert mem.forget_scope(user_id="alice", session_id="s1", exact=True) == 3
        left = {r.owner for r in mem.records(session_id="s1")}
        assert left == {(None, None, "s1"), ("bob", None, "s1"), ("alice", "planner", "s1")}
        # bob's window survives alice's clear, and alice's is empty
        assert mark(("bob", None, "s1")) in mem.build_context(session_id="s1", user_id="bob").text
        assert mem.build_context(session_id="s1", user_id="alice").messages == []


def test_stats_never_show_another_users_window() -> None:
    with TieredMemory("memory://", config=CONFIG) as mem:
        write(mem, ("alice", None, "s1"), turns=2)
        write(mem, ("bob", None, "s1"), turns=4)
        bob = mem.stats(user_id="bob")
        assert bob["turns"] == 4
        assert bob["sessions"]["s1"]["short_term_turns"] == 4


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(writes=st.lists(st.sampled_from(OWNERS), min_size=1, max_size=12),
       reader=st.sampled_from(OWNERS))  # fmt: skip
def test_any_interleaving_keeps_owners_apart(writes: list[Owner], reader: Owner) -> None:
    with TieredMemory("memory://", config=CONFIG) as mem:
        for owner in writes:
            write(mem, owner, turns=2)
        user, agent, session = reader
        ctx = mem.build_context(mark(reader), session_id=session, user_id=user, agent_id=agent)
        assert visible_marks(ctx.text) <= allowed(reader)
        hits = mem.search("vault code fact", user_id=user, agent_id=agent,
                          session_id=None if (user or agent) else session,
                          exact=not (user or agent), k=100)  # fmt: skip
        assert {mark(h.record.owner) for h in hits} <= allowed(reader)


def _legacy_store(path: Path) -> None:
    """A schema-1 store whose one window mixed alice's and bob's turns into a summary."""
    with TieredMemory(path, config=CONFIG) as mem:
        mem.add_message("user", "alice: my PIN is 9931", session_id="s1", user_id="alice")
        mem.add_message("user", "bob: hello there", session_id="s1", user_id="bob")
        mem.add_message("user", "carol alone: my PIN is 4242", session_id="s2", user_id="carol")
        turn = mem.records(user_id="bob")[0]
        vector = next(vec for r, vec in mem.export_records() if r.id == turn.id)
        mixed = MemoryRecord(
            id="0" * 32, kind=Kind.SUMMARY, text="alice: my PIN is 9931 / bob: hello there",
            timestamp=turn.timestamp, session_id="s1", user_id="bob", seq=turn.seq,
            metadata={"covers_seq": [0, turn.seq]}, tokens=12,
        )  # fmt: skip
        alone = MemoryRecord(
            id="1" * 32, kind=Kind.SUMMARY, text="carol's PIN is 4242",
            timestamp=turn.timestamp, session_id="s2", user_id="carol", seq=0,
            metadata={"covers_seq": [0, 0]}, tokens=6,
        )  # fmt: skip
        mem.import_records([(mixed, vector), (alone, vector)])
    import lancedb

    meta = lancedb.connect(str(path)).open_table("tiermem_meta")
    meta.update(where="key = 'schema_version'", values={"value": "1"})


def test_a_schema_1_store_drops_only_the_summaries_that_mixed_owners(tmp_path: Path) -> None:
    path = tmp_path / "legacy"
    _legacy_store(path)
    with TieredMemory(path, config=CONFIG) as mem:
        assert [s.id for s in mem.records(kinds=[Kind.SUMMARY])] == ["1" * 32]
        assert "9931" not in mem.build_context("PIN?", session_id="s1", user_id="bob").text
        assert "9931" in mem.build_context("PIN?", session_id="s1", user_id="alice").text
        assert len(mem.records(kinds=[Kind.TURN])) == 3  # the verbatim turns all stay
    import lancedb

    rows = lancedb.connect(str(path)).open_table("tiermem_meta").to_arrow().to_pylist()
    assert {r["key"]: r["value"] for r in rows}["schema_version"] == str(SCHEMA_VERSION)


def test_remembering_a_fact_twice_keeps_one_memory() -> None:
    with TieredMemory("memory://") as mem:
        first = mem.remember("User is vegetarian", user_id="u1", importance=0.4, tags=["diet"])
        again = mem.remember("  user IS   vegetarian ", user_id="u1", importance=0.9, tags=["x"])
        other = mem.remember("User is vegetarian", user_id="u2")
        assert again.id == first.id
        assert other.id != first.id
        assert (again.importance, again.tags) == (0.9, ("diet", "x"))
        assert len(mem.records(user_id="u1", kinds=[Kind.MEMORY])) == 1
        ctx = mem.build_context("vegetarian?", user_id="u1")
        assert ctx.text.lower().count("vegetarian") == 1


def test_a_forgotten_fact_can_be_remembered_again() -> None:
    with TieredMemory("memory://") as mem:
        first = mem.remember("Lives in Lisbon", user_id="u1")
        mem.forget(first.id)
        again = mem.remember("Lives in Lisbon", user_id="u1")
        assert again.id != first.id
        assert [r.id for r in mem.records(user_id="u1")] == [again.id]


def test_memory_tools_skip_the_window_and_update_a_fact() -> None:
    with TieredMemory("memory://") as mem:
        remember, search, update, _forget = memory_tools(mem, user_id="u1")
        stored = remember.call({"text": "User is vegetarian"}).value
        mem.add_message("user", "What do I eat, vegetarian diet?", user_id="u1")
        mem.add_message("user", "vegetarian question from bob", user_id="bob")
        found = search.call({"query": "What do I eat, vegetarian diet?"}).value
        assert [h["text"] for h in found] == ["User is vegetarian"]
        # the plain search still finds the turn: only the tool skips what the agent sees
        assert "What do I eat" in mem.search("What do I eat", user_id="u1")[0].record.text
        moved = update.call({"memory_id": stored["id"], "text": "User now lives in Porto"}).value
        assert mem.get(stored["id"]).text == "User now lives in Porto" == moved["text"]
        bobs = mem.remember("bob's fact", user_id="bob")
        refused = update.call({"memory_id": bobs.id, "text": "hijacked"})
        assert not refused.ok
        assert mem.get(bobs.id).text == "bob's fact"


async def test_async_memory_tools_skip_the_window() -> None:
    async with TieredMemory("memory://") as mem:
        tools = memory_tools(mem, user_id="u1")
        await mem.aremember("User is vegetarian", user_id="u1")
        await mem.aadd_message("user", "What do I eat, vegetarian diet?", user_id="u1")
        found = (await tools[1].acall({"query": "What do I eat, vegetarian diet?"})).value
        assert [h["text"] for h in found] == ["User is vegetarian"]


def test_exact_and_flags_are_checked() -> None:
    from tiermem import InvalidInputError

    with TieredMemory("memory://") as mem:
        with pytest.raises(InvalidInputError, match="exact"):
            mem.records(exact="yes")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="exclude_recent"):
            mem.search("x", exclude_recent=1)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="deduplicate"):
            mem.remember("x", deduplicate=None)  # type: ignore[arg-type]


def test_concurrent_owners_in_threads_stay_apart() -> None:
    async def main() -> None:
        async with TieredMemory("memory://", config=CONFIG) as mem:
            owners = [("alice", None, "s1"), ("bob", None, "s1"), (None, None, "s1")]
            for owner in owners:
                user, agent, session = owner
                await asyncio.gather(*(
                    mem.aadd_message("user", f"{mark(owner)} turn {i}", session_id=session,
                                     user_id=user, agent_id=agent)
                    for i in range(3)
                ))  # fmt: skip
            for owner in owners:
                user, agent, session = owner
                ctx = await mem.abuild_context(session_id=session, user_id=user, agent_id=agent)
                assert visible_marks(ctx.text) == {mark(owner)}

    asyncio.run(main())
