"""OpenAI Agents SDK input items ↔ tiermem turns, function calls with their outputs.

The SDK keeps a conversation as Responses API items. tiermem keeps turns: a user
or system message is one turn; a function call's output is a tool turn naming the
call (``metadata["tool_call_id"]``); everything the model produced between two of
those (reasoning, text, function calls) is one assistant turn listing its calls in
``metadata["tool_calls"]``, so the core keeps the calls and outputs together. Every
turn keeps its original items in ``metadata["openai_items"]`` and gives them back
unchanged; a turn's text is not stored twice (``metadata["openai_text"]`` names the
field it came from).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tiermem import InvalidInputError, MemoryRecord
from tiermem.messages import Turn, to_turn, turn_content

__all__ = ["ITEMS", "Item", "Turn", "record_items", "turns_from_items"]

#: A Responses API input item as a JSON object (the SDK's ``TResponseInputItem``).
Item = dict[str, Any]

#: Metadata key of a turn's original items.
ITEMS = "openai_items"
_TEXT_FIELD = "openai_text"  # the one item's field that the turn's text fills back
_MESSAGE_ROLES = {"user": "user", "system": "system", "developer": "system"}


def _plain(item: Any) -> Item:
    """A JSON copy of an item (the SDK may hand over pydantic models)."""
    data = item.model_dump(mode="json", exclude_unset=True) if hasattr(item, "model_dump") else item
    if not isinstance(data, Mapping):
        raise InvalidInputError("items", f"each item must be a mapping, got {type(item).__name__}")
    copied: Item = json.loads(json.dumps(dict(data), ensure_ascii=False, default=str))
    return copied


def _text(content: Any) -> str:
    """The text of a message's content or an output: a string, or a list of parts."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, Mapping):
            text = part.get("text") if part.get("text") is not None else part.get("refusal")
            parts.append(str(text) if text is not None else f"[{part.get('type', 'part')}]")
    return "\n".join(p for p in parts if p)


def _kind(item: Item) -> str:
    """``message`` (user or system), ``output`` (a call's result) or ``model`` (the rest)."""
    if item.get("role") in _MESSAGE_ROLES and item.get("type", "message") == "message":
        return "message"
    if "call_id" in item and str(item.get("type", "")).endswith("_output"):
        return "output"
    return "model"


def _call(item: Item) -> dict[str, Any]:
    arguments = item.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(item.get("action", arguments or {}), ensure_ascii=False)
    name = item.get("name") or item.get("type", "call")
    return {"id": str(item["call_id"]), "type": "function",
            "function": {"name": str(name), "arguments": arguments}}  # fmt: skip


def _single(role: str, item: Item, key: str, extra: dict[str, Any]) -> Turn:
    """A one-item turn; a string field that is the whole text is not kept twice."""
    value = item.get(key)
    text = _text(value)
    if not text.strip():  # the core's empty-content rule, the item kept whole
        return to_turn(role, text, {**extra, ITEMS: [item]})
    if isinstance(value, str):
        kept = {k: v for k, v in item.items() if k != key}
        return Turn(role, text, {**extra, ITEMS: [kept], _TEXT_FIELD: key})
    return Turn(role, text, {**extra, ITEMS: [item]})


def _model_turn(items: Sequence[Item]) -> Turn:
    texts = [_text(i.get("content")) for i in items if i.get("type", "message") == "message"]
    text = "\n".join(t for t in texts if t)
    calls = [_call(i) for i in items if "call_id" in i]
    metadata: dict[str, Any] = {ITEMS: list(items)}
    if calls:
        metadata["tool_calls"] = calls
    return to_turn("assistant", text, metadata)  # reasoning only: the core's stand-in


def turns_from_items(items: Iterable[Any]) -> list[Turn]:
    """The turns that hold ``items``, in order."""
    turns: list[Turn] = []
    pending: list[Item] = []
    for raw in items:
        item = _plain(raw)
        kind = _kind(item)
        if kind == "model":
            pending.append(item)
            continue
        if pending:
            turns.append(_model_turn(pending))
            pending = []
        if kind == "message":
            turns.append(_single(_MESSAGE_ROLES[item["role"]], item, "content", {}))
        else:
            turns.append(_single("tool", item, "output", {"tool_call_id": str(item["call_id"])}))
    if pending:
        turns.append(_model_turn(pending))
    return turns


def record_items(record: MemoryRecord) -> list[Item]:
    """The original items of a stored turn."""
    stored = record.metadata.get(ITEMS)
    if not isinstance(stored, list):  # a turn another adapter wrote: its plain equivalent
        return _plain_items(record)
    items: list[Item] = [dict(i) for i in stored]
    key = record.metadata.get(_TEXT_FIELD)
    if isinstance(key, str) and len(items) == 1:
        items[0][key] = record.text
    return items


def _plain_items(record: MemoryRecord) -> list[Item]:
    text = turn_content(record)  # a stand-in another adapter stored reads back empty
    if record.role == "tool":
        call_id = str(record.metadata.get("tool_call_id", ""))
        return [{"type": "function_call_output", "call_id": call_id, "output": text}]
    if record.role != "assistant":
        return [{"role": record.role or "user", "content": text}]
    items: list[Item] = [{"role": "assistant", "content": text}] if text else []
    for call in record.metadata.get("tool_calls") or ():
        function = call.get("function") or {}
        items.append({"type": "function_call", "call_id": str(call.get("id", "")),
                      "name": str(function.get("name", "")),
                      "arguments": str(function.get("arguments", "{}"))})  # fmt: skip
    return items
