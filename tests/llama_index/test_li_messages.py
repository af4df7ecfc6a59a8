"""ChatMessage ↔ tiermem turns: roles, tool calls, tool results, empty and huge content."""

from __future__ import annotations

import json

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.memory.tiermem.messages import (
    context_message_to_chat,
    message_to_turn,
    record_to_message,
)

from tiermem import MemoryConfig, TiktokenCounter
from tiermem import TieredMemory as CoreMemory
from tiermem.messages import PLACEHOLDER

COUNTER = TiktokenCounter("cl100k_base")


def _calls(message: ChatMessage) -> list[ToolCallBlock]:
    return [b for b in message.blocks if isinstance(b, ToolCallBlock)]


def test_tool_call_block_becomes_openai_shaped_metadata() -> None:
    message = ChatMessage(
        role="assistant",
        blocks=[
            ToolCallBlock(tool_call_id="c1", tool_name="weather", tool_kwargs={"city": "Porto"})
        ],
    )
    turn = message_to_turn(message)
    assert turn.role == "assistant"
    assert turn.metadata["tool_calls"] == [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "weather", "arguments": json.dumps({"city": "Porto"})},
        },
    ]
    assert turn.content == ""  # tiermem takes an empty turn that calls tools


def test_openai_style_additional_kwargs_are_read_and_not_duplicated() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    other = {"id": "c2", "type": "function", "function": {"name": "g", "arguments": '{"x": 1}'}}
    message = ChatMessage(
        role="assistant",
        content="Let me check.",
        blocks=[TextBlock(text="Let me check."), ToolCallBlock(tool_call_id="c1", tool_name="f")],
        additional_kwargs={"tool_calls": [call, other]},
    )
    turn = message_to_turn(message)
    assert [c["id"] for c in turn.metadata["tool_calls"]] == ["c1", "c2"]
    assert turn.content == "Let me check."


def test_tool_result_keeps_its_call_id_and_roles_fold() -> None:
    tool = message_to_turn(
        ChatMessage(role="tool", content="Sunny", additional_kwargs={"tool_call_id": "c1"})
    )
    assert (tool.role, tool.content, tool.metadata) == ("tool", "Sunny", {"tool_call_id": "c1"})
    developer = message_to_turn(ChatMessage(role=MessageRole.DEVELOPER, content="Be brief."))
    assert developer.role == "system"
    assert developer.metadata == {"llama_index_role": "developer"}
    image = message_to_turn(ChatMessage(role="user", blocks=[ImageBlock(url="http://x/y.png")]))
    assert image.content == "[image]"


@pytest.mark.parametrize(
    "message",
    [
        ChatMessage(role="user", content="I moved to Lisbon.", additional_kwargs={"name": "ana"}),
        ChatMessage(role="system", content="You are helpful."),
        ChatMessage(role=MessageRole.DEVELOPER, content="Be brief."),
        ChatMessage(
            role="assistant",
            blocks=[ToolCallBlock(tool_call_id="c9", tool_name="f", tool_kwargs={"a": [1, 2]})],
        ),
        ChatMessage(role="tool", content="", additional_kwargs={"tool_call_id": "c9"}),
        ChatMessage(role="assistant", content="Done."),
    ],
    ids=["user-named", "system", "developer", "call-only", "empty-result", "assistant"],
)
def test_round_trip_through_a_real_store(message: ChatMessage) -> None:
    with CoreMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        role, content, metadata = message_to_turn(message)
        if role == "tool":  # a result needs its call before it, as in a real run
            mem.add_message(
                "assistant",
                "",
                session_id="s",
                metadata={
                    "tool_calls": [
                        {
                            "id": "c9",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ]
                },
            )
        record = mem.add_message(role, content, session_id="s", metadata=metadata)
        if role == "tool" or metadata.get("tool_calls"):
            assert record.text == (message.content or "")  # stored as it is, no stand-in
        back = record_to_message(mem.get(record.id))
    assert back.role == message.role
    assert (back.content or "") == (message.content or "")
    assert back.additional_kwargs.get("tool_call_id") == message.additional_kwargs.get(
        "tool_call_id"
    )
    assert back.additional_kwargs.get("name") == message.additional_kwargs.get("name")
    assert [(c.tool_call_id, c.tool_name, c.tool_kwargs) for c in _calls(back)] == [
        (c.tool_call_id, c.tool_name, c.tool_kwargs) for c in _calls(message)
    ]


def test_context_messages_carry_tool_fields() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"q": "x"}'}}
    assistant = context_message_to_chat({"role": "assistant", "content": "", "tool_calls": [call]})
    assert assistant.content is None
    assert assistant.additional_kwargs["tool_calls"] == [call]
    assert _calls(assistant)[0].tool_kwargs == {"q": "x"}
    tool = context_message_to_chat({"role": "tool", "content": "ok", "tool_call_id": "c1"})
    assert tool.additional_kwargs == {"tool_call_id": "c1"}


def test_stand_ins_only_where_the_core_refuses_empty_content() -> None:
    user = message_to_turn(ChatMessage(role="user", content=""))
    assert (user.content, user.metadata) == ("[empty user message]", {PLACEHOLDER: True})
    assert message_to_turn(ChatMessage(role="assistant", content=" ")).metadata[PLACEHOLDER]
    tool = ChatMessage(role="tool", content="", additional_kwargs={"tool_call_id": "c1"})
    assert message_to_turn(tool).content == ""
    with CoreMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as core:
        record = core.add_message(user.role, user.content, metadata=user.metadata)
        assert record_to_message(record).content == ""
        (rendered,) = core.build_context().messages
        assert context_message_to_chat(rendered).content == ""


def test_placeholders_of_earlier_versions_read_back_empty() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    with CoreMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as core:
        core.add_message("user", "(empty)")
        core.add_message("assistant", "(calls f)", metadata={"tool_calls": [call]})
        core.add_message("tool", "(no output)", metadata={"tool_call_id": "c1"})
        user, assistant, tool = [record_to_message(r) for r in core.records(session_id="default")]
        rendered = [context_message_to_chat(m) for m in core.build_context().messages]
    assert user.content == ""
    assert assistant.content is None
    assert [b.tool_name for b in _calls(assistant)] == ["f"]
    assert tool.content == ""
    assert [m.content for m in rendered] == ["", None, ""]
