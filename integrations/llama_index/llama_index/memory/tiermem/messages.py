"""LlamaIndex `ChatMessage` ↔ tiermem turns, tool calls and results included.

A tiermem turn is ``(role, content, metadata)``: an assistant turn that calls tools
lists them in ``metadata["tool_calls"]`` (OpenAI's shape: ``{"id", "type":
"function", "function": {"name", "arguments"}}``), a tool turn names the call it
answers in ``metadata["tool_call_id"]``. On the LlamaIndex side, calls arrive as
`ToolCallBlock`s (0.14 agents and LLMs) or in ``additional_kwargs["tool_calls"]``
(OpenAI-style integrations); both are read, and both are written back.

Empty content follows the core's rule (`tiermem.messages.to_turn`), so a store is
read the same through every adapter. A message larger than any context may hold (a
huge tool result) is not refused: `store_turns` cuts it with the core's `truncate`
to the largest turn the memory accepts and logs a warning, so an agent run goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
    VideoBlock,
)

import tiermem
from tiermem import ChatMessage as CoreMessage
from tiermem import MemoryRecord
from tiermem.messages import TRUNCATED, Turn, to_turn, truncate, turn_content

__all__ = [
    "TRUNCATED",
    "Turn",
    "astore_turns",
    "context_message_to_chat",
    "message_to_turn",
    "record_to_message",
    "store_turns",
]

logger = logging.getLogger("llama_index.memory.tiermem")

# LlamaIndex roles that tiermem folds into one of its four
_ROLE_TO_TIERMEM = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}
_ORIGINAL_ROLE = "llama_index_role"
_MEDIA = (ImageBlock, AudioBlock, VideoBlock, DocumentBlock)


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else {}, ensure_ascii=False, default=str)


def _call(item: Any) -> dict[str, Any] | None:
    """One tool call in OpenAI's shape, from a dict, an SDK object or a ToolSelection."""
    name: Any
    args: Any
    call_id: Any
    if isinstance(item, ToolCallBlock):
        name, args, call_id = item.tool_name, item.tool_kwargs, item.tool_call_id
    else:
        data = item.model_dump() if hasattr(item, "model_dump") else item
        if not isinstance(data, Mapping):
            return None
        function = data.get("function")
        if isinstance(function, Mapping):
            name, args = function.get("name"), function.get("arguments")
        else:
            name = data.get("tool_name") or data.get("name")
            args = data.get("tool_kwargs", data.get("arguments"))
        call_id = data.get("id") or data.get("tool_id") or data.get("tool_call_id")
    return {
        "id": str(call_id or ""),
        "type": "function",
        "function": {"name": str(name or ""), "arguments": _arguments(args)},
    }


def _tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    calls = [_call(b) for b in message.blocks if isinstance(b, ToolCallBlock)]
    extra = message.additional_kwargs.get("tool_calls") or []
    seen = {c["id"] for c in calls if c is not None and c["id"]}
    for item in extra if isinstance(extra, list | tuple) else []:
        call = _call(item)
        # the same call may sit in both places: keep one
        if call is not None and not (call["id"] and call["id"] in seen):
            calls.append(call)
    return [c for c in calls if c is not None]


def _text(blocks: Iterable[ContentBlock]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, _MEDIA):
            parts.append(f"[{block.block_type}]")  # tiermem keeps text: note that media was here
    return "\n".join(p for p in parts if p)


def message_to_turn(message: ChatMessage) -> Turn:
    """A LlamaIndex message as a tiermem turn (text only; media become ``[image]`` markers)."""
    role = _ROLE_TO_TIERMEM.get(message.role, "user")
    kwargs = message.additional_kwargs
    metadata: dict[str, Any] = {}
    if role != message.role.value:
        metadata[_ORIGINAL_ROLE] = message.role.value
    if isinstance(kwargs.get("name"), str) and kwargs["name"]:
        metadata["name"] = kwargs["name"]
    calls = _tool_calls(message) if role == "assistant" else []
    if calls:
        metadata["tool_calls"] = calls
    if role == "tool":
        call_id = kwargs.get("tool_call_id") or kwargs.get("name") or ""
        metadata["tool_call_id"] = str(call_id)
    return to_turn(role, _text(message.blocks), metadata)


