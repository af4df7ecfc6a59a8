"""The MCP server in-process, through the SDK's own `Client`: tools, scope, budget, pairing."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
from mcp_fixtures import SESSION, USERS

from mcp import Client
from mcp_tiermem import McpScope, create_server
from tiermem import InvalidInputError, TieredMemory
from tiermem.context import exact_tokens

TOOLS = {"build_context", "forget", "remember", "search", "update"}


def test_tested_version() -> None:
    major, minor, *_ = importlib.metadata.version("mcp").split(".")
    assert (int(major), int(minor)) == (2, 3)


def test_a_scope_names_a_user_or_an_agent() -> None:
    with pytest.raises(InvalidInputError, match="scope: name a user or an agent"):
        McpScope(session_id="s1")


async def test_tools_take_no_scope_argument(memory: TieredMemory) -> None:
    async with Client(create_server(memory, McpScope(user_id=USERS[0]))) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.description
        arguments = set(tool.input_schema["properties"])
        assert not arguments & {"user_id", "agent_id", "session_id", "user", "scope"}, tool.name


async def _call(client: Client, name: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def test_remember_search_update_forget(memory: TieredMemory) -> None:
    async with Client(create_server(memory, McpScope(user_id=USERS[0]))) as client:
        kept = await _call(client, "remember", {"text": "Prefers tea to coffee", "tags": ["drink"]})
        hits = (await _call(client, "search", {"query": "tea or coffee", "k": 3}))["hits"]
        assert hits[0]["id"] == kept["id"]
        assert hits[0]["tags"] == ["drink"]
        changed = await _call(client, "update", {"memory_id": kept["id"], "text": "Prefers mate"})
        assert changed["text"] == "Prefers mate"
        assert memory.get(kept["id"]).text == "Prefers mate"
        assert (await _call(client, "forget", {"memory_id": kept["id"]}))["forgotten"] is True
        assert kept["id"] not in {r.id for r in memory.records(user_id=USERS[0])}
        missing = await client.call_tool("forget", {"memory_id": kept["id"]})
    assert missing.is_error
    assert "memory_id: no record with id" in missing.content[0].text  # type: ignore[union-attr]


async def test_bad_arguments_are_tool_errors_naming_the_argument(memory: TieredMemory) -> None:
    async with Client(create_server(memory, McpScope(user_id=USERS[0]))) as client:
        empty = await client.call_tool("remember", {"text": "   "})
        budget = await client.call_tool("build_context", {"query": "x", "max_tokens": 0})
    assert empty.is_error
    assert "text" in empty.content[0].text  # type: ignore[union-attr]
    assert budget.is_error
    assert "max_tokens" in budget.content[0].text  # type: ignore[union-attr]
    assert len(memory.records(user_id=USERS[0])) == 3  # nothing stored, nothing lost


@pytest.mark.parametrize("reader", [0, 1])
async def test_a_client_never_crosses_its_scope(memory: TieredMemory, reader: int) -> None:
    """Two users behind one session id, one of them hostile: nothing crosses either way."""
    mine, other = USERS[reader], USERS[1 - reader]
    theirs = memory.records(user_id=other)
    their_words = ("Oslo", "Rex") if reader == 0 else ("Lisbon", "Miso")
    my_words = ("Lisbon", "Miso") if reader == 0 else ("Oslo", "Rex")
    scope = McpScope(user_id=mine, session_id=SESSION)
    async with Client(create_server(memory, scope)) as client:
        # scope arguments the schema does not have are not honoured either
        found = await _call(
            client, "search", {"query": "Oslo Lisbon dog cat moved", "k": 50, "user_id": other}
        )
        texts = " ".join(h["text"] for h in found["hits"])
        assert all(word in texts for word in my_words)
        assert not any(word in texts for word in their_words)
        for record in theirs:
            for name, arguments in (
                ("forget", {"memory_id": record.id}),
                ("update", {"memory_id": record.id, "text": "overwritten"}),
            ):
                result = await client.call_tool(name, arguments)
                assert result.is_error
                assert record.id in result.content[0].text  # type: ignore[union-attr]
        built = await _call(
            client, "build_context", {"query": "Where did I move? Which pet?", "max_tokens": 500}
        )
    assert [r.text for r in memory.records(user_id=other)] == [r.text for r in theirs]
    assert any(word in built["text"] for word in my_words)
    # the context's recent turns come from the session's short-term window: when this
    # fails, it is the core's shared window for colliding session ids (issue 14)
    assert not any(word in built["text"] for word in their_words), built["text"]


async def test_context_stays_within_budget_with_tool_calls_paired(memory: TieredMemory) -> None:
    user = USERS[0]
    for i in range(6):
        arguments = f'{{"city": "Porto {i}"}}'
        call = {"id": f"call_{i}", "type": "function",
                "function": {"name": "weather", "arguments": arguments}}  # fmt: skip
        memory.add_message("user", f"Weather in Porto {i}?", session_id="chat", user_id=user)
        memory.add_message("assistant", "", session_id="chat", user_id=user,
                           metadata={"tool_calls": [call]})  # fmt: skip
        memory.add_message("tool", f"{18 + i} degrees and sunny " * 5, session_id="chat",
                           user_id=user, metadata={"tool_call_id": f"call_{i}"})  # fmt: skip
        memory.add_message("assistant", f"It is {18 + i} degrees.", session_id="chat", user_id=user)
    scope = McpScope(user_id=user, session_id="chat")
    async with Client(create_server(memory, scope)) as client:
        for budget in (40, 90, 150, 400, 2000):
            built = await _call(
                client, "build_context", {"query": "weather in Porto", "max_tokens": budget}
            )
            messages = built["messages"]
            assert built["token_count"] <= budget
            assert exact_tokens(memory.token_counter, messages) == built["token_count"]
            called: set[str] = set()
            for message in messages:
                for call in message.get("tool_calls") or ():
                    called.add(call["id"])
                if message["role"] == "tool":
                    assert message["tool_call_id"] in called, (budget, messages)
            answered = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
            assert called <= answered, (budget, messages)
