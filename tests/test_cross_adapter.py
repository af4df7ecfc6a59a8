"""The LangChain and LlamaIndex adapters agree: a store written through one reads the
same through the other, and clearing a session means the same in both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.memory.tiermem import TiermemMemory as LlamaIndexMemory

from langchain_tiermem import TieredChatMessageHistory, TiermemMemory
from tiermem import Kind, MemoryConfig, Scope, TieredMemory

CONFIG = MemoryConfig(tokenizer="cl100k_base")
CALL = {"name": "weather", "args": {"city": "Porto"}, "id": "c1"}


@pytest.fixture
def mem() -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=CONFIG) as memory:
        yield memory


def test_empty_turns_written_by_langchain_read_back_through_llama_index(
    mem: TieredMemory,
) -> None:
    TieredChatMessageHistory(mem, "s", user_id="u").add_messages(
        [
            SystemMessage(""),
            HumanMessage(""),
            AIMessage("", tool_calls=[CALL]),
            ToolMessage("", tool_call_id="c1"),
            AIMessage(""),
        ]
    )
    read = LlamaIndexMemory.from_defaults(memory=mem, session_id="s", user_id="u").get_all()
    assert [m.role.value for m in read] == ["system", "user", "assistant", "tool", "assistant"]
    assert [m.content for m in read] == ["", "", None, "", ""]
    calls = [b for b in read[2].blocks if isinstance(b, ToolCallBlock)]
    assert [(c.tool_call_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("c1", "weather", {"city": "Porto"})
    ]
    assert read[3].additional_kwargs["tool_call_id"] == "c1"


def test_empty_turns_written_by_llama_index_read_back_through_langchain(
    mem: TieredMemory,
) -> None:
    memory = LlamaIndexMemory.from_defaults(memory=mem, session_id="s", user_id="u")
    call = ToolCallBlock(tool_call_id="c1", tool_name="weather", tool_kwargs={"city": "Porto"})
    memory.put_messages(
        [
            ChatMessage(role="user", content=""),
            ChatMessage(role="assistant", blocks=[call]),
            ChatMessage(role="tool", content="", additional_kwargs={"tool_call_id": "c1"}),
            ChatMessage(role="assistant", content=" "),
        ]
    )
    read = TieredChatMessageHistory(mem, "s", user_id="u").messages
    assert [type(m) for m in read] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert [m.text for m in read] == ["", "", "", ""]
    assert read[1].tool_calls == [{**CALL, "type": "tool_call"}]


def test_stand_ins_of_both_old_conventions_read_back_empty_through_both(
    mem: TieredMemory,
) -> None:
    # what each adapter stored before they shared one rule: LlamaIndex, then LangChain
    mem.add_message("user", "(empty)", session_id="s")
    mem.add_message("user", "[empty user message]", session_id="s", metadata={"placeholder": True})
    li_memory = LlamaIndexMemory.from_defaults(memory=mem, session_id="s")
    langchain = [m.text for m in TieredChatMessageHistory(mem, "s").messages]
    llama_index = [m.content for m in li_memory.get_all()]
    assert langchain == llama_index == ["", ""]


# --- clearing a session --------------------------------------------------------------

Clear = Callable[[TieredMemory], Awaitable[None]]


async def _history_clear(mem: TieredMemory) -> None:
    TieredChatMessageHistory(mem, "s", user_id="u").clear()


async def _history_aclear(mem: TieredMemory) -> None:
    await TieredChatMessageHistory(mem, "s", user_id="u").aclear()


async def _memory_clear(mem: TieredMemory) -> None:
    TiermemMemory(memory=mem, session_id="s", user_id="u").clear()


async def _memory_aclear(mem: TieredMemory) -> None:
    await TiermemMemory(memory=mem, session_id="s", user_id="u").aclear()


async def _llama_index_reset(mem: TieredMemory) -> None:
    LlamaIndexMemory.from_defaults(memory=mem, session_id="s", user_id="u").reset()


async def _llama_index_areset(mem: TieredMemory) -> None:
    await LlamaIndexMemory.from_defaults(memory=mem, session_id="s", user_id="u").areset()


@pytest.mark.parametrize(
    "clear",
    [_history_clear, _history_aclear, _memory_clear, _memory_aclear, _llama_index_reset,
     _llama_index_areset],
)  # fmt: skip
async def test_clearing_a_session_forgets_its_conversation_and_keeps_memories(
    clear: Clear,
) -> None:
    config = MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 60},
        medium_term={"trigger_tokens": 30, "summary_tokens": 40},
    )
    with TieredMemory("memory://", config=config) as mem:
        for n in range(8):
            mem.add_message("user", f"Message {n}: I moved to Lisbon with my two cats.",
                            session_id="s", user_id="u")  # fmt: skip
        mem.add_message("user", "Another user, same session id.", session_id="s", user_id="v")
        mem.add_message("user", "Another session of mine.", session_id="t", user_id="u")
        mem.remember("Allergic to peanuts", session_id="s", user_id="u")
        mine = {r.kind for r in mem.records(session_id="s", user_id="u", exact=True)}
        assert mine == {Kind.TURN, Kind.SUMMARY, Kind.MEMORY}

        await clear(mem)

        left = mem.records(session_id="s", user_id="u", exact=True)
        assert [(r.kind, r.text) for r in left] == [(Kind.MEMORY, "Allergic to peanuts")]
        assert [r.text for r in mem.records(session_id="s", user_id="v")] == [
            "Another user, same session id."
        ]
        assert [r.text for r in mem.records(session_id="t")] == ["Another session of mine."]
        # the session goes on from a clean history
        mem.add_message("user", "Starting over.", session_id="s", user_id="u")
        context = mem.build_context("peanuts", session_id="s", user_id="u")
        assert [m["content"] for m in context.messages][-1] == "Starting over."


def test_every_adapter_holds_one_scope(mem: TieredMemory) -> None:
    from langchain_tiermem import TieredMemoryRetriever, TieredMemoryStore
    from openai_agents_tiermem import TieredSession
    from pydantic_ai_tiermem import TieredHistory

    scope = Scope(user_id="u", agent_id="a", session_id="s")
    held = [
        TieredChatMessageHistory(mem, "s", user_id="u", agent_id="a").scope,
        TiermemMemory(memory=mem, session_id="s", user_id="u", agent_id="a").scope,
        TieredMemoryRetriever(memory=mem, session_id="s", user_id="u", agent_id="a").scope,
        LlamaIndexMemory.from_defaults(memory=mem, session_id="s", user_id="u", agent_id="a").scope,
        TieredSession(mem, "s", user_id="u", agent_id="a").scope,
        TieredHistory(mem, session_id="s", user_id="u", agent_id="a").scope,
    ]
    assert held == [scope] * len(held)
    assert TieredMemoryStore(mem, user_id="u", agent_id="a").scope == Scope("u", "a")
