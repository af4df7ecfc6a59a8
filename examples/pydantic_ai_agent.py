"""A pydantic-ai agent that sees tiermem's budgeted context at every model request.

Runs offline as written: without OPENAI_API_KEY a scripted `FunctionModel` plays the
LLM. With the key set (and ``pip install "pydantic-ai-slim[openai]"``), the same agent
runs on openai:gpt-4.1-mini. The one-line swap:

    capabilities=[ProcessHistory(TieredHistory(mem, session_id="s1", user_id="ana",
                                               max_tokens=2000))]
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

from pydantic_ai.capabilities import ProcessHistory
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from pydantic_ai import Agent
from pydantic_ai_tiermem import TieredHistory
from tiermem import TieredMemory


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Asks for the weather, then answers with what it is told (memory included)."""
    parts = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts]
    if parts[-1].part_kind == "tool-return":
        return ModelResponse(parts=[TextPart(f"It is {parts[-1].content}.")])
    if "locker" in str(parts[-1].content):
        known = "4417" in " ".join(str(p.content) for p in parts)
        return ModelResponse(parts=[TextPart("It is 4417." if known else "I don't know.")])
    return ModelResponse(parts=[ToolCallPart("weather", {"city": "Porto"})])


async def main() -> None:
    model: Any = (
        "openai:gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else FunctionModel(scripted)
    )
    with tempfile.TemporaryDirectory() as folder, TieredMemory(folder) as mem:
        mem.remember("Ana's gym locker code is 4417.", user_id="ana", importance=0.9)
        history = TieredHistory(mem, session_id="s1", user_id="ana", max_tokens=300)
        agent = Agent(model, system_prompt="Be brief.", capabilities=[ProcessHistory(history)])

        @agent.tool_plain
        def weather(city: str) -> str:
            """Current weather for a city."""
            return f"18 degrees in {city}"

        messages: list[ModelMessage] = []
        for question in ("Weather in Porto?", "What is my locker code?"):
            result = await agent.run(question, message_history=messages)
            messages = result.all_messages()
            print(f"user: {question}\nassistant: {result.output}")
            print(f"  context: {history.last_context.token_count}/300 tokens")  # type: ignore[union-attr]
        await history.arecord(result.new_messages())  # the last answer too
        print("stored turns:", [r.role for r in mem.records(session_id="s1", user_id="ana")])


asyncio.run(main())
