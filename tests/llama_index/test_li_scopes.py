"""Two users on one session id share nothing through the LlamaIndex adapters."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory
from llama_index.memory.tiermem import TieredSummaryBlock, TiermemMemory

import tiermem

HOSTILE = "alice' OR '1'='1"


def _texts(messages: list[ChatMessage]) -> str:
    return " ".join(m.content or "" for m in messages)


def test_memories_on_one_session_id_stay_apart(core: tiermem.TieredMemory) -> None:
    alice = TiermemMemory.from_defaults(memory=core, session_id="chat", user_id="alice")
    bob = TiermemMemory.from_defaults(memory=core, session_id="chat", user_id="bob")
    hostile = TiermemMemory.from_defaults(memory=core, session_id="chat", user_id=HOSTILE)
    anonymous = TiermemMemory.from_defaults(memory=core, session_id="chat")
    for i in range(6):  # enough to evict and summarise
        alice.put(ChatMessage(role="user", content=f"My locker code is 4417, note {i}."))
    bob.put(ChatMessage(role="user", content="Hi, I'm Bob."))
    for other in (bob, hostile, anonymous):
        assert "4417" not in _texts(other.get("locker code?"))
        assert "4417" not in _texts(other.get_all())
    assert "4417" in _texts(alice.get("locker code?"))
    bob.reset()
    assert len(alice.get_all()) == 6
    assert bob.get_all() == []


async def test_async_and_summary_block_stay_apart(core: tiermem.TieredMemory) -> None:
    alice = TiermemMemory.from_defaults(memory=core, session_id="chat", user_id="alice")
    for i in range(16):
        await alice.aput(ChatMessage(role="user", content=f"My locker code is 4417, note {i}."))
    assert core.records(user_id="alice", kinds=["summary"])
    block = TieredSummaryBlock(memory=core, user_id="bob")
    memory = Memory.from_defaults(session_id="chat", token_limit=2000, memory_blocks=[block])
    await memory.aput(ChatMessage(role="user", content="What is my locker code?"))
    assert "4417" not in _texts(await memory.aget())
    anonymous = TiermemMemory.from_defaults(memory=core, session_id="chat")
    assert "4417" not in _texts(await anonymous.aget("locker code?"))
    await anonymous.areset()
    assert len(await alice.aget_all()) == 16
