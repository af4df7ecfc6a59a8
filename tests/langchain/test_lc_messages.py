"""Conversion between LangChain messages and tiermem turns."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_tiermem.messages import message_to_dict, message_to_turn, record_to_message
from tiermem import TieredMemory


def test_tool_calls_map_to_the_cores_metadata() -> None:
    message = AIMessage(
        "", tool_calls=[{"name": "weather", "args": {"city": "Zürich"}, "id": "call_9"}], id="m1"
    )
    turn = message_to_turn(message)
    assert turn.role == "assistant"
    assert turn.content == ""  # the core takes an empty turn that calls tools
    assert turn.metadata["tool_calls"] == [
        {"id": "call_9", "type": "function",
         "function": {"name": "weather", "arguments": json.dumps({"city": "Zürich"},
                                                                ensure_ascii=False)}},
    ]  # fmt: skip
    assert "placeholder" not in turn.metadata
    assert turn.metadata["message_id"] == "m1"
    assert message_to_dict(message)["content"] == ""
    tool = message_to_turn(ToolMessage("18 C", tool_call_id="call_9", name="weather"))
    assert (tool.role, tool.metadata["tool_call_id"], tool.metadata["name"]) == (
        "tool", "call_9", "weather",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("message", "role"),
    [
        (HumanMessage("a"), "user"),
        (SystemMessage("a"), "system"),
        (AIMessage("a"), "assistant"),
        (ChatMessage(content="a", role="developer"), "system"),
        (ChatMessage(content="a", role="human"), "user"),
    ],
)
def test_roles(message: HumanMessage, role: str) -> None:
    assert message_to_turn(message).role == role


def test_unsupported_messages_are_refused() -> None:
    with pytest.raises(TypeError, match="FunctionMessage"):
        message_to_turn(FunctionMessage(content="x", name="f"))
    with pytest.raises(TypeError, match="ChatMessage"):
        message_to_turn(ChatMessage(content="x", role="narrator"))


def test_content_blocks_keep_their_text(roomy_memory: TieredMemory) -> None:
    message = HumanMessage(
        content=[{"type": "text", "text": "look at this"},
                 {"type": "image", "url": "https://example.invalid/cat.png"}]
    )  # fmt: skip
    turn = message_to_turn(message)
    record = roomy_memory.add_message(turn.role, turn.content, metadata=turn.metadata)
    back = record_to_message(record)
    assert isinstance(back, HumanMessage)
    assert back.content == "look at this"
    assert back.id == record.id  # no id came in: the record's id goes out


def test_malformed_arguments_survive(roomy_memory: TieredMemory) -> None:
    metadata = {"tool_calls": [{"id": "c", "type": "function",
                                "function": {"name": "f", "arguments": "{not json"}}]}  # fmt: skip
    record = roomy_memory.add_message("assistant", "calling f", metadata=metadata)
    back = record_to_message(record)
    assert isinstance(back, AIMessage)
    assert back.tool_calls == [{"name": "f", "args": {}, "id": "c", "type": "tool_call"}]


def test_empty_tool_turns_are_stored_empty(roomy_memory: TieredMemory) -> None:
    call = AIMessage("", tool_calls=[{"name": "ping", "args": {}, "id": "c1"}])
    result = ToolMessage("", tool_call_id="c1")
    for message in (call, result):
        turn = message_to_turn(message)
        record = roomy_memory.add_message(turn.role, turn.content, metadata=turn.metadata)
        assert record.text == ""
        back = record_to_message(roomy_memory.get(record.id))
        assert type(back) is type(message)
        assert back.content == ""
    assert [c["id"] for c in record_to_message(roomy_memory.records()[0]).tool_calls] == ["c1"]


def test_empty_turns_the_core_refuses_get_a_stand_in(roomy_memory: TieredMemory) -> None:
    turn = message_to_turn(HumanMessage(""))
    assert turn.content == "[empty user message]"
    assert turn.metadata["placeholder"] is True
    record = roomy_memory.add_message(turn.role, turn.content, metadata=turn.metadata)
    assert record_to_message(record).content == ""
    assert message_to_dict(HumanMessage(""))["content"] == ""


def test_placeholders_of_earlier_versions_read_back_empty(roomy_memory: TieredMemory) -> None:
    calls = [{"id": "c1", "type": "function",
              "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}]  # fmt: skip
    record = roomy_memory.add_message(
        "assistant", '[calls weather({"city": "Oslo"})]',
        metadata={"tool_calls": calls, "placeholder": True},
    )  # fmt: skip
    back = record_to_message(record)
    assert isinstance(back, AIMessage)
    assert back.content == ""
    assert back.tool_calls == [
        {"name": "weather", "args": {"city": "Oslo"}, "id": "c1", "type": "tool_call"}
    ]
