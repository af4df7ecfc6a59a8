"""A key never reads or writes outside its scopes: every endpoint, other users' ids,
hostile ids, no key and a wrong key, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import ADMIN_KEY, ALICE_BOT_KEY, ALICE_KEY, BOB_KEY, Running, serve
from tiermem import MemoryRecord

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

# a word, not digits: a score such as 0.99999999970993181 must not look like a leak
SECRET = "alice's bank PIN word is quokkaberry"
HOSTILE = [
    "alice' OR '1'='1", "alice%", "alice\"; DROP TABLE records; --", "../alice", "../../v1/scopes",
    "alice/../bob", "\uff41\uff4c\uff49\uff43\uff45", "alice\u200b", "Alice", " alice", "*",
    "%2e%2e%2f", "user_key = 'x' OR true", "ali\nce", "🙂alice", "alice\\",
]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("access") / "store"
    for running in serve(folder):
        mem = running.memory
        turn = mem.add_message("user", SECRET, session_id="trip", user_id="alice")
        fact = mem.remember(f"memory: {SECRET}", user_id="alice", tags=["secret"])
        bot = mem.remember(f"bot memory: {SECRET}", user_id="alice", agent_id="bot")
        mem.add_message("user", "bob says hello", session_id="bob-chat", user_id="bob")
        yield running, {"turn": turn.id, "fact": fact.id, "bot": bot.id}


def _snapshot(running: Running) -> list[MemoryRecord]:
    """Alice's records, as stored."""
    return running.memory.records(user_id="alice")


def _every_call(http: httpx.Client, scope: dict[str, Any], ids: dict[str, str]) -> dict[str, int]:
    """Each endpoint once with ``scope``; the status of each."""
    session = {"session_id": scope.get("session_id", "trip")}
    msg = [{"role": "user", "content": "written by an intruder"}]
    calls = {
        "messages": lambda: http.post("/v1/messages", json={**scope, **session, "messages": msg}),
        "memories": lambda: http.post("/v1/memories", json={**scope, "text": "intruder"}),
        "search": lambda: http.post("/v1/search", json={**scope, "query": "PIN bank alice"}),
        "context": lambda: http.post("/v1/context", json={**scope, **session, "query": "PIN"}),
        "records": lambda: http.get("/v1/records", params=scope),
        "sessions": lambda: http.get("/v1/sessions", params=scope),
        "stats": lambda: http.get("/v1/stats", params=scope),
        "export": lambda: http.get("/v1/export", params=scope),
        "forget_where": lambda: http.post("/v1/forget", json={**scope, "dry_run": True}),
        "consolidate": lambda: http.post("/v1/consolidate", json={**scope, "dry_run": True}),
    }
    for name, record_id in ids.items():
        path = f"/v1/records/{quote(record_id, safe='')}"
        calls[f"get {name}"] = lambda p=path: http.get(p)  # type: ignore[misc]
        calls[f"update {name}"] = lambda p=path: http.patch(p, json={"text": "defaced"})  # type: ignore[misc]
        calls[f"forget {name}"] = lambda p=path: http.delete(p)  # type: ignore[misc]
    statuses = {}
    for name, call in calls.items():
        response = call()
        assert "quokkaberry" not in response.text, (name, scope)
        statuses[name] = response.status_code
    return statuses


def test_another_users_scope_is_refused_and_their_records_are_not_there(
    world: tuple[Running, dict[str, str]],
) -> None:
    running, ids = world
    before = _snapshot(running)
    with running.client(BOB_KEY) as bob:
        statuses = _every_call(bob, {"user_id": "alice"}, ids)
        by_scope = {k: v for k, v in statuses.items() if " " not in k}
        assert set(by_scope.values()) == {403}, by_scope
        by_id = {k: v for k, v in statuses.items() if " " in k}
        assert set(by_id.values()) == {404}, by_id
        # with no scope at all, or his own scope and another's session
        assert set(_every_call(bob, {}, {}).values()) == {403}
        # his own scope on alice's session id: allowed, and her turns are not in it
        own = _every_call(bob, {"user_id": "bob", "session_id": "trip"}, {})
        assert own["context"] == 200
        assert own["messages"] == 201
    assert _snapshot(running) == before


def test_a_narrower_grant_reaches_only_its_agent(world: tuple[Running, dict[str, str]]) -> None:
    running, ids = world
    before = _snapshot(running)
    with running.client(ALICE_BOT_KEY) as bot:
        # alice's records outside the agent, and alice's scope without naming the agent
        statuses = _every_call(
            bot, {"user_id": "alice"}, {"turn": ids["turn"], "fact": ids["fact"]}
        )
        assert {v for k, v in statuses.items() if " " not in k} == {403}
        assert {v for k, v in statuses.items() if " " in k} == {404}
        own = bot.get(f"/v1/records/{ids['bot']}")
        assert own.status_code == 200
        hits = bot.post("/v1/search", json={"user_id": "alice", "agent_id": "bot",
                                            "query": "bank PIN"}).json()  # fmt: skip
        assert [h["record"]["id"] for h in hits] == [ids["bot"]]
    assert _snapshot(running) == before


def test_no_key_and_a_wrong_key_are_401_everywhere(world: tuple[Running, dict[str, str]]) -> None:
    running, ids = world
    before = _snapshot(running)
    for key in (None, "wrong-key-0123456789abcdef", ALICE_KEY + "x", ALICE_KEY[:-1], ""):
        with running.client(key) as http:
            statuses = _every_call(http, {"user_id": "alice"}, ids)
            assert set(statuses.values()) == {401}, (key, statuses)
    with httpx.Client(base_url=running.url, headers={"X-API-Key": BOB_KEY}) as other_header:
        assert other_header.get("/v1/scopes").json()["name"] == "bob"
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Basic {ALICE_KEY}"}) as b:
        assert b.get("/v1/scopes").status_code == 401
    assert _snapshot(running) == before


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_never_reach_another_scope(
    world: tuple[Running, dict[str, str]], hostile: str
) -> None:
    running, ids = world
    alice_before = running.memory.records(user_id="alice")
    with running.client(BOB_KEY) as bob:
        statuses = _every_call(bob, {"user_id": hostile}, {"hostile": hostile})
        assert {v for k, v in statuses.items() if " " not in k} == {403}
        assert {v for k, v in statuses.items() if " " in k} == {404}
    with running.client(ADMIN_KEY) as admin:
        # the admin may use any id: an id is a name, never a pattern or a path
        scope = {"user_id": hostile, "session_id": f"s-{hostile}"}
        statuses = _every_call(admin, scope, {"hostile": hostile})
        assert statuses["messages"] == 201
        assert statuses["get hostile"] == 404
        hits = admin.post("/v1/search", json={"user_id": hostile, "query": "PIN bank alice"})
        assert {h["record"]["user_id"] for h in hits.json()} <= {hostile}
        listed = admin.get("/v1/records", params={"user_id": hostile}).json()["records"]
        assert {r["user_id"] for r in listed} == {hostile}
        assert admin.get(f"/v1/records/{ids['fact']}").status_code == 200
    assert running.memory.records(user_id="alice") == alice_before
    running.memory.forget_scope(user_id=hostile)
