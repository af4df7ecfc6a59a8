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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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

from tiermem import Context, MemoryRecord, Tier
from tiermem.context import exact_tokens
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

#: Set on turns stored with stand-in text: the core refuses empty content for a user
#: or system turn, or an assistant turn that calls no tool. Read back as empty content.
PLACEHOLDER = "placeholder"

_ROLES: dict[str, str] = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}


@dataclass(frozen=True, slots=True)
class Turn:
    """What `TieredMemory.add_message` takes for one LangChain message."""

    role: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)


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
    content = str(message.text)
    # a turn that only calls tools, or a tool result, may be empty: stored as it is
    may_be_empty = role == "tool" or bool(metadata.get("tool_calls"))
    if not content.strip() and not may_be_empty:
        content = f"[empty {role} message]"
        metadata[PLACEHOLDER] = True
    return Turn(role=role, content=content, metadata=metadata)


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
    """A stored turn as the LangChain message it came from (id: the original or the record's).

    Turns stored with a stand-in text (``metadata["placeholder"]``, also the
    ``[calls …]`` text of tool-calling turns stored by earlier versions) come back empty.
    """
    metadata = record.metadata
    content = "" if metadata.get(PLACEHOLDER) else record.text
    message_id = metadata.get("message_id")
    return _message(
        record.role or "user",
        content,
        metadata,
        message_id if isinstance(message_id, str) else record.id,
    )


def split_context(context: Context) -> tuple[list[ChatTurn], list[ChatTurn]]:
    """A built context as LangChain messages: (memory messages, recent turns).

    Recent turns are rebuilt from their records, so names, ids and tool calls survive.
    """
    recent = sorted(
        (r for c in context.kept if c.tier is Tier.SHORT_TERM for r in c.records),
        key=lambda r: r.seq,
    )
    head = len(context.messages) - len(recent)
    if head < 0:  # not the layout the core renders: convert the plain dicts instead
        return [], [_message(m["role"], m["content"], m, None) for m in context.messages]
    memory = [_message(m["role"], m["content"], m, None) for m in context.messages[:head]]
    return memory, [record_to_message(r) for r in recent]


def context_to_messages(context: Context) -> list[BaseMessage]:
    """A built context as LangChain messages: the memory message, then the recent turns."""
    memory, recent = split_context(context)
    return [*memory, *recent]


def message_to_dict(message: BaseMessage) -> dict[str, Any]:
    """The chat message the core counts: role, content, tool calls, tool call id."""
    turn = message_to_turn(message)
    content = "" if turn.metadata.get(PLACEHOLDER) else turn.content
    rendered: dict[str, Any] = {"role": turn.role, "content": content}
    if turn.metadata.get("tool_calls"):
        rendered["tool_calls"] = turn.metadata["tool_calls"]
    if turn.role == "tool":
        rendered["tool_call_id"] = turn.metadata["tool_call_id"]
    return rendered


def count_messages(counter: TokenCounter, messages: Iterable[BaseMessage]) -> int:
    """Tokens a chat request with these messages costs, as the core counts a context."""
    rendered: Sequence[dict[str, Any]] = [message_to_dict(m) for m in messages]
    return exact_tokens(counter, rendered)
