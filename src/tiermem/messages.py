"""Chat messages and turns: the one model every adapter converts to and from.

A `Turn` is what `TieredMemory.add_message` takes (role, content, metadata); a
`ChatMessage` is what a context holds and a chat model reads. Tool calls travel in
a turn's metadata in OpenAI's shape: an assistant turn lists them in
``metadata["tool_calls"]`` (``{"id", "type": "function", "function": {"name",
"arguments"}}``, arguments as a JSON string), a tool turn names the call it answers
in ``metadata["tool_call_id"]``.

The empty-content rule: an assistant turn that only calls tools, and a tool turn
with no output, are stored with empty content. Any other turn may not be empty
(a message with nothing to say is usually a bug), so `to_turn` stores it as
``[empty <role> message]`` with ``metadata["placeholder"]`` set, and `turn_content`
reads it back empty, as does the rendered context. Stores written before this rule
stand-ins without the flag (``(empty)``, ``(no output)``, ``(calls a, b)``): they
read back empty too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NotRequired, TypedDict, overload

from .tokens import REPLY_PRIMING, TokenCounter

if TYPE_CHECKING:
    from .context import Context
    from .records import MemoryRecord

__all__ = [
    "PLACEHOLDER",
    "TRUNCATED",
    "ChatMessage",
    "Turn",
    "chat_message",
    "exact_tokens",
    "may_be_empty",
    "message_tokens",
    "split_context",
    "to_turn",
    "truncate",
    "turn_content",
    "turn_message",
]

#: Metadata key of a turn stored with a stand-in text for its empty content.
PLACEHOLDER = "placeholder"
#: Metadata key of a turn stored truncated: how many tokens were cut off.
TRUNCATED = "truncated_tokens"

_LEGACY_EMPTY = "(empty)"
_LEGACY_NO_OUTPUT = "(no output)"
_SPACE = re.compile(r"\s+\S*$")


class ChatMessage(TypedDict):
    """A chat message as a context holds it (OpenAI's chat shape)."""

    role: str
    content: str
    tool_calls: NotRequired[list[dict[str, Any]]]
    tool_call_id: NotRequired[str]


class Turn(NamedTuple):
    """What `TieredMemory.add_message` takes for one message of any framework."""

    role: str
    content: str
    metadata: dict[str, Any]

    def as_message(self) -> dict[str, Any]:
        """The mapping `TieredMemory.add_messages` takes for this turn."""
        return {"role": self.role, "content": self.content, "metadata": self.metadata}

    def chat(self) -> ChatMessage:
        """The chat message a model reads for this turn (a stand-in reads back empty)."""
        content = _content(self.role, self.content, self.metadata)
        return chat_message(self.role, content, self.metadata)


def may_be_empty(role: str, metadata: Mapping[str, Any]) -> bool:
    """The empty-content rule: a turn that only calls tools, or a tool with no output,
    has nothing to say; any other turn must say something."""
    return role == "tool" or bool(metadata.get("tool_calls"))


def to_turn(role: str, content: str, metadata: Mapping[str, Any] | None = None) -> Turn:
    """The turn stored for a message: empty content the core refuses gets a stand-in."""
    meta = dict(metadata or {})
    if not content.strip() and not may_be_empty(role, meta):
        return Turn(role, f"[empty {role} message]", {**meta, PLACEHOLDER: True})
    return Turn(role, content, meta)


def _legacy_calls(calls: Iterable[Mapping[str, Any]]) -> str:
    names = [str((call.get("function") or {}).get("name", "")) for call in calls]
    return f"(calls {', '.join(names)})"


def _content(role: str, text: str, metadata: Mapping[str, Any]) -> str:
    if metadata.get(PLACEHOLDER) or text == _LEGACY_EMPTY:
        return ""
    calls = metadata.get("tool_calls")
    if calls and text == _legacy_calls(calls):
        return ""
    return "" if role == "tool" and text == _LEGACY_NO_OUTPUT else text


def turn_content(record: MemoryRecord) -> str:
    """A stored turn's content as it was given: empty where a stand-in was stored."""
    return _content(record.role or "user", record.text, record.metadata)


def chat_message(role: str, content: str, metadata: Mapping[str, Any]) -> ChatMessage:
    """A chat message with the tool-call fields a model needs."""
    message = ChatMessage(role=role, content=content)
    if metadata.get("tool_calls"):
        message["tool_calls"] = metadata["tool_calls"]
    if role == "tool":
        message["tool_call_id"] = str(metadata.get("tool_call_id", ""))
    return message


def turn_message(record: MemoryRecord) -> ChatMessage:
    """A stored turn as a chat message (a stand-in for empty content reads back empty)."""
    return chat_message(record.role or "user", turn_content(record), record.metadata)


def message_tokens(counter: TokenCounter, message: ChatMessage) -> int:
    """What one message costs in a chat request, tool calls included."""
    tokens = counter.count_message(message["role"], message["content"])
    if "tool_calls" in message:
        tokens += counter.count(json.dumps(message["tool_calls"], ensure_ascii=False))
    if "tool_call_id" in message:
        tokens += counter.count(str(message["tool_call_id"]))
    return tokens


def exact_tokens(counter: TokenCounter, messages: Sequence[ChatMessage]) -> int:
    """What a chat request with ``messages`` costs, reply priming included (0 when empty)."""
    if not messages:
        return 0
    return sum(message_tokens(counter, m) for m in messages) + REPLY_PRIMING


def split_context(context: Context) -> tuple[list[ChatMessage], list[MemoryRecord]]:
    """A built context as (its memory messages, the records of its recent turns in order).

    An adapter rebuilds its framework's messages from the records, so that names, ids
    and tool calls come back as they went in. A context not laid out as the core
    renders one (fewer messages than recent turns) is all memory messages.
    """
    from .context import Tier

    recent = sorted(
        (r for c in context.kept if c.tier is Tier.SHORT_TERM for r in c.records),
        key=lambda r: r.seq,
    )
    head = len(context.messages) - len(recent)
    if head < 0:
        return list(context.messages), []
    return context.messages[:head], recent


# --- truncation ----------------------------------------------------------------------


def _longest_prefix(text: str, fits: Callable[[str], bool]) -> int:
    """The length of the longest prefix of ``text`` that fits (the empty one must fit).

    Probes grow from the start, so a huge text is never counted whole again.
    """
    low, high = 0, min(1_024, len(text))
    while high < len(text) and fits(text[:high]):
        low, high = high, min(2 * high, len(text))
    if high == len(text) and fits(text):
        return high
    # text[:low] fits, text[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if fits(text[:middle]):
            low = middle
        else:
            high = middle
    return low


def _truncate_text(text: str, max_tokens: int, counter: TokenCounter) -> str:
    if counter.count(text) <= max_tokens:
        return text
    cut = text[: _longest_prefix(text, lambda p: counter.count(p) <= max_tokens)]
    if not text[len(cut)].isspace():
        word = _SPACE.search(cut)  # back to the last whole word, when there is one
        if word is not None and word.start() > 0:
            cut = cut[: word.start()]
    return cut.rstrip()


def _marker(dropped: int) -> str:
    return f"\n…[truncated {dropped} tokens]"


def _truncate_turn(turn: Turn, max_tokens: int, counter: TokenCounter) -> Turn | None:
    def cost(content: str) -> int:
        return message_tokens(counter, chat_message(turn.role, content, turn.metadata))

    if cost(turn.content) <= max_tokens:
        return turn
    total = counter.count(turn.content)
    budget = max_tokens
    for _ in range(3):
        widest = _marker(total)  # the most digits the marker can have

        def fits(prefix: str, budget: int = budget, widest: str = widest) -> bool:
            return cost(prefix + widest) <= budget

        if not fits(""):
            return None
        kept = turn.content[: _longest_prefix(turn.content, fits)]
        dropped = total - counter.count(kept)
        text = kept + _marker(dropped)
        over = cost(text) - max_tokens
        if over <= 0:
            return Turn(turn.role, text, {**turn.metadata, TRUNCATED: dropped})
        budget -= over  # tokens do not add up exactly across the cut: a little shorter
    return None


@overload
def truncate(item: str, *, max_tokens: int, counter: TokenCounter) -> str: ...
@overload
def truncate(item: Turn, *, max_tokens: int, counter: TokenCounter) -> Turn | None: ...
def truncate(item: str | Turn, *, max_tokens: int, counter: TokenCounter) -> str | Turn | None:
    """``item`` cut to at most ``max_tokens`` tokens as ``counter`` counts them.

    A text keeps its longest prefix that fits, ended at a word boundary when there is
    one. A turn is priced as a chat message (tool calls included); when it is over,
    its content keeps its beginning and ends with ``…[truncated N tokens]``, and ``N``
    goes into ``metadata["truncated_tokens"]``. None when not even that marker fits
    (the tool calls alone fill the turn).
    """
    if isinstance(item, Turn):
        return _truncate_turn(item, max_tokens, counter)
    return _truncate_text(item, max_tokens, counter)