def _to_chat(
    role: str,
    content: str,
    tool_calls: list[Mapping[str, Any]],
    tool_call_id: str | None,
    extra: Mapping[str, Any],
    shown_role: str | None = None,
) -> ChatMessage:
    blocks: list[ContentBlock] = []
    if content or not tool_calls:
        blocks.append(TextBlock(text=content))
    kwargs: dict[str, Any] = dict(extra)
    if tool_calls:
        for call in tool_calls:
            function = call.get("function", {})
            arguments = function.get("arguments", "")
            try:
                parsed: Any = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError:
                parsed = arguments
            blocks.append(
                ToolCallBlock(
                    tool_call_id=str(call.get("id", "")),
                    tool_name=str(function.get("name", "")),
                    tool_kwargs=parsed if isinstance(parsed, dict | str) else arguments,
                )
            )
        kwargs["tool_calls"] = [dict(call) for call in tool_calls]
    if tool_call_id is not None:
        kwargs["tool_call_id"] = tool_call_id
    return ChatMessage(role=shown_role or role, blocks=blocks, additional_kwargs=kwargs)


def record_to_message(record: MemoryRecord) -> ChatMessage:
    """A stored tiermem turn back as the LlamaIndex message it came from."""
    meta = record.metadata
    role = str(meta.get(_ORIGINAL_ROLE) or record.role or "user")
    extra = {"name": meta["name"]} if isinstance(meta.get("name"), str) else {}
    calls = list(meta.get("tool_calls") or [])
    call_id = meta.get("tool_call_id")
    return _to_chat(
        record.role or "user",
        turn_content(record),
        calls,
        str(call_id) if record.role == "tool" else None,
        extra,
        shown_role=role,
    )


def context_message_to_chat(message: CoreMessage) -> ChatMessage:
    """One message of a tiermem `Context` (``{"role", "content", ...}``) as a `ChatMessage`."""
    role = str(message["role"])
    call_id = message.get("tool_call_id")
    return _to_chat(
        role,
        str(message["content"]),
        list(message.get("tool_calls") or []),
        str(call_id) if call_id is not None else None,
        {},
    )


# --- turns too large for the memory -----------------------------------------------


def _limit(memory: tiermem.TieredMemory) -> int:
    """The largest turn the memory takes (what `MessageTooLargeError` enforces)."""
    config = memory.config
    return config.short_term.max_message_tokens or config.context.max_tokens


def _fitted(memory: tiermem.TieredMemory, turn: Turn, scope: tiermem.Scope) -> dict[str, Any]:
    """``turn`` as `add_messages` takes it, cut to the largest turn the memory takes."""
    limit = _limit(memory)
    fitted = truncate(turn, max_tokens=limit, counter=memory.token_counter)
    if fitted is None:  # not even the marker fits: the core refuses it, and says why
        return turn.as_message()
    if fitted is not turn:
        logger.warning(
            "a %s message of session %r is larger than the %d tokens a turn may have: "
            "stored with %d tokens cut off",
            turn.role, scope.session_id, limit, fitted.metadata[TRUNCATED],
        )  # fmt: skip
    return fitted.as_message()


def store_turns(
    memory: tiermem.TieredMemory, turns: Iterable[Turn], *, scope: tiermem.Scope
) -> list[MemoryRecord]:
    """Add ``turns`` to ``memory`` in one write; one too large is stored cut
    (`tiermem.messages.truncate`) with a warning, so an agent run goes on."""
    return memory.add_messages([_fitted(memory, t, scope) for t in turns], scope=scope)


async def astore_turns(
    memory: tiermem.TieredMemory, turns: Iterable[Turn], *, scope: tiermem.Scope
) -> list[MemoryRecord]:
    """Async `store_turns`."""
    return await memory.aadd_messages([_fitted(memory, t, scope) for t in turns], scope=scope)
