"""Scopes are isolation boundaries, whatever characters the ids hold."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiermem import InvalidInputError, Scope, TieredMemory

HOSTILE = [
    "alice",
    "alice'",
    "' OR 1=1 --",
    "x' OR user_id IS NOT NULL OR 'a'='a",
    "%",
    "_",
    "*",
    "a\\",
    '"; DROP TABLE records; --',
    "user_key = user_key",
    "ümlaut-東京-🙂",
    "array_has_any(tag_keys, ['x'])",
    " ",
]


@pytest.fixture
def populated() -> TieredMemory:
    mem = TieredMemory("memory://")
    for uid in HOSTILE:
        mem.add_message("user", f"secret of {uid!r}: the shared word is banana",
                        session_id=f"sess-{uid}", user_id=uid)  # fmt: skip
        mem.remember(f"memory of {uid!r}: banana", user_id=uid, agent_id=uid, tags=[uid])
    return mem


@pytest.mark.parametrize("uid", HOSTILE)
def test_search_never_crosses_users(populated: TieredMemory, uid: str) -> None:
    hits = populated.search("banana shared word secret memory", user_id=uid, k=100)
    assert len(hits) == 2
    assert {h.record.user_id for h in hits} == {uid}


@pytest.mark.parametrize("uid", HOSTILE)
def test_agent_session_and_tag_filters_never_widen(populated: TieredMemory, uid: str) -> None:
    by_agent = populated.search("banana", agent_id=uid, k=100)
    by_session = populated.search("banana", session_id=f"sess-{uid}", k=100)
    by_tag = populated.search("banana", tags=[uid], k=100)
    assert {h.record.agent_id for h in by_agent} == {uid}
    assert {h.record.session_id for h in by_session} == {f"sess-{uid}"}
    assert [h.record.user_id for h in by_tag] == [uid]


@pytest.mark.parametrize("uid", HOSTILE)
def test_context_never_crosses_users(populated: TieredMemory, uid: str) -> None:
    ctx = populated.build_context("banana", session_id="fresh", user_id=uid, max_tokens=2000)
    for other in HOSTILE:
        if other != uid:
            assert f"of {other!r}:" not in ctx.text
    assert f"of {uid!r}:" in ctx.text


def test_anonymous_session_sees_only_itself(populated: TieredMemory) -> None:
    populated.add_message("user", "banana bread recipe", session_id="anon")
    ctx = populated.build_context("banana", session_id="anon", max_tokens=2000)
    assert "secret of" not in ctx.text
    assert "memory of" not in ctx.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(min_size=1, max_size=40).filter(
        lambda s: "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
    )
)
def test_any_id_is_its_own_scope(uid: str) -> None:  # fmt: skip
    with TieredMemory("memory://") as mem:
        mem.remember("mine", user_id=uid)
        mem.remember("theirs", user_id=uid + "x")
        mem.remember("nobody's")
        assert [h.record.text for h in mem.search("mine theirs nobody", user_id=uid)] == ["mine"]


@pytest.mark.parametrize("uid", HOSTILE)
def test_stats_count_one_scope_only(populated: TieredMemory, uid: str) -> None:
    stats = populated.stats(user_id=uid)
    assert (stats["turns"], stats["memories"], stats["records"]) == (1, 1, 2)
    assert stats["scope"] == {"user_id": uid}
    session = populated.stats(session_id=f"sess-{uid}")
    assert session["turns"] == 1
    assert session["memories"] == 0  # remember() gave no session
    assert set(session["sessions"]) <= {f"sess-{uid}"}


async def test_stats_of_the_whole_store_and_async_agree(populated: TieredMemory) -> None:
    whole = populated.stats()
    assert whole["records"] == 2 * len(HOSTILE)
    assert "scope" not in whole
    scoped = await populated.astats(agent_id=HOSTILE[2])
    assert scoped["records"] == 1
    assert scoped == populated.stats(agent_id=HOSTILE[2])


def test_neighbour_turns_stay_in_the_scope_when_users_share_a_session_id() -> None:
    mem = TieredMemory("memory://")
    # both users' turns sit at the same (session, seq) positions
    for uid in ("alice", "bob"):
        mem.add_message("user", "Where did the ferry go?", session_id="shared", user_id=uid)
        mem.add_message("assistant", f"{uid}'s ferry went to a private place",
                        session_id="shared", user_id=uid)  # fmt: skip
    ctx = mem.build_context("Where did the ferry go?", session_id="other", user_id="alice")
    assert "alice's ferry" in ctx.text
    assert "bob" not in ctx.text
    assert all(r.user_id == "alice" for c in ctx.kept for r in c.records)


# --- the public Scope ------------------------------------------------------------------


@pytest.mark.parametrize("uid", ["alice", "' OR 1=1 --", "%"])
def test_a_scope_means_what_its_three_ids_mean(uid: str) -> None:
    loose, scoped = TieredMemory("memory://"), TieredMemory("memory://")
    mine, theirs = Scope(user_id=uid, session_id="s"), Scope(user_id=uid + "x", session_id="s")
    for mem in (loose, scoped):
        mem.remember("the other user's banana", scope=theirs)
    loose.add_message("user", "my banana bread", session_id="s", user_id=uid)
    scoped.add_message("user", "my banana bread", scope=mine)
    loose.remember("likes banana", user_id=uid)
    scoped.remember("likes banana", scope=Scope(user_id=uid))
    for found in (
        [h.record.text for h in loose.search("banana", user_id=uid)],
        [h.record.text for h in scoped.search("banana", scope=Scope(user_id=uid))],
    ):
        assert sorted(found) == ["likes banana", "my banana bread"]
    context = scoped.build_context("banana", scope=mine, max_tokens=500)
    assert "other user" not in context.text
    assert "my banana bread" in context.text
    records = scoped.records(scope=Scope(user_id=uid))
    assert {r.owner for r in records} == {(uid, None, "s"), (uid, None, None)}
    assert all(r.owner == mine for r in records if r.session_id == "s")  # a plain tuple
    assert scoped.stats(scope=Scope(user_id=uid))["records"] == 2
    assert scoped.forget_scope(scope=Scope(user_id=uid)) == 2
    assert [h.record.text for h in scoped.search("banana", scope=theirs)] == [
        "the other user's banana"
    ]


async def test_async_calls_take_a_scope_too() -> None:
    mem = TieredMemory("memory://")
    scope = Scope(user_id="u", agent_id="a", session_id="s")
    await mem.aadd_messages([{"role": "user", "content": "I keep bees."}], scope=scope)
    await mem.aremember("Keeps bees", scope=scope)
    assert len(await mem.asearch("bees", scope=scope)) == 2
    assert len(await mem.asearch("bees", scope=Scope(user_id="v"))) == 0
    context = await mem.abuild_context("bees", scope=scope)
    assert "I keep bees." in context.text


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("search", {"query": "x", "user_id": "u"}),
        ("records", {"agent_id": "a"}),
        ("add_message", {"role": "user", "content": "x", "session_id": "other"}),
        ("build_context", {"user_id": "u"}),
        ("forget_scope", {"session_id": "s"}),
    ],
)
def test_a_scope_and_loose_ids_together_are_refused(call: str, kwargs: dict[str, str]) -> None:
    mem = TieredMemory("memory://")
    mem.remember("kept", user_id="u")
    with pytest.raises(InvalidInputError) as caught:
        getattr(mem, call)(scope=Scope(user_id="u"), **kwargs)
    assert caught.value.argument == "scope"
    assert "not both" in str(caught.value)
    assert [r.text for r in mem.records(user_id="u")] == ["kept"]


def test_a_scope_must_be_a_scope() -> None:
    mem = TieredMemory("memory://")
    with pytest.raises(InvalidInputError, match=r"scope: must be a tiermem\.Scope, got dict"):
        mem.search("x", scope={"user_id": "u"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="user_id"):
        mem.search("x", scope=Scope(user_id=""))
