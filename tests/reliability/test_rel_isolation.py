"""Scope isolation against injection, for every public entry point that filters.

Ids and tags holding quotes, SQL fragments, wildcards, LanceDB filter syntax,
look-alikes of a victim's id (case, padding, confusables, NFD) never widen what
`search`, `build_context`, `records`, `forget_scope`, the by-id calls or the memory
tools see or delete, sync or async.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
import rel_hostile as h
from hypothesis import given, settings
from hypothesis import strategies as st

from tiermem import InvalidInputError, NotFoundError, TieredMemory
from tiermem.tools import ToolRegistry, memory_tools

VICTIMS = ["alice", "bob"]
MARK = "zebra-secret-of-"
SCOPE_FIELDS = ["user_id", "agent_id", "session_id"]


def look_alikes(victim: str) -> st.SearchStrategy[str]:
    """Ids close to a victim's: case, padding, wildcards, quotes, confusables, NFD."""
    return st.sampled_from([
        victim.upper(), f"{victim} ", f" {victim}", f"{victim}%", f"{victim[:-1]}_",
        f"{victim}*", f"{victim}'", f"{victim}' OR '1'='1", f"{victim}\u200b",
        "\u0430" + victim[1:], unicodedata.normalize("NFD", victim + "é"), f"{victim}\\",
        f"%{victim}%", f"{victim}') OR ('a'='a", f"{victim}\n", f"sess-{victim}%",
    ])  # fmt: skip


hostile_id = (
    st.sampled_from(VICTIMS).flatmap(look_alikes) | h.injection
    | st.text(h.any_char, min_size=1, max_size=30)
).filter(lambda s: s not in VICTIMS and s.strip() != "" and "\x00" not in s
         and not h.has_surrogate(s) and len(s) <= 512)  # fmt: skip


def victims_store() -> TieredMemory:
    mem = TieredMemory("memory://", config=h.CONFIG)
    for v in VICTIMS:
        mem.add_message("user", f"{MARK}{v} zebra", session_id=f"sess-{v}", user_id=v,
                        agent_id=v)  # fmt: skip
        mem.remember(f"{MARK}{v} remembered zebra", user_id=v, agent_id=v, session_id=v, tags=[v])
    return mem


def victims_rows(mem: TieredMemory) -> list[str]:
    return sorted(r.id for r, _ in mem.export_records() if MARK in r.text)


def leaked(texts: list[str]) -> set[str]:
    return {v for v in VICTIMS for t in texts if f"{MARK}{v}" in t}


@pytest.fixture
def runner() -> Iterator[h.Runner]:
    r = h.Runner()
    yield r
    r.close()


@pytest.fixture
def mem() -> Iterator[TieredMemory]:
    memory = victims_store()
    yield memory
    memory.close()


def own_records(mem: TieredMemory, scope_id: str) -> None:
    """The hostile scope has records of its own, so a filter has something to match."""
    mem.remember(f"own zebra of {scope_id!r}", user_id=scope_id, agent_id=scope_id,
                 session_id=scope_id, tags=[scope_id])  # fmt: skip


def test_hostile_scope_ids_never_widen_search(runner: h.Runner, mem: TieredMemory) -> None:
    @h.FUZZ
    @given(scope_id=hostile_id, field=st.sampled_from([*SCOPE_FIELDS, "tags"]),
           also_victim=st.booleans(), use_async=st.booleans(),
           write_first=st.booleans())  # fmt: skip
    def check(scope_id: str, field: str, also_victim: bool, use_async: bool,
              write_first: bool) -> None:  # fmt: skip
        if write_first:
            own_records(mem, scope_id)
        kwargs: dict[str, Any] = {"query": "zebra remembered secret", "k": 100}
        kwargs[field] = [scope_id] if field == "tags" else scope_id
        if also_victim and field != "user_id":
            kwargs["user_id"] = VICTIMS[0]  # AND-ed with the hostile id: still nothing
        hits = runner(mem, "search", use_async, kwargs)
        assert leaked([x.record.text for x in hits]) == set()
        for hit in hits:
            if field == "tags":
                assert scope_id in hit.record.tags
            else:
                assert getattr(hit.record, field) == scope_id

    check()


