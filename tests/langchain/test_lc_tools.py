"""Registry tools as LangChain tools: the standard suites, policies through the registry, agents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests
from lc_fakes import scripted

from langchain_tiermem.tools import memory_tools, to_langchain_tool, to_langchain_tools
from tiermem import MetricsCallback, TieredMemory
from tiermem.tools import ToolRegistry


def _registry(**options: Any) -> ToolRegistry:
    registry = ToolRegistry(**options)

    @registry.tool(timeout=2.0)
    def weather(city: str, unit: str = "C") -> dict[str, Any]:
        """Current weather for a city."""
        return {"city": city, "temperature": 21, "unit": unit}

    @registry.tool(timeout=0.2)
    def slow(seconds: float) -> str:
        """Sleeps for a while."""
        time.sleep(seconds)
        return "done"

    @registry.tool(rate_limit=1, rate_window=60.0, per_user=True)
    def ping() -> str:
        """Answers pong, once a minute per user."""
        return "pong"

    def deny_secrets(name: str, arguments: Any, user_id: str | None) -> bool:
        return user_id == "admin"

    @registry.tool(permission=deny_secrets)
    def secret() -> str:
        """Reads a secret, for admins only."""
        return "s3cr3t"

    return registry


@pytest.fixture(scope="module")
def registry() -> Iterator[ToolRegistry]:
    with _registry() as reg:
        yield reg


class TestConvertedToolUnit(ToolsUnitTests):
    @pytest.fixture(autouse=True)
    def _setup(self, registry: ToolRegistry) -> None:
        self._tool = to_langchain_tool(registry.get("weather"))

    @property
    def tool_constructor(self) -> BaseTool:
        return self._tool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"city": "Porto"}


class TestConvertedToolIntegration(ToolsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _setup(self, registry: ToolRegistry) -> None:
        self._tool = to_langchain_tool(registry.get("weather"))

    @property
    def tool_constructor(self) -> BaseTool:
        return self._tool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"city": "Porto", "unit": "F"}


def test_conversion_keeps_name_description_schema(registry: ToolRegistry) -> None:
    tools = to_langchain_tools(registry)
    assert [t.name for t in tools] == [t.name for t in registry]
    weather = tools[0]
    assert isinstance(weather, StructuredTool)
    core = registry.get("weather")
    assert weather.description == core.description
    assert weather.args_schema is core.args_model
    assert weather.tool_call_schema.model_json_schema()["properties"].keys() == {"city", "unit"}
    message = weather.invoke(
        {"type": "tool_call", "id": "1", "name": "weather", "args": {"city": "Oslo"}}
    )
    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    assert '"city": "Oslo"' in message.text
    assert message.artifact["value"] == {"city": "Oslo", "temperature": 21, "unit": "C"}


def test_failures_become_error_messages(registry: ToolRegistry) -> None:
    slow, ping, secret = (to_langchain_tool(registry.get(n)) for n in ("slow", "ping", "secret"))

    def call(tool: BaseTool, args: dict[str, Any], **config: Any) -> ToolMessage:
        call = {"type": "tool_call", "id": "x", "name": tool.name, "args": args}
        result = tool.invoke(call, config={"configurable": config})
        assert isinstance(result, ToolMessage)
        return result

    timed_out = call(slow, {"seconds": 1.0})
    assert (timed_out.status, timed_out.text.split(")")[0]) == ("error", "Error (Timeout")
    assert call(ping, {}, user_id="a").text == "pong"
    assert call(ping, {}, user_id="a").text.startswith("Error (RateLimited)")
    assert call(ping, {}, user_id="b").text == "pong"  # per-user limits use the run's user_id
    assert call(secret, {}).text.startswith("Error (PermissionDenied)")
    assert call(to_langchain_tool(registry.get("secret"), user_id="admin"), {}).text == "s3cr3t"


async def test_async_calls_go_through_the_registry() -> None:
    metrics = MetricsCallback()
    with _registry(callbacks=[metrics]) as registry:
        weather = to_langchain_tool(registry.get("weather"))
        slow = to_langchain_tool(registry.get("slow"))
        assert (await weather.ainvoke({"city": "Rome"})).startswith('{"city": "Rome"')
        result = await slow.ainvoke(
            {"type": "tool_call", "id": "y", "name": "slow", "args": {"seconds": 1.0}}
        )
        assert result.status == "error"
    counters = metrics.snapshot()["counters"]
    assert (counters["tool_calls_ok"], counters["tool_calls_failed"]) == (1, 1)


def test_agent_keeps_going_after_a_tool_error(registry: ToolRegistry) -> None:
    model = scripted(
        AIMessage("", tool_calls=[{"name": "slow", "args": {"seconds": 1.0}, "id": "c1"}]),
        AIMessage("", tool_calls=[{"name": "weather", "args": {"town": "Oslo"}, "id": "c2"}]),
        AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Oslo"}, "id": "c3"}]),
        "It is 21 C in Oslo.",
    )
    agent = create_agent(model, tools=to_langchain_tools(registry))
    result = agent.invoke({"messages": [HumanMessage("Weather in Oslo?")]})
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_messages] == ["error", "error", "success"]
    assert "city" in tool_messages[1].text  # the model is told which argument was wrong
    assert result["messages"][-1].text == "It is 21 C in Oslo."


async def test_memory_tools_in_an_agent(memory: TieredMemory) -> None:
    tools = memory_tools(memory, user_id="u1")
    assert [t.name for t in tools] == [
        "remember",
        "search_memory",
        "update_memory",
        "forget_memory",
    ]
    model = scripted(
        AIMessage("", tool_calls=[{"name": "remember", "id": "c1",
                                   "args": {"text": "Prefers window seats", "importance": 0.8}}]),
        AIMessage("", tool_calls=[{"name": "search_memory", "id": "c2",
                                   "args": {"query": "seat preference"}}]),
        AIMessage("", tool_calls=[{"name": "forget_memory", "id": "c3",
                                   "args": {"memory_id": "not-a-real-id"}}]),
        "You prefer window seats.",
    )  # fmt: skip
    agent = create_agent(model, tools=tools)
    result = await agent.ainvoke({"messages": [HumanMessage("Remember I like window seats.")]})
    remembered, found, forgot = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert remembered.status == "success"
    assert "Prefers window seats" in found.text
    assert forgot.status == "error"
    assert "NotFound" in forgot.text
    hits = await memory.asearch("window seats", user_id="u1", k=1)
    assert hits[0].record.importance == pytest.approx(0.8)
