"""A LlamaIndex `FunctionAgent` over several runs, with tiermem as its memory and tools.

The LLM is `MockFunctionCallingLLM` with a scripted response generator: it asks for
tool calls, and answers with what the tools returned. Everything else is real: the
agent workflow, the tiermem store, the registry's policies, the tokenizer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool
from llama_index.memory.tiermem import (
    TiermemMemory,
    memory_tools,
    to_function_tool,
    to_function_tools,
)

import tiermem
from tiermem.tools import ToolRegistry

# llama-index-workflows lists an agent's members with inspect, touching pydantic's deprecated ones
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:inspect")

# what the scripted model does for each user message: the tool calls it asks for
SCRIPT: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "Weather in Porto? And remember that I keep bees.": [
        ("weather", {"city": "Porto"}),
        ("remember", {"text": "The user keeps bees", "importance": 0.9}),
    ],
    "What do you know about me?": [("search_memory", {"query": "bees", "k": 3})],
    "Weather in Oslo?": [("weather", {"city": "Oslo"})],  # over the rate limit
}


class ScriptedModel:
    """Calls the scripted tools for a user message; after tool results, repeats them."""

    def __init__(self) -> None:
        self.seen: list[list[ChatMessage]] = []

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.seen.append(list(messages))
        last = messages[-1]
        if last.role == MessageRole.USER:
            calls = SCRIPT[last.content or ""]
            return ChatMessage(
                role="assistant",
                blocks=[
                    ToolCallBlock(
                        tool_call_id=f"call-{len(self.seen)}-{i}", tool_name=name, tool_kwargs=args
                    )
                    for i, (name, args) in enumerate(calls)
                ],
            )
        results = []
        for message in reversed(messages):
            if message.role != MessageRole.TOOL:
                break
            results.append(message.content or "")
        return ChatMessage(role="assistant", content="Tools said: " + " | ".join(results[::-1]))


def _registry(metrics: tiermem.MetricsCallback) -> ToolRegistry:
    registry = ToolRegistry(callbacks=[metrics])

    @registry.tool(rate_limit=1, rate_window=60.0)
    def weather(city: str) -> str:
        """Current weather for a city."""
        return f"Sunny and 24 C in {city}"

    return registry


async def test_agent_runs_keep_every_turn_with_tool_calls(core: tiermem.TieredMemory) -> None:
    metrics = tiermem.MetricsCallback()
    registry = _registry(metrics)
    memory = TiermemMemory.from_defaults(memory=core, session_id="chat", user_id="u1")
    tools = [*to_function_tools(registry), *memory_tools(memory, registry=registry)]
    assert [t.metadata.name for t in tools] == [
        "weather",
        "remember",
        "search_memory",
        "update_memory",
        "forget_memory",
    ]
    model = ScriptedModel()
    agent = FunctionAgent(
        tools=tools,
        llm=MockFunctionCallingLLM(response_generator=model),
        system_prompt="You are a helpful assistant.",
    )

    answers = [str(await agent.run(user_msg=question, memory=memory)) for question in SCRIPT]

    assert answers[0].startswith("Tools said: Sunny and 24 C in Porto | {")
    assert "The user keeps bees" in answers[1]  # found by the memory tool, in the user's scope
    assert "Error (RateLimited)" in answers[2]  # the registry's policy applied, readable
    # the second run's model input held the first run's turns, from tiermem's context
    second_run_input = model.seen[2]
    assert any("Sunny and 24 C in Porto" in (m.content or "") for m in second_run_input)

    turns = memory.get_all()
    roles = [m.role.value for m in turns]
    assert (
        roles
        == ["user", "assistant", "tool", "tool", "assistant"]
        + ["user", "assistant", "tool", "assistant"] * 2
    )
    # every call kept its id, name and arguments; every result names its call
    calls = [b for m in turns for b in m.blocks if isinstance(b, ToolCallBlock)]
    expected = [(name, args) for steps in SCRIPT.values() for name, args in steps]
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == expected
    answered = [m.additional_kwargs["tool_call_id"] for m in turns if m.role == MessageRole.TOOL]
    assert answered == [c.tool_call_id for c in calls]
    assert [
        m.additional_kwargs["tool_calls"][0]["id"]
        for m in turns
        if m.blocks and isinstance(m.blocks[0], ToolCallBlock)
    ] == ["call-1-0", "call-3-0", "call-5-0"]

    counters = metrics.snapshot()["counters"]
    assert counters["tool_calls"] == 4
    assert counters["tool_calls_failed"] == 1
    registry.close()


def test_function_tool_sync_call_and_error_output(core: tiermem.TieredMemory) -> None:
    registry = ToolRegistry()

    @registry.tool(permission=lambda *args: False)
    def secret(name: str) -> str:
        """Never allowed."""
        return name

    @registry.tool
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    tool = to_function_tool("add", registry)
    assert tool.metadata.fn_schema is registry.get("add").args_model
    assert tool.metadata.description == registry.get("add").description
    assert tool.metadata.get_parameters_dict()["required"] == ["a"]
    assert tool.call(a=1).content == "3"
    bad = tool.call(a="not a number")
    assert bad.is_error
    assert bad.content.startswith("Error (ValidationError)")
    denied = to_function_tool(registry.get("secret")).call(name="x")
    assert denied.is_error
    assert denied.content.startswith("Error (PermissionDenied)")

    remember, search, _update, forget = memory_tools(core, user_id="u9")
    stored = json.loads(remember.call(text="Likes green tea").content)
    hits = json.loads(search.call(query="tea").content)
    assert hits[0]["id"] == stored["id"]
    assert json.loads(forget.call(memory_id=stored["id"]).content)["forgotten"] is True
    registry.close()


async def test_a_huge_tool_result_does_not_stop_the_agent(
    core: tiermem.TieredMemory, caplog: pytest.LogCaptureFixture
) -> None:
    def dump(table: str) -> str:
        """Every row of a table."""
        return "\n".join(f"{table} row {i}: value={i * 31 % 97}" for i in range(3_000))

    def model(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        if messages[-1].role == MessageRole.TOOL:
            rows = (messages[-1].content or "").count("\n") + 1
            return ChatMessage(role="assistant", content=f"The table has {rows} rows.")
        call = ToolCallBlock(tool_call_id="c1", tool_name="dump", tool_kwargs={"table": "t"})
        return ChatMessage(role="assistant", blocks=[call])

    memory = TiermemMemory.from_defaults(memory=core, session_id="dump")
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(fn=dump)],
        llm=MockFunctionCallingLLM(response_generator=model),
    )
    with caplog.at_level(logging.WARNING, logger="llama_index.memory.tiermem"):
        answer = str(await agent.run(user_msg="Dump table t.", memory=memory))
    assert answer == "The table has 3000 rows."  # the model saw the whole result
    assert any("tokens cut off" in r.getMessage() for r in caplog.records)
    turns = memory.get_all()
    assert [m.role.value for m in turns] == ["user", "assistant", "tool", "assistant"]
    assert "…[truncated" in (turns[2].content or "")
    assert turns[2].additional_kwargs["tool_call_id"] == "c1"
    assert turns[3].content == answer
