"""The legacy `TiermemMemory` (`BaseMemory`) in a real `ConversationChain`."""

from __future__ import annotations

import pytest
from langchain_classic.chains import ConversationChain
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from lc_fakes import COUNTER, scripted

import langchain_tiermem
from langchain_tiermem import TiermemMemory
from tiermem import TieredMemory

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BUDGET = 250
FILLER = [
    "Tell me a fun fact about octopuses and their three hearts.",
    "Which planet has the longest day in the solar system?",
    "How do bees tell each other where the flowers are?",
    "Why is the sky blue during the day but red at sunset?",
    "What makes a cat purr when it is happy or anxious?",
    "How deep is the deepest part of the Pacific Ocean?",
]


def _prompt_without_history(question: str) -> str:
    chain = ConversationChain(llm=scripted("x"))
    return chain.prompt.format(history="", input=question)


def test_conversation_chain_prompt_holds_old_fact_within_budget(memory: TieredMemory) -> None:
    questions = ["My sister Ingrid lives in Tromso and keeps three huskies.", *FILLER,
                 "Where does my sister Ingrid live?"]  # fmt: skip
    model = scripted(*(f"Answer {n}: that is an interesting question." for n in range(8)))
    chain = ConversationChain(
        llm=model,
        memory=TiermemMemory(memory=memory, session_id="c1", max_tokens=BUDGET),
    )
    for question in questions:
        chain.invoke({"input": question})
    prompt = model.received[-1][0].text
    history = prompt.split("Current conversation:\n", 1)[1].rsplit("\nHuman: Where", 1)[0]
    assert "Ingrid lives in Tromso" in history  # eight turns back, out of the window
    assert "Relevant memory" in history
    assert "Human: My sister" not in history  # it left the recent window long ago
    assert COUNTER.count(prompt) <= BUDGET + COUNTER.count(_prompt_without_history(questions[-1]))
    assert memory.stats()["turns"] == 2 * len(questions)


async def test_async_chain_and_messages(memory: TieredMemory) -> None:
    lc_memory = TiermemMemory(
        memory=memory, session_id="c2", return_messages=True, max_tokens=BUDGET
    )
    model = scripted("Nice to meet you, Ada.", "You are Ada.")
    chain = ConversationChain(llm=model, memory=lc_memory)
    await chain.ainvoke({"input": "Hi, I am Ada and I write compilers."})
    variables = await lc_memory.aload_memory_variables({"input": "What is my name?"})
    history = variables["history"]
    assert [type(m) for m in history] == [HumanMessage, AIMessage]
    assert history[0].text == "Hi, I am Ada and I write compilers."
    assert history[1].text == "Nice to meet you, Ada."
    await lc_memory.aclear()
    assert (await lc_memory.aload_memory_variables({"input": "x"}))["history"] == []
    assert (await memory.astats())["turns"] == 0


def test_string_history_uses_prefixes_and_clear(memory: TieredMemory) -> None:
    lc_memory = TiermemMemory(
        memory=memory, session_id="c3", human_prefix="Me", ai_prefix="Bot", user_id="u1"
    )
    assert lc_memory.memory_variables == ["history"]
    lc_memory.save_context({"input": "I like green tea."}, {"response": "Noted!"})
    text = lc_memory.load_memory_variables({"input": "What do I like?"})["history"]
    assert text == "Me: I like green tea.\nBot: Noted!"
    memory.remember("Allergic to peanuts", user_id="u1", importance=0.9)
    text = lc_memory.load_memory_variables({"input": "Am I allergic to peanuts?"})["history"]
    assert text.startswith("System: Relevant memory")
    assert "Allergic to peanuts" in text
    lc_memory.clear()
    assert memory.stats()["turns"] == 0
    assert memory.stats()["memories"] == 1  # a user's memory is not the session's to clear


def test_several_outputs_need_output_key(memory: TieredMemory) -> None:
    lc_memory = TiermemMemory(memory=memory, input_key="q")
    with pytest.raises(ValueError, match="output_key"):
        lc_memory.save_context({"q": "hi"}, {"a": "1", "b": "2"})
    lc_memory = TiermemMemory(memory=memory, input_key="q", output_key="b")
    lc_memory.save_context({"q": "hi", "other": "ignored"}, {"a": "1", "b": "2"})
    messages = langchain_tiermem.TieredChatMessageHistory(memory).messages
    assert [m.text for m in messages] == ["hi", "2"]
    assert not any(isinstance(m, SystemMessage) for m in messages)
