"""tiermem blocks inside LlamaIndex's own `Memory`: flush, recall, summaries, truncation."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.memory.tiermem import TieredLongTermBlock, TieredSummaryBlock

import tiermem

FACT = ChatMessage(role="user", content="My sister Ana moved to Lisbon in May 2021.")
CHAT = [
    ChatMessage(
        role="user" if i % 2 == 0 else "assistant",
        content=f"Line {i}: we talked about gardening, tomatoes and rain in week {i}.",
    )
    for i in range(30)
]
QUESTION = "Where did my sister Ana move to?"


def _memory(core: tiermem.TieredMemory) -> Memory:
    return Memory.from_defaults(
        session_id="s",
        token_limit=2_000,
        chat_history_token_ratio=0.05,  # a FIFO of 100 tokens: the fact is flushed soon
        token_flush_size=40,
        memory_blocks=[
            # the summary block shows the summaries: the search leaves them out
            TieredLongTermBlock(memory=core, k=3, include_summaries=False),
            TieredSummaryBlock(memory=core),
        ],
    )


def _section(system: str, name: str) -> str:
    if f"<{name}>" not in system:
        return ""
    return system.split(f"<{name}>")[1].split(f"</{name}>", maxsplit=1)[0]


async def test_flushed_fact_is_recalled_through_the_long_term_block(
    core: tiermem.TieredMemory,
) -> None:
    memory = _memory(core)
    await memory.aput_messages([FACT, *CHAT])
    active = await memory.aget_all(status=MessageStatus.ACTIVE)
    assert FACT.content not in [m.content for m in active]  # it left the FIFO...
    stored = core.search("Lisbon", session_id="s")
    assert stored[0].record.text == FACT.content  # ...into tiermem, once

    messages = await memory.aget(input=QUESTION)
    assert messages[0].role == "system"
    system = messages[0].content or ""
    assert "<tiermem_long_term>" in system
    assert "Lisbon" in system
    assert "<tiermem_summaries>" in system  # tiermem's own window evicted: summaries exist
    assert core.stats()["summaries"] >= 1


async def test_summary_block_is_truncated_first(core: tiermem.TieredMemory) -> None:
    memory = _memory(core)
    await memory.aput_messages([FACT, *CHAT])
    long_term, summaries = memory.memory_blocks
    history = [ChatMessage(role="user", content=QUESTION)]
    lt_text = await long_term.aget(history, session_id="s")
    sum_text = await summaries.aget(history, session_id="s")
    assert lt_text
    assert sum_text

    def tokens(text: str) -> int:
        return len(memory.tokenizer_fn(text))

    active = await memory.aget_all(status=MessageStatus.ACTIVE)
    needed = sum(tokens(m.content or "") for m in active)  # the input is not counted
    # one token over: llama-index truncates the lowest priority number first (summaries: 1)
    memory.token_limit = needed + tokens(lt_text) + tokens(sum_text) - 1
    system = (await memory.aget(input=QUESTION))[0].content or ""
    assert _section(system, "tiermem_long_term").strip() == lt_text
    kept = _section(system, "tiermem_summaries").strip()
    assert kept == sum_text.split("\n", 1)[1]  # the oldest summary went first, only it

    # priority 0 is never truncated, whatever the limit
    long_term.priority = 0
    memory.token_limit = needed
    system = (await memory.aget(input=QUESTION))[0].content or ""
    assert _section(system, "tiermem_long_term").strip() == lt_text
    assert "<tiermem_summaries>" not in system


async def test_atruncate_drops_whole_lines(core: tiermem.TieredMemory) -> None:
    block = TieredLongTermBlock(memory=core)
    text = "- a: first line\n- b: second line\n- c: third line"
    assert await block.atruncate(text, 1) == "- a: first line\n- b: second line"
    assert await block.atruncate(text, 10_000) is None
    assert await block.atruncate([], 5) is None  # type: ignore[arg-type]  # Memory passes []
    summaries = TieredSummaryBlock(memory=core)
    assert await summaries.atruncate(text, 1) == "- b: second line\n- c: third line"


async def test_blocks_scope_and_bound_their_text(core: tiermem.TieredMemory) -> None:
    block = TieredLongTermBlock(memory=core, user_id="u1", max_tokens=30)
    await block.aput([FACT, *CHAT[:6]], from_short_term_memory=True, session_id="monday")
    # the user's scope spans sessions; another user's does not see it
    found = await block.aget([ChatMessage(role="user", content=QUESTION)], session_id="tuesday")
    assert "Lisbon" in found
    assert core.token_counter.count(found) <= 30
    stranger = TieredLongTermBlock(memory=core, user_id="u2")
    assert await stranger.aget([ChatMessage(role="user", content=QUESTION)]) == ""
    # without a user or agent, only the Memory's own session is searched
    anonymous = TieredLongTermBlock(memory=core)
    assert await anonymous.aget([ChatMessage(role="user", content=QUESTION)], session_id="x") == ""
    # what is still in the chat history is not repeated
    assert "Lisbon" not in await block.aget([FACT])


async def test_a_huge_flushed_message_is_stored_truncated(core: tiermem.TieredMemory) -> None:
    block = TieredLongTermBlock(memory=core)
    huge = ChatMessage(role="user", content="lorem ipsum dolor " * 2_000)
    await block.aput([huge, FACT], from_short_term_memory=True, session_id="s")
    stored = core.records(session_id="s")
    assert [r.text for r in stored][1] == FACT.content
    assert stored[0].metadata["truncated_tokens"] > 0
    assert stored[0].tokens <= core.config.context.max_tokens
