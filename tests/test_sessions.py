"""Sessions: each owner's short- and medium-term tiers, restored from the store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tiermem import MemoryConfig, Scope, TieredMemory
from tiermem.effects import run
from tiermem.long_term import Filter
from tiermem.sessions import Sessions

CONFIG = MemoryConfig(
    tokenizer="cl100k_base",
    short_term={"max_tokens": 60},
    medium_term={"trigger_tokens": 40, "summary_tokens": 40, "max_summaries": 3},
)
#: owners that collide on every id but one, and ids that look like filter syntax
OWNERS = [
    Scope("alice", None, "s"),
    Scope("alice", "bot", "s"),
    Scope(None, None, "s"),
    Scope("alice' OR '1'='1", None, "s"),
    Scope("%", "_", "s"),
]


def _fresh(mem: TieredMemory) -> Sessions:
    """A registry like the memory's own, but empty: what a new process starts with."""
    return Sessions(CONFIG.short_term, CONFIG.medium_term, mem.token_counter, threading.RLock())


def _talk(mem: TieredMemory, owner: Scope, turns: int) -> None:
    mem.add_messages(
        [{"role": "user", "content": f"{owner.user_id} says fact number {i} about Lisbon"}
         for i in range(turns)],
        scope=owner,
    )  # fmt: skip


def test_a_restored_session_is_the_one_its_owner_left(tmp_path: Path) -> None:
    with TieredMemory(tmp_path, config=CONFIG) as mem:
        for owner in OWNERS:
            _talk(mem, owner, 12)
        live = {owner: mem._sessions.find(owner) for owner in OWNERS}
    with TieredMemory(tmp_path, config=CONFIG) as mem:
        sessions = _fresh(mem)
        for owner in OWNERS:
            restored = run(sessions.get(owner), mem)
            before = live[owner]
            assert before is not None
            assert [r.id for r in restored.window] == [r.id for r in before.window]
            assert [s.id for s in restored.medium.summaries] == [
                s.id for s in before.medium.summaries
            ]
            assert restored.next_seq == before.next_seq == 12
            # nothing of another owner, whatever their ids share
            assert {r.owner for r in restored.window} == {owner}
            assert all(s.owner == owner for s in restored.medium.summaries)


def test_sequence_numbers_are_reserved_once_across_threads() -> None:
    mem = TieredMemory("memory://", config=CONFIG)
    owner = Scope("u", None, "s")
    session = run(mem._sessions.get(owner), mem)
    taken: list[int] = []
    lock = threading.Lock()

    def reserve() -> None:
        for _ in range(200):
            first = mem._sessions.reserve(session, 3)
            with lock:
                taken.extend(range(first, first + 3))

    threads = [threading.Thread(target=reserve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(4 * 200 * 3))


@pytest.mark.parametrize("owner", OWNERS)
def test_recent_ids_and_windows_stay_within_their_scope(owner: Scope) -> None:
    mem = TieredMemory("memory://", config=CONFIG)
    for each in OWNERS:
        _talk(mem, each, 3)
    exact = Filter.of(owner)
    recent = mem._sessions.recent_ids(exact)
    assert recent
    assert {r.owner for r in mem.records(scope=owner, exact=True) if r.id in recent} == {owner}
    assert len(recent) == len(mem._sessions.find(owner).window)  # type: ignore[union-attr]
    shown = mem._sessions.windows(exact)
    assert list(shown) == ["s"]
    assert shown["s"]["short_term_turns"] == 3


def test_dropping_a_scope_drops_only_its_owners() -> None:
    mem = TieredMemory("memory://", config=CONFIG)
    for owner in OWNERS:
        _talk(mem, owner, 2)
    mem._sessions.drop(Filter(user_id="alice"))  # alice's two sessions, nobody else's
    assert mem._sessions.find(OWNERS[0]) is None
    assert mem._sessions.find(OWNERS[1]) is None
    assert all(mem._sessions.find(owner) is not None for owner in OWNERS[2:])
    # rebuilt from the store when next used: nothing was lost
    context = mem.build_context("Lisbon", scope=OWNERS[0])
    assert "alice says fact number 1" in context.text
