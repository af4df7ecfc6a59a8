"""pydantic-ai messages ↔ tiermem turns, tool calls with their returns.

A `ModelResponse` is one assistant turn: its text, and its `ToolCallPart`s in
``metadata["tool_calls"]`` (OpenAI's shape, as the core renders them). A
`ModelRequest` gives one turn per part: a `UserPromptPart` a user turn, a
`ToolReturnPart` (or a `RetryPromptPart` for a tool) a tool turn naming its call in
``metadata["tool_call_id"]``; the turns between two responses come back as one
request. System prompt parts are not stored: the agent sends
its own with every run. A message once recorded is marked (``metadata["tiermem"]``)
so that it is never recorded twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from tiermem import MemoryRecord
from tiermem.messages import Turn, turn_content

__all__ = [
    "MARK",
    "Turn",
    "is_recorded",
    "mark",
    "memory_part",
    "records_to_messages",
    "system_parts",
    "turns_of",
]

#: Metadata key of a message tiermem has recorded (or rebuilt from its records).
MARK = "tiermem"
_RUN = "run_id"


def is_recorded(message: ModelMessage) -> bool:
    return bool((message.metadata or {}).get(MARK))


def mark(message: ModelMessage) -> None:
    message.metadata = {**(message.metadata or {}), MARK: True}


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return "\n".join(c if isinstance(c, str) else f"[{getattr(c, 'kind', 'media')}]"
                     for c in part.content)  # fmt: skip


def _request_turns(request: ModelRequest) -> list[Turn]:
    group: dict[str, Any] = {}
    if request.run_id:
        group[_RUN] = request.run_id
    turns: list[Turn] = []
    for part in request.parts:
        if isinstance(part, UserPromptPart):
            text = _user_text(part)
            if text.strip():
                turns.append(Turn("user", text, dict(group)))
        elif isinstance(part, ToolReturnPart | RetryPromptPart) and part.tool_name:
            content = (
                part.model_response_str() if isinstance(part, ToolReturnPart)
                else part.model_response()
            )  # fmt: skip
            meta = {**group, "tool_call_id": part.tool_call_id, "tool_name": part.tool_name}
            turns.append(Turn("tool", content, meta))
        elif isinstance(part, RetryPromptPart):
            turns.append(Turn("user", part.model_response(), dict(group)))
    return turns


def _response_turn(response: ModelResponse) -> Turn | None:
    text = "\n".join(p.content for p in response.parts if isinstance(p, TextPart) and p.content)
    calls = [
        {"id": p.tool_call_id, "type": "function",
         "function": {"name": p.tool_name, "arguments": p.args_as_json_str()}}
        for p in response.parts if isinstance(p, ToolCallPart)
    ]  # fmt: skip
    if not text.strip() and not calls:
        return None  # nothing a later model could read (thinking only)
    metadata: dict[str, Any] = {"tool_calls": calls} if calls else {}
    if response.run_id:
        metadata[_RUN] = response.run_id
    return Turn("assistant", text, metadata)


def turns_of(message: ModelMessage) -> list[Turn]:
    """The turns tiermem stores for ``message`` (none for system prompts or thinking)."""
    if isinstance(message, ModelRequest):
        return _request_turns(message)
    turn = _response_turn(message)
    return [turn] if turn is not None else []


def _response(record: MemoryRecord) -> ModelResponse:
    text = turn_content(record)
    parts: list[ModelResponsePart] = [TextPart(text)] if text else []
    for call in record.metadata.get("tool_calls") or ():
        function = call.get("function") or {}
        parts.append(ToolCallPart(str(function.get("name", "")), function.get("arguments"),
                                  tool_call_id=str(call.get("id", ""))))  # fmt: skip
    run_id = record.metadata.get(_RUN)
    return ModelResponse(parts=parts, timestamp=record.timestamp, metadata={MARK: True},
                         run_id=run_id if isinstance(run_id, str) else None)  # fmt: skip


def _part(record: MemoryRecord) -> ModelRequestPart:
    text = turn_content(record)  # a stand-in another adapter stored reads back empty
    if record.role == "tool":
        return ToolReturnPart(
            tool_name=str(record.metadata.get("tool_name", "")), content=text,
            tool_call_id=str(record.metadata.get("tool_call_id", "")), timestamp=record.timestamp,
        )  # fmt: skip
    if record.role == "system":
        return SystemPromptPart(text, timestamp=record.timestamp)
    return UserPromptPart(text, timestamp=record.timestamp)


def records_to_messages(records: Iterable[MemoryRecord]) -> list[ModelMessage]:
    """Stored turns back as pydantic-ai messages; turns between two responses make one request.

    Never two requests in a row: the agent would merge them into a new, unmarked one.
    """
    messages: list[ModelMessage] = []
    for record in records:
        if record.role == "assistant":
            messages.append(_response(record))
            continue
        last = messages[-1] if messages else None
        if isinstance(last, ModelRequest):
            last.parts = [*last.parts, _part(record)]
            continue
        run_id = record.metadata.get(_RUN)
        request = ModelRequest(parts=[_part(record)], timestamp=record.timestamp,
                               metadata={MARK: True})  # fmt: skip
        request.run_id = run_id if isinstance(run_id, str) else None
        messages.append(request)
    return messages


def memory_part(text: str) -> SystemPromptPart:
    """The memory section of a context, marked so that it is never taken for the prompt."""
    return SystemPromptPart(text, metadata={MARK: True})


def system_parts(messages: Sequence[ModelMessage]) -> list[SystemPromptPart]:
    """The system prompt the agent sent with this run (never stored), without memory."""
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts
            if isinstance(p, SystemPromptPart) and not (p.metadata or {}).get(MARK)]  # fmt: skip
