"""`TieredChatMessageHistory`: message types round-trip; `RunnableWithMessageHistory` end to end."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from lc_fakes import scripted, tokens_of

from langchain_tiermem import TieredChatMessageHistory
from tiermem import MemoryConfig, MessageTooLargeError, TieredMemory

TOOL_EXCHANGE: list[BaseMessage] = [
    SystemMessage("Answer briefly."),
    HumanMessage("What is the weather in Porto?", name="ana"),
    AIMessage(
        content="",
        tool_calls=[
            {"name": "weather", "args": {"city": "Porto"}, "id": "call_1"},
            {"name": "clock", "args": {"tz": "Europe/Lisbon"}, "id": "call_2"},
        ],
    ),
    ToolMessage("Sunny, 21 C", tool_call_id="call_1", name="weather"),
    ToolMessage("timeout", tool_call_id="call_2", name="clock", status="error"),
    AIMessage("It is sunny and 21 C in Porto."),
]


def _shape(messages: list[BaseMessage]) -> list[tuple[object, ...]]:
    return [
        (
            type(m).__name__, m.text, m.name,
            [(c["name"], c["args"], c["id"]) for c in getattr(m, "tool_calls", [])],
            getattr(m, "tool_call_id", None), getattr(m, "status", None),
        )
        for m in messages
    ]  # fmt: skip


def test_messages_round_trip_with_tool_calls(roomy_memory: TieredMemory) -> None:
    history = TieredChatMessageHistory(roomy_memory, "h1")
    history.add_messages(TOOL_EXCHANGE)
    assert _shape(history.messages) == _shape(TOOL_EXCHANGE)
    # the tool-calling AI turn is stored empty, and comes back empty
    assert history.messages[2].content == ""
    stored = roomy_memory.records(session_id="h1")
    assert stored[2].text == ""
    assert [c["id"] for c in stored[2].metadata["tool_calls"]] == ["call_1", "call_2"]


async def test_async_round_trip_and_clear(roomy_memory: TieredMemory) -> None:
    memory = roomy_memory
    history = TieredChatMessageHistory(memory, "h2", user_id="u1")
    await history.aadd_messages(TOOL_EXCHANGE)
    await history.aadd_messages([HumanMessage("Thanks!")])
    assert _shape(await history.aget_messages()) == _shape(
        [*TOOL_EXCHANGE, HumanMessage("Thanks!")]
    )
    other = TieredChatMessageHistory(memory, "h3", user_id="u1")
    other.add_user_message("Keep me.")
    await history.aclear()
    assert await history.aget_messages() == []
    assert [m.text for m in other.messages] == ["Keep me."]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_runnable_with_message_history_end_to_end(memory: TieredMemory) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are terse."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    model = scripted(*(f"Reply {n}." for n in range(9)))
    chain = RunnableWithMessageHistory(
        prompt | model,
        lambda session_id: TieredChatMessageHistory(memory, session_id, max_tokens=200),
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "rw1"}}
    questions = [
        "My bike lock combination is 9052, remember it.",
        *(f"Give me idea number {n} for a rainy weekend with two kids at home." for n in range(6)),
        "Do you remember my bike lock combination?",
        "What was my bike lock combination?",
    ]
    for question in questions:
        chain.invoke({"question": question}, config)
    received = model.received[-1]
    assert received[-1].text == "What was my bike lock combination?"
    history = received[1:-1]
    assert tokens_of(history) <= 200
    assert "9052" in history[0].text  # the memory message: from eight exchanges back
    assert "Relevant memory" in history[0].text
    # every exchange was stored, question and answer
    assert memory.stats()["turns"] == 2 * len(questions)
    # another session sees nothing of this one
    assert TieredChatMessageHistory(memory, "rw2").messages == []


async def test_add_messages_is_one_write_all_or_none() -> None:
    config = MemoryConfig(tokenizer="cl100k_base", short_term={"max_message_tokens": 50})
    with TieredMemory("memory://", config=config) as memory:
        history = TieredChatMessageHistory(memory, "bulk")
        batch = [HumanMessage("A short one."), AIMessage("word " * 200)]
        with pytest.raises(MessageTooLargeError):
            history.add_messages(batch)
        with pytest.raises(MessageTooLargeError):
            await history.aadd_messages(batch)
        assert memory.records(session_id="bulk") == []  # the short one was not written alone
        history.add_messages(batch[:1])
        await history.aadd_messages([AIMessage("Noted.")])
        assert [r.seq for r in memory.records(session_id="bulk")] == [0, 1]
