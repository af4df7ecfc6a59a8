"""Explicit memories: one per fact and owner, never merged across owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tiermem import MemoryConfig, Scope, TieredMemory

OWNERS = [
    Scope("alice"),
    Scope("alice", "bot"),
    Scope("alice", None, "s"),
    Scope(None, "bot"),
    Scope("alice' OR '1'='1"),
    Scope("ALICE"),
]


@pytest.fixture
def mem() -> TieredMemory:
    return TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base"))


def test_the_same_fact_is_one_memory_per_owner_never_shared(mem: TieredMemory) -> None:
    first = {owner: mem.remember("Prefers green tea", scope=owner) for owner in OWNERS}
    again = {owner: mem.remember("  prefers GREEN tea ", scope=owner) for owner in OWNERS}
    assert len({m.id for m in first.values()}) == len(OWNERS)  # one each, none shared
    assert all(again[owner].id == first[owner].id for owner in OWNERS)
    for owner in OWNERS:
        found = mem.records(scope=owner, exact=True, kinds=["memory"])
        assert [r.id for r in found] == [first[owner].id]


def test_saying_it_again_keeps_the_most_of_both(mem: TieredMemory) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    later = datetime.now(UTC) + timedelta(days=3)
    first = mem.remember("Lives in Porto", user_id="u", importance=0.9, tags=["home"],
                         expires_at=soon)  # fmt: skip
    merged = mem.remember("lives in porto", user_id="u", importance=0.2, tags=["city"],
                          expires_at=later, metadata={"source": "chat"})  # fmt: skip
    assert merged.id == first.id
    assert merged.importance == 0.9
    assert merged.tags == ("home", "city")
    assert merged.expires_at == later
    assert merged.metadata == {"source": "chat"}
    assert mem.get(first.id) == merged  # stored, not only returned


def test_a_fact_said_without_expiry_never_expires(mem: TieredMemory) -> None:
    mem.remember("Has a cat", user_id="u", ttl=60)
    assert mem.remember("has a cat", user_id="u").expires_at is None


def test_an_edited_memory_is_known_by_its_new_text(mem: TieredMemory) -> None:
    record = mem.remember("Drinks coffee", user_id="u")
    mem.update(record.id, text="Drinks tea")
    assert mem.remember("drinks tea", user_id="u").id == record.id
    assert mem.remember("drinks coffee", user_id="u").id != record.id


def test_another_process_sees_the_memories_already_there(tmp_path: object) -> None:
    folder = str(tmp_path)
    with TieredMemory(folder) as first:
        kept = first.remember("Allergic to peanuts", user_id="u")
    with TieredMemory(folder) as second:
        assert second.remember("allergic to PEANUTS", user_id="u").id == kept.id
        assert second.remember("allergic to peanuts", user_id="v").id != kept.id


def test_deduplicate_off_keeps_each_call(mem: TieredMemory) -> None:
    a = mem.remember("Same text", user_id="u", deduplicate=False)
    b = mem.remember("Same text", user_id="u", deduplicate=False)
    assert a.id != b.id
    assert len(mem.records(user_id="u", kinds=["memory"])) == 2