def test_hostile_scope_ids_never_widen_a_context(runner: h.Runner, mem: TieredMemory) -> None:
    @h.FUZZ
    @given(scope_id=hostile_id, field=st.sampled_from(SCOPE_FIELDS), use_async=st.booleans(),
           write_first=st.booleans())  # fmt: skip
    def check(scope_id: str, field: str, use_async: bool, write_first: bool) -> None:
        if write_first:
            own_records(mem, scope_id)
        kwargs: dict[str, Any] = {"query": "zebra secret remembered", "max_tokens": 2_000}
        kwargs[field] = scope_id
        if field != "session_id":
            kwargs["session_id"] = "fresh-session"
        ctx = runner(mem, "build_context", use_async, kwargs)
        assert leaked([ctx.text]) == set()

    check()


def test_hostile_scope_ids_never_widen_a_listing(runner: h.Runner, mem: TieredMemory) -> None:
    @h.FUZZ
    @given(scope_id=hostile_id, field=st.sampled_from([*SCOPE_FIELDS, "tags"]),
           kinds=st.none() | st.just(["memory"]), use_async=st.booleans(),
           write_first=st.booleans())  # fmt: skip
    def check(scope_id: str, field: str, kinds: list[str] | None, use_async: bool,
              write_first: bool) -> None:  # fmt: skip
        if write_first:
            own_records(mem, scope_id)
        kwargs: dict[str, Any] = {field: [scope_id] if field == "tags" else scope_id}
        if kinds is not None:
            kwargs["kinds"] = kinds
        found = runner(mem, "records", use_async, kwargs)
        assert leaked([r.text for r in found]) == set()
        for record in found:
            if field == "tags":
                assert scope_id in record.tags
            else:
                assert getattr(record, field) == scope_id
        if write_first and kinds is not None:
            assert found, "the scope's own memory is listed"

    check()


def test_hostile_scope_ids_never_widen_forget_scope(runner: h.Runner, mem: TieredMemory) -> None:
    victims = victims_rows(mem)

    @h.FUZZ
    @given(scope_id=hostile_id, field=st.sampled_from(SCOPE_FIELDS), use_async=st.booleans())
    def check(scope_id: str, field: str, use_async: bool) -> None:
        own_records(mem, scope_id)
        deleted = runner(mem, "forget_scope", use_async, {field: scope_id})
        assert deleted >= 1  # its own record went
        assert victims_rows(mem) == victims
        assert not [r for r, _ in mem.export_records() if getattr(r, field) == scope_id]

    check()


def test_hostile_record_ids_touch_nothing(runner: h.Runner, mem: TieredMemory) -> None:
    before = h.snapshot(mem)

    @h.FUZZ
    @given(memory_id=hostile_id | st.sampled_from(["' OR id IS NOT NULL OR '", "*", "%"]),
           name=st.sampled_from(["get", "update", "forget"]),
           use_async=st.booleans())  # fmt: skip
    def check(memory_id: str, name: str, use_async: bool) -> None:
        kwargs: dict[str, Any] = {"memory_id": memory_id}
        if name == "update":
            kwargs["text"] = "overwritten"
        with pytest.raises((NotFoundError, InvalidInputError)):
            runner(mem, name, use_async, kwargs)
        assert h.snapshot(mem) == before

    check()


def test_memory_tools_in_a_hostile_scope_reach_no_victim(
    mem: TieredMemory, runner: h.Runner
) -> None:
    victim_ids = victims_rows(mem)

    @settings(h.FUZZ, max_examples=max(h.EXAMPLES // 2, 10))  # a registry and a write each
    @given(scope_id=hostile_id, field=st.sampled_from(SCOPE_FIELDS),
           target=st.sampled_from(victim_ids), use_async=st.booleans())  # fmt: skip
    def check(scope_id: str, field: str, target: str, use_async: bool) -> None:
        with ToolRegistry() as registry:
            memory_tools(mem, registry=registry, **{field: scope_id})

            def call(tool: str, arguments: dict[str, Any]) -> Any:
                if use_async:
                    return runner.loop.run_until_complete(registry.acall(tool, arguments))
                return registry.call(tool, arguments)

            assert call("remember", {"text": "own zebra secret"}).ok
            found = call("search_memory", {"query": "zebra secret remembered", "k": 50})
            assert found.ok
            assert leaked([x["text"] for x in found.value]) == set()
            assert found.value, "the scope's own memory is found"
            refused = call("forget_memory", {"memory_id": target})
            assert refused.error is not None
            assert refused.error.type == "NotFoundError"
        assert victims_rows(mem) == victim_ids

    check()
