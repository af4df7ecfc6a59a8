"""A LangChain agent whose memory is tiermem: budgeted context, a store, tools, metrics.

Runs offline as written: without OPENAI_API_KEY a scripted fake model plays the
LLM (it reads the context it is given, so the last answer shows what tiermem
handed it). With the key set, the same agent runs on ``openai:gpt-4o-mini``
(``pip install langchain-openai``).

    python examples/langchain_agent.py

The one-line swaps, each replacing a LangChain default:

    middleware=[TieredContextMiddleware(mem, max_tokens=600)]  # not trimmed messages
    store=TieredMemoryStore(mem, user_id="ana")                 # not InMemoryStore()
    tools=to_langchain_tools(registry) + memory_tools(mem)     # registry tools, policed
    TieredMemoryRetriever(memory=mem, user_id="ana", k=4)       # not a vector store retriever
    TieredChatMessageHistory(mem, session_id)                   # not InMemoryChatMessageHistory
    TiermemMemory(memory=mem, session_id="s1")                  # not ConversationBufferMemory
    callbacks=[TieredMetricsCallbackHandler(metrics)]           # LLM usage into tiermem metrics
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field

from langchain_tiermem import (
    TieredContextMiddleware,
    TieredMemoryRetriever,
    TieredMemoryStore,
    TieredMetricsCallbackHandler,
    memory_tools,
    to_langchain_tools,
)
from langchain_tiermem.messages import count_messages
from tiermem import MemoryConfig, MetricsCallback, TieredMemory
from tiermem.tools import ToolRegistry

BUDGET = 600
QUESTIONS = [
    "Hi, I'm Ana. My gym locker code is 4417; please keep it in mind.",
    "What's the weather in Porto today?",
    "Remember that I prefer window seats on trains.",
    "Any tips for a rainy Sunday in Porto with two kids?",
    "Quick one: what was my gym locker code again?",
]

Step = AIMessage | Callable[[list[BaseMessage]], AIMessage]


class OfflineModel(GenericFakeChatModel):
    """A scripted tool-calling model; a step may read the messages it was sent."""

    steps: list[Any]
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        self.seen.append(list(messages))
        step = self.steps.pop(0)
        reply = step(messages) if callable(step) else step
        self.messages = iter([reply])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[LanguageModelInput, Any]:
        return self  # the script already knows which tools it calls


def _recall_locker_code(messages: list[BaseMessage]) -> AIMessage:
    seen = "\n".join(str(m.text) for m in messages)
    found = re.search(r"locker code is (\d+)", seen)
    return AIMessage(f"Your gym locker code is {found.group(1)}." if found else "I don't know.")


def _call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


def offline_model() -> OfflineModel:
    steps: list[Step] = [
        AIMessage("Nice to meet you, Ana! I'll keep your locker code in mind."),
        _call("weather", {"city": "Porto"}, "call_1"),
        AIMessage("It's sunny and 21 C in Porto today."),
        _call("remember", {"text": "Ana prefers window seats on trains", "importance": 0.8}, "c2"),
        AIMessage("Noted: window seats it is."),
        AIMessage("Try the Serralves museum, the tram museum, or a bookshop café."),
        _recall_locker_code,
    ]
    return OfflineModel(messages=iter(()), steps=steps)


def chat_model() -> BaseChatModel:
    if not os.environ.get("OPENAI_API_KEY"):
        return offline_model()
    from langchain.chat_models import init_chat_model  # only with a key: needs langchain-openai

    return init_chat_model("openai:gpt-4o-mini")


def main() -> None:
    config = MemoryConfig(tokenizer="o200k_base", short_term={"max_tokens": 120})
    metrics = MetricsCallback()
    registry = ToolRegistry(callbacks=[metrics])

    @registry.tool(timeout=2.0, rate_limit=10, rate_window=60.0)
    def weather(city: str) -> str:
        """Current weather for a city."""
        return f"Sunny, 21 C in {city}."

    with TieredMemory("memory://", config=config, callbacks=[metrics]) as mem:  # or "./memory"
        model = chat_model()
        agent = create_agent(
            model,
            tools=[
                *to_langchain_tools(registry),
                *memory_tools(mem, user_id="ana", registry=registry),
            ],
            system_prompt="You are a concise travel assistant.",
            middleware=[TieredContextMiddleware(mem, max_tokens=BUDGET)],
            store=TieredMemoryStore(mem, user_id="ana"),
            checkpointer=InMemorySaver(),
        )
        run: RunnableConfig = {
            "configurable": {"thread_id": "trip-1", "user_id": "ana"},
            "callbacks": [TieredMetricsCallbackHandler(metrics)],
        }
        for question in QUESTIONS:
            result = agent.invoke({"messages": [HumanMessage(question)]}, run)
            print(f"user: {question}")
            print(f"assistant: {result['messages'][-1].text}")

        if isinstance(model, OfflineModel):
            last = model.seen[-1]
            tokens = count_messages(mem.token_counter, last)
            print(f"\nlast model call: {len(last)} messages, {tokens} tokens (budget {BUDGET})")
            print("the locker code reached the model through tiermem's memory section:",
                  "4417" in str(last[0].text))  # fmt: skip

        retriever = TieredMemoryRetriever(memory=mem, user_id="ana", k=2)
        print("\nretriever, 'seat preference':")
        for doc in retriever.invoke("seat preference"):
            print(f"  [{doc.metadata['kind']}] {doc.page_content}")

        counters = metrics.snapshot()["counters"]
        print(f"\nturns stored: {int(counters.get('turns_added', 0))}, "
              f"tool calls: {int(counters.get('tool_calls', 0))}, "
              f"llm calls: {int(counters.get('llm_calls', 0))}")  # fmt: skip


if __name__ == "__main__":
    main()
