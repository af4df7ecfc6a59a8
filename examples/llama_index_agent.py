"""A LlamaIndex agent with tiermem as its memory and its tools.

    python examples/llama_index_agent.py

Runs offline: without OPENAI_API_KEY the LLM is a scripted mock that calls the
tools a real model would. With the key set and ``llama-index-llms-openai``
installed, the same agent runs on OpenAI.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Sequence
from typing import Any

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms import LLM, MockFunctionCallingLLM
from llama_index.memory.tiermem import TiermemMemory, instrument, memory_tools, to_function_tools

from tiermem import MemoryConfig, MetricsCallback
from tiermem.tools import ToolRegistry

QUESTIONS = [
    "I am flying to Porto on Friday. Please remember that I am vegetarian.",
    "What is the weather in Porto?",
    "What do you remember about my diet?",
]


def scripted_reply(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    """What the offline mock answers: tool calls for a question, then the tools' results."""
    last = messages[-1]
    if last.role == MessageRole.TOOL:
        results = [m.content or "" for m in messages[-3:] if m.role == MessageRole.TOOL]
        return ChatMessage(role="assistant", content="Here is what I found: " + "; ".join(results))
    text = (last.content or "").lower()
    if "remember that" in text:
        call = ToolCallBlock(
            tool_call_id="call-remember",
            tool_name="remember",
            tool_kwargs={"text": "The user is vegetarian", "importance": 0.9, "tags": ["diet"]},
        )
    elif "weather" in text:
        call = ToolCallBlock(
            tool_call_id="call-weather", tool_name="weather", tool_kwargs={"city": "Porto"}
        )
    else:
        call = ToolCallBlock(
            tool_call_id="call-search", tool_name="search_memory", tool_kwargs={"query": "diet"}
        )
    return ChatMessage(role="assistant", blocks=[call])


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def make_llm() -> LLM:
    if os.environ.get("OPENAI_API_KEY"):
        try:  # imported only when it is wanted: the example needs no OpenAI package
            openai = importlib.import_module("llama_index.llms.openai")
        except ImportError:
            print("OPENAI_API_KEY is set: `pip install llama-index-llms-openai` to use OpenAI.")
        else:
            llm: LLM = openai.OpenAI(model="gpt-4o-mini")
            return llm
    return MockFunctionCallingLLM(response_generator=scripted_reply)


async def main() -> None:
    metrics = MetricsCallback()
    registry = ToolRegistry(callbacks=[metrics])

    @registry.tool(timeout=5.0, rate_limit=10, rate_window=60.0)
    def weather(city: str) -> str:
        """Current weather for a city."""
        return f"{city}: sunny, 24 C"  # a real tool would call a weather service

    memory = TiermemMemory.from_defaults(
        "memory://",  # or a folder, to keep the memory between runs
        config=MemoryConfig(tokenizer="o200k_base"),
        session_id="trip",
        user_id="traveller",
        max_tokens=2_000,
        callbacks=[metrics],
    )
    agent = FunctionAgent(
        tools=[*to_function_tools(registry), *memory_tools(memory, registry=registry)],
        llm=make_llm(),
        system_prompt="You are a travel assistant. Use your tools and your memory.",
    )
    # LLM calls from LlamaIndex's events, counted beside the turns and the tool calls
    events = instrument(metrics)
    try:
        for question in QUESTIONS:
            answer = await agent.run(user_msg=question, memory=memory)
            print(f"user:  {question}\nagent: {_short(str(answer))}\n")
    finally:
        events.detach()

    print(f"tiermem holds {len(await memory.aget_all())} turns of this session:")
    for message in await memory.aget_all():
        calls = [b.tool_name for b in message.blocks if isinstance(b, ToolCallBlock)]
        print(f"  {message.role.value:<9} {_short(message.content or f'(calls {calls})')}")
    snapshot = metrics.snapshot()
    counters = snapshot["counters"]
    tools_used, llm_calls = counters.get("tool_calls", 0), counters.get("llm_calls", 0)
    print(f"\ntool calls: {tools_used:.0f}; LLM calls: {llm_calls:.0f}; usage: {events.usage()}")
    llm_latency = snapshot["latency"].get("llm", {})
    print(f"LLM latency p50: {llm_latency.get('p50', 0.0) * 1000:.2f} ms")
    registry.close()
    await memory.aclose()


if __name__ == "__main__":
    asyncio.run(main())
