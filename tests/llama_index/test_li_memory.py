"""`TiermemMemory` as a LlamaIndex `BaseMemory`: the sync and async API on a real store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.memory.types import BaseMemory
from llama_index.memory.tiermem import LLMSummarizer, TiermemMemory

import tiermem

FACTS = [
    ChatMessage(role="user", content="My sister Ana lives in Lisbon since May 2021."),
    ChatMessage(role="assistant", content="Noted: Ana, Lisbon, since May 2021."),
    ChatMessage(role="user", content="I keep bees on the roof of our house in Porto."),
    ChatMessage(role="assistant", content="Bees on a Porto roof, lovely."),
]
FILLER = [
    ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"Small talk number {i}.")
    for i in range(30)
]
CALL = ChatMessage(
    role="assistant",
    blocks=[ToolCallBlock(tool_call_id="c1", tool_name="weather", tool_kwargs={"city": "Porto"})],
)
RESULT = ChatMessage(role="tool", content="Sunny, 24 C", additional_kwargs={"tool_call_id": "c1"})


def _texts(messages: list[ChatMessage]) -> list[str]:
    return [m.content or "" for m in messages]


def test_is_a_base_memory_and_round_trips_a_session(core: tiermem.TieredMemory) -> None:
    memory = TiermemMemory.from_defaults(memory=core, session_id="s1")
    assert isinstance(memory, BaseMemory)
    memory.put_messages([*FACTS, CALL, RESULT])
    stored = memory.get_all()
    assert _texts(stored) == [*_texts(FACTS), "", "Sunny, 24 C"]
    assert [b.tool_name for b in stored[4].blocks if isinstance(b, ToolCallBlock)] == ["weather"]
    assert stored[5].additional_kwargs["tool_call_id"] == "c1"
    # another session of the same store is another history
    assert TiermemMemory.from_defaults(memory=core, session_id="s2").get_all() == []
    with pytest.raises(ValueError, match="not both"):
        TiermemMemory.from_defaults("elsewhere", memory=core)


async def test_async_api_matches_sync(core: tiermem.TieredMemory) -> None:
    sync = TiermemMemory.from_defaults(memory=core, session_id="sync")
    asyn = TiermemMemory.from_defaults(memory=core, session_id="async")
    sync.put_messages(FACTS)
    await asyn.aput_messages(FACTS)
    assert _texts(sync.get_all()) == _texts(await asyn.aget_all())
    assert _texts(sync.get("Where does Ana live?")) == _texts(
        await asyn.aget("Where does Ana live?")
    )


def test_get_brings_back_an_evicted_fact_within_the_budget(core: tiermem.TieredMemory) -> None:
    memory = TiermemMemory.from_defaults(memory=core, session_id="s", max_tokens=200)
    memory.put_messages([*FACTS, *FILLER])
    messages = memory.get("Where does my sister live?")
    assert messages[0].role == "system"
    assert "Lisbon" in (messages[0].content or "")
    assert messages[-1].content == FILLER[-1].content  # the newest turn is always there
    context = core.build_context("Where does my sister live?", session_id="s", max_tokens=200)
    assert context.token_count <= 200
    assert len(messages) == len(context.messages)
    # a smaller budget per call, same rule
    assert len(memory.get("Where does my sister live?", max_tokens=60)) < len(messages)


async def test_set_replaces_and_reset_forgets_the_session(core: tiermem.TieredMemory) -> None:
    memory = TiermemMemory.from_defaults(memory=core, session_id="s")
    other = TiermemMemory.from_defaults(memory=core, session_id="other")
    memory.put_messages([*FACTS, *FILLER])  # enough to leave summaries behind
    other.put(FACTS[0])
    core.remember("Ana prefers tea", session_id="s")
    assert core.stats()["summaries"] >= 1
    memory.set(FACTS[:2])
    assert _texts(memory.get_all()) == _texts(FACTS[:2])
    await memory.aset(FACTS[2:])
    assert _texts(await memory.aget_all()) == _texts(FACTS[2:])
    await memory.areset()
    assert await memory.aget_all() == []
    stats = core.stats()
    assert stats["summaries"] == 0
    assert stats["memories"] == 1  # explicit memories are not chat history
    assert _texts(other.get_all()) == _texts(FACTS[:1])
    memory.put(FACTS[0])
    memory.reset()
    assert memory.get_all() == []
    assert core.stats()["memories"] == 1


async def test_reset_of_a_session_without_memories_forgets_it_whole(
    core: tiermem.TieredMemory,
) -> None:
    memory = TiermemMemory.from_defaults(memory=core, session_id="s", user_id="u1")
    other = TiermemMemory.from_defaults(memory=core, session_id="other", user_id="u1")
    memory.put_messages([*FACTS, *FILLER])
    other.put(FACTS[0])
    core.remember("Ana prefers tea", user_id="u1")  # the user's, not the session's
    assert core.records(session_id="s", kinds=["summary"])
    await memory.areset()
    assert core.records(session_id="s") == []
    assert await memory.aget_all() == []
    assert "Small talk" not in str(await memory.aget("hello"))  # the tiers were rebuilt too
    assert _texts(other.get_all()) == _texts(FACTS[:1])
    assert core.stats()["memories"] == 1
    memory.put_messages(FACTS[:2])  # the session starts again, in order
    assert _texts(memory.get_all()) == _texts(FACTS[:2])
    memory.reset()
    assert core.records(session_id="s") == []


async def test_a_huge_tool_result_is_stored_truncated(
    core: tiermem.TieredMemory, caplog: pytest.LogCaptureFixture
) -> None:
    memory = TiermemMemory.from_defaults(memory=core, session_id="big")
    rows = "\n".join(f"row {i}: sensor={i * 7 % 13} status=ok" for i in range(2_000))
    huge = ChatMessage(role="tool", content=rows, additional_kwargs={"tool_call_id": "c1"})
    limit = core.config.context.max_tokens
    assert core.token_counter.count(rows) > 10 * limit
    with pytest.raises(tiermem.MessageTooLargeError):  # what the core alone does
        core.add_message("tool", rows, session_id="raw", metadata={"tool_call_id": "c1"})
    with caplog.at_level(logging.WARNING, logger="llama_index.memory.tiermem"):
        memory.put(CALL)
        memory.put(huge)
        await memory.aput(huge)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "tokens cut off" in warnings[0].getMessage()
    stored = core.records(session_id="big")
    assert [r.role for r in stored] == ["assistant", "tool", "tool"]
    for record in stored[1:]:
        assert record.tokens <= limit
        dropped = record.metadata["truncated_tokens"]
        assert record.text.endswith(f"…[truncated {dropped} tokens]")
        assert rows.startswith(record.text.rsplit("\n…[truncated", 1)[0])
        assert record.metadata["tool_call_id"] == "c1"
    back = memory.get_all()
    assert back[1].additional_kwargs["tool_call_id"] == "c1"
    assert "…[truncated" in (back[1].content or "")
    # what fits is stored as it is, with no warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="llama_index.memory.tiermem"):
        memory.put(RESULT)
    assert caplog.records == []
    assert "truncated_tokens" not in core.records(session_id="big")[-1].metadata


def test_user_scope_spans_sessions(core: tiermem.TieredMemory) -> None:
    monday = TiermemMemory.from_defaults(memory=core, session_id="mon", user_id="u1")
    monday.put_messages([*FACTS, *FILLER])
    tuesday = TiermemMemory.from_defaults(memory=core, session_id="tue", user_id="u1")
    tuesday.put(ChatMessage(role="user", content="Hello again"))
    found = tuesday.get("Where does my sister Ana live?")
    assert "Lisbon" in (found[0].content or "")
    stranger = TiermemMemory.from_defaults(memory=core, session_id="x", user_id="u2")
    stranger.put(ChatMessage(role="user", content="Hi"))
    assert all("Lisbon" not in (m.content or "") for m in stranger.get("Where does Ana live?"))


def test_from_defaults_plugs_in_llama_index_models(
    tmp_path: Path, li_config: tiermem.MemoryConfig
) -> None:
    memory = TiermemMemory.from_defaults(
        tmp_path / "store",
        config=li_config,
        session_id="s",
        embed_model=MockEmbedding(embed_dim=8),
        llm=MockLLM(max_tokens=12),
    )
    try:
        assert memory.memory.embedder.dimensions == 8
        assert isinstance(memory.memory.summarizer, LLMSummarizer)
        memory.put_messages([*FACTS, *FILLER])
        stats = memory.memory.stats()
        assert stats["summaries"] >= 1
        summaries = memory.memory.search("text", session_id="s")
        assert any(hit.record.kind is tiermem.Kind.SUMMARY for hit in summaries)
    finally:
        memory.close()
    # the folder keeps everything: a new process-like open sees the same session
    reopened = TiermemMemory.from_defaults(
        tmp_path / "store",
        config=li_config,
        session_id="s",
        embed_model=MockEmbedding(embed_dim=8),
    )
    try:
        assert len(reopened.get_all()) == len(FACTS) + len(FILLER)
    finally:
        reopened.close()
