"""Conversion between LangChain messages and tiermem turns, tool calls included.

A tiermem turn is ``(role, content, metadata)``. Tool calls travel in the
metadata in the OpenAI shape the core renders: an assistant turn carries
``metadata["tool_calls"]`` (``{"id", "type": "function", "function": {"name",
"arguments"}}``, arguments as a JSON string) and a tool turn
``metadata["tool_call_id"]``. A message's ``name`` becomes ``metadata["name"]``
(the speaker the core shows) and its ``id`` ``metadata["message_id"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import ToolCall, tool_call

from tiermem import ChatMessage as CoreMessage
from tiermem import Context, MemoryRecord
from tiermem.messages import Turn, exact_tokens, to_turn, turn_content
from tiermem.messages import split_context as core_split
from tiermem.tokens import TokenCounter

__all__ = [
    "ChatTurn",
    "Turn",
    "context_to_messages",
    "count_messages",
    "message_to_dict",
    "message_to_turn",
    "record_to_message",
    "split_context",
]

#: The messages a stored turn comes back as.
ChatTurn = AIMessage | HumanMessage | SystemMessage | ToolMessage

_ROLES: dict[str, str] = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        role = _ROLES.get(message.role)
    else:
        role = _ROLES.get(message.type)
    if role is None:
        raise TypeError(
            f"cannot store a {type(message).__name__} (type {message.type!r}) in tiermem; "
            "use Human, AI, System or Tool messages"
        )
    return role


def _openai_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.get("id") or "",
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": json.dumps(call.get("args", {}), ensure_ascii=False),
        },
    }


def _langchain_call(call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    except ValueError:
        args = {}  # a model's malformed arguments: keep the call, drop what cannot parse
    if not isinstance(args, dict):
        args = {"value": args}
    return tool_call(name=str(function.get("name", "")), args=args, id=str(call.get("id", "")))


def message_to_turn(message: BaseMessage) -> Turn:
    """The role, text and metadata tiermem stores for ``message``."""
    role = _role(message)
    metadata: dict[str, Any] = {}
    if message.name:
        metadata["name"] = message.name
    if message.id:
        metadata["message_id"] = message.id
    if isinstance(message, AIMessage) and message.tool_calls:
        metadata["tool_calls"] = [_openai_call(c) for c in message.tool_calls]
    if isinstance(message, ToolMessage):
        metadata["tool_call_id"] = message.tool_call_id
        if message.status == "error":
            metadata["status"] = "error"
    return to_turn(role, str(message.text), metadata)


def _message(
    role: str, content: str, metadata: Mapping[str, Any], message_id: str | None
) -> ChatTurn:
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
    if role == "assistant":
        calls = [_langchain_call(c) for c in metadata.get("tool_calls") or ()]
        return AIMessage(content=content, tool_calls=calls, name=name, id=message_id)
    if role == "tool":
        status = "error" if metadata.get("status") == "error" else "success"
        return ToolMessage(
            content=content,
            tool_call_id=str(metadata.get("tool_call_id", "")),
            status=status,
            name=name,
            id=message_id,
        )
    if role == "system":
        return SystemMessage(content=content, name=name, id=message_id)
    return HumanMessage(content=content, name=name, id=message_id)


def record_to_message(record: MemoryRecord) -> ChatTurn:
    """A stored turn as the LangChain message it came from (id: the original or the record's)."""
    message_id = record.metadata.get("message_id")
    return _message(
        record.role or "user",
        turn_content(record),
        record.metadata,
        message_id if isinstance(message_id, str) else record.id,
    )


def split_context(context: Context) -> tuple[list[ChatTurn], list[ChatTurn]]:
    """A built context as LangChain messages: (memory messages, recent turns).

    Recent turns are rebuilt from their records, so names, ids and tool calls survive.
    """
    head, recent = core_split(context)
    memory = [_message(m["role"], m["content"], m, None) for m in head]
    return memory, [record_to_message(r) for r in recent]


def context_to_messages(context: Context) -> list[BaseMessage]:
    """A built context as LangChain messages: the memory message, then the recent turns."""
    memory, recent = split_context(context)
    return [*memory, *recent]


def message_to_dict(message: BaseMessage) -> CoreMessage:
    """The chat message the core counts: role, content, tool calls, tool call id."""
    return message_to_turn(message).chat()


def count_messages(counter: TokenCounter, messages: Iterable[BaseMessage]) -> int:
    """The core's count (`tiermem.messages.exact_tokens`) of these LangChain messages."""
    return exact_tokens(counter, [message_to_dict(m) for m in messages])
