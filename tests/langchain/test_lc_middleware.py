"""`TieredContextMiddleware` in a real `create_agent` loop driven by a fake tool-calling model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from lc_fakes import ScriptedChatModel, scripted, tokens_of

from langchain_tiermem import TieredContextMiddleware
from tiermem import TieredMemory

BUDGET = 300
CITIES = ["Porto", "Oslo", "Rome", "Quito", "Nairobi"]


@tool
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny and 21 C in {city}, with a light breeze from the west and no rain expected."


def _call(city: str, n: int) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": "weather", "args": {"city": city}, "id": f"call_{n}"}]
    )


def _script() -> ScriptedChatModel:
    replies: list[AIMessage | str] = ["Noted, I will remember your locker code."]
    for n, city in enumerate(CITIES):
        replies += [_call(city, n), f"It is sunny in {city} today, enjoy the walk outside."]
    replies.append("Your locker code is 4417.")
    return scripted(*replies)


def _questions() -> list[str]:
    first = "Hi! My gym locker code is 4417, please remember it for me."
    middle = [f"What is the weather like in {city} right now, and should I pack a coat?"
              for city in CITIES]  # fmt: skip
    return [first, *middle, "What is my gym locker code again?"]


def _assert_pairs_intact(messages: Sequence[BaseMessage]) -> None:
    """Every tool call is answered right after it, every tool result follows its call."""
    for i, message in enumerate(messages):
        if isinstance(message, AIMessage) and message.tool_calls:
            ids = {c["id"] for c in message.tool_calls}
            following = messages[i + 1 : i + 1 + len(ids)]
            assert {m.tool_call_id for m in following if isinstance(m, ToolMessage)} == ids
        if isinstance(message, ToolMessage):
            calls = [m for m in messages[:i] if isinstance(m, AIMessage) and m.tool_calls]
            assert calls, "a tool result without its call"
            assert message.tool_call_id in {c["id"] for c in calls[-1].tool_calls}


def _check(model: ScriptedChatModel) -> None:
    assert len(model.received) == 1 + 2 * len(CITIES) + 1
    for messages in model.received:
        assert tokens_of(messages) <= BUDGET
        _assert_pairs_intact(messages)
    last = model.received[-1]
    assert isinstance(last[0], SystemMessage)
    assert last[0].text.startswith("You are a helpful assistant.")
    assert "4417" in last[0].text  # from many turns back, through tiermem's memory section
    assert not any("4417" in m.text for m in last[1:] if not isinstance(m, SystemMessage))
    assert isinstance(last[-1], HumanMessage)
    assert last[-1].text == "What is my gym locker code again?"


def test_agent_sees_budgeted_context_with_old_fact(memory: TieredMemory) -> None:
    model = _script()
    agent = create_agent(
        model, tools=[weather], system_prompt="You are a helpful assistant.",
        middleware=[TieredContextMiddleware(memory, max_tokens=BUDGET, user_id="u1")],
    )  # fmt: skip
    config = {"configurable": {"thread_id": "t1"}}
    for question in _questions():
        result = agent.invoke({"messages": [HumanMessage(question)]}, config)
    assert result["messages"][-1].text == "Your locker code is 4417."
    _check(model)
    # every message recorded once: 7 questions, 7 answers, 5 tool calls and 5 results
    assert memory.stats()["turns"] == 7 + 7 + 5 + 5


async def test_async_agent_with_checkpointer_records_each_message_once(
    memory: TieredMemory,
) -> None:
    model = _script()
    agent = create_agent(
        model, tools=[weather], system_prompt="You are a helpful assistant.",
        middleware=[TieredContextMiddleware(memory, max_tokens=BUDGET)],
        checkpointer=InMemorySaver(),
    )  # fmt: skip
    config = {"configurable": {"thread_id": "t2", "user_id": "u2"}}
    for question in _questions():
        result = await agent.ainvoke({"messages": [HumanMessage(question)]}, config)
    _check(model)
    assert len(result["messages"]) == 24  # the checkpointer kept the whole thread
    assert (await memory.astats())["turns"] == 24  # each message of the thread stored once
    hits = await memory.asearch("locker code", user_id="u2", k=3)
    assert any("4417" in h.record.text for h in hits)
    assert all(h.record.session_id == "t2" for h in hits)


def test_system_prompt_larger_than_budget_is_refused(memory: TieredMemory) -> None:
    agent = create_agent(
        scripted("hi"), tools=[], system_prompt="word " * 400,
        middleware=[TieredContextMiddleware(memory, max_tokens=100)],
    )  # fmt: skip
    with pytest.raises(ValueError, match="system prompt alone"):
        agent.invoke({"messages": [HumanMessage("hello")]})
