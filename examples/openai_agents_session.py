"""An OpenAI Agents SDK agent whose session is tiermem: every item kept, whole turns back.

Runs offline as written: without OPENAI_API_KEY a scripted model plays the LLM.
With the key set, the same agent runs on gpt-4.1-mini. The one-line swap:

    session=TieredSession(mem, "s1", user_id="ana")     # not SQLiteSession("s1")
    session=TieredContextSession(mem, "s1", user_id="ana", max_tokens=2000)  # budgeted
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from typing import Any

from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage
from openai.types.responses import ResponseOutputText as Text

from openai_agents_tiermem import TieredContextSession, TieredSession
from tiermem import TieredMemory


class ScriptedModel(Model):
    """Calls the weather tool for a question, then answers with what the tool said."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> Any:
        last = input[-1] if isinstance(input, list) else {"content": input}
        if last.get("type") == "function_call_output":
            text = Text(type="output_text", text=f"It is {last['output']}.", annotations=[])
            out: Any = ResponseOutputMessage(
                id="m", type="message", role="assistant", status="completed", content=[text]
            )
        else:
            arguments = json.dumps({"city": "Porto"})
            out = ResponseFunctionToolCall(
                type="function_call", name="weather", call_id=f"c{len(input)}", arguments=arguments
            )
        return ModelResponse(output=[out], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@function_tool
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"18 degrees and sunny in {city}"


async def main() -> None:
    set_tracing_disabled(not os.environ.get("OPENAI_API_KEY"))
    model: Any = "gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else ScriptedModel()
    agent = Agent(name="helper", instructions="Be brief.", model=model, tools=[weather])
    with tempfile.TemporaryDirectory() as folder, TieredMemory(folder) as mem:
        session = TieredSession(mem, "s1", user_id="ana")
        for question in ("Weather in Porto?", "And tomorrow?"):
            result = await Runner.run(agent, question, session=session)
            print(f"user: {question}\nassistant: {result.final_output}")
        items = await session.get_items()
        print("stored items:", [i.get("type", "message") for i in items])
        print(
            "last 3, whole turns:", [i.get("type", "message") for i in await session.get_items(3)]
        )
        budgeted = TieredContextSession(mem, "s1", user_id="ana", max_tokens=120)
        await budgeted.get_items()
        print(f"budgeted context: {budgeted.last_context.token_count}/120 tokens")  # type: ignore[union-attr]


asyncio.run(main())
