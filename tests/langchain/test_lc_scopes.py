"""Two users on one thread id share nothing through the LangChain adapters."""

from __future__ import annotations

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from lc_fakes import scripted

from langchain_tiermem import TieredChatMessageHistory, TieredContextMiddleware
from tiermem import TieredMemory

HOSTILE = "alice' OR '1'='1"


def test_chat_histories_on_one_session_id_stay_apart(memory: TieredMemory) -> None:
    alice = TieredChatMessageHistory(memory, session_id="t1", user_id="alice")
    bob = TieredChatMessageHistory(memory, session_id="t1", user_id="bob")
    hostile = TieredChatMessageHistory(memory, session_id="t1", user_id=HOSTILE)
    anonymous = TieredChatMessageHistory(memory, session_id="t1")
    alice.add_messages([HumanMessage("My locker code is 4417."), AIMessage("Noted.")])
    bob.add_messages([HumanMessage("Hi, I'm Bob.")])
    for other in (bob, hostile, anonymous):
        assert not any("4417" in m.text for m in other.messages)
    assert any("4417" in m.text for m in alice.messages)
    bob.clear()  # bob's clear leaves alice's history whole
    assert [m.text for m in alice.messages] == ["My locker code is 4417.", "Noted."]
    assert bob.messages == []


async def test_async_histories_stay_apart(memory: TieredMemory) -> None:
    alice = TieredChatMessageHistory(memory, session_id="t1", user_id="alice")
    anonymous = TieredChatMessageHistory(memory, session_id="t1")
    await alice.aadd_messages([HumanMessage("My locker code is 4417.")])
    await anonymous.aadd_messages([HumanMessage("hello")])
    assert not any("4417" in m.text for m in await anonymous.aget_messages())
    await anonymous.aclear()
    assert [m.text for m in await alice.aget_messages()] == ["My locker code is 4417."]


def test_middleware_on_one_thread_id_keeps_users_apart(memory: TieredMemory) -> None:
    model = scripted("Noted.", "I don't know your code.")
    agent = create_agent(model, middleware=[TieredContextMiddleware(memory, max_tokens=300)])
    agent.invoke({"messages": [HumanMessage("My locker code is 4417.")]},
                 {"configurable": {"thread_id": "t1", "user_id": "alice"}})  # fmt: skip
    agent.invoke({"messages": [HumanMessage("What is my locker code?")]},
                 {"configurable": {"thread_id": "t1", "user_id": "bob"}})  # fmt: skip
    seen_by_bob = model.received[-1]
    assert not any("4417" in m.text for m in seen_by_bob)
