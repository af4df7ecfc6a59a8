"""Memory blocks for LlamaIndex's own `Memory`: tiermem's long-term and medium tiers.

``Memory.from_defaults(memory_blocks=[TieredLongTermBlock(memory=mem), ...])``: when
the FIFO of chat messages overflows, the flushed messages are stored in tiermem by
the long-term block; each ``get`` then adds the tiermem hits for the latest
messages (and, with `TieredSummaryBlock`, the session's summaries) to the prompt.

Truncation follows llama-index-core's code (``Memory._truncate_memory_blocks``),
not its field description: blocks with ``priority == 0`` are never truncated, and
among the others the lowest number is truncated first. Each block's `atruncate`
drops whole lines, weakest first, so the block shrinks instead of vanishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field
from llama_index.core.memory.memory import BaseMemoryBlock

import tiermem
from tiermem import Kind, MemoryRecord, TokenCounter
from tiermem.context import memory_line

from .messages import astore_turns, message_to_turn

__all__ = ["TieredLongTermBlock", "TieredSummaryBlock"]

_DEFAULT_SESSION = "default"  # tiermem's own default session id


def _line(record: MemoryRecord) -> str:
    # the core's memory line; one record, one line: truncation drops lines
    return memory_line(record).replace("\n", " / ")


def _within(lines: Sequence[str], max_tokens: int | None, counter: TokenCounter) -> list[str]:
    if max_tokens is None:
        return list(lines)
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = counter.count(line) + 1  # + the newline that joins lines
        if used + cost <= max_tokens:
            kept.append(line)
            used += cost
    return kept


def _drop_lines(
    content: Any, tokens_to_truncate: int, counter: TokenCounter, *, from_end: bool
) -> str | None:
    # Memory hands an empty list, not "", for a block that returned nothing
    if not isinstance(content, str) or not content:
        return None
    lines = content.split("\n")
    while lines and tokens_to_truncate > 0:
        tokens_to_truncate -= counter.count(lines.pop(-1 if from_end else 0)) + 1
    return "\n".join(lines) or None


def _text(message: ChatMessage) -> str:
    return (message.content or "").strip()


class _TieredBlock(BaseMemoryBlock[str]):
    memory: tiermem.TieredMemory = Field(exclude=True, description="The tiermem store.")
    session_id: str | None = Field(
        default=None, description="tiermem session; default: the LlamaIndex Memory's session."
    )
    user_id: str | None = Field(default=None, description="Scope of what is stored and found.")
    agent_id: str | None = Field(default=None, description="Scope of what is stored and found.")
    max_tokens: int | None = Field(
        default=None, gt=0, description="Token bound of this block's text (tiermem's tokenizer)."
    )

    def _session(self, given: Any) -> str:
        if self.session_id:
            return self.session_id
        return given if isinstance(given, str) and given else _DEFAULT_SESSION

    async def _store(self, messages: list[ChatMessage]) -> None:
        for message in messages:
            # BaseMemoryBlock.aput tags flushed messages with the Memory's session id
            session = self._session(message.additional_kwargs.get("session_id"))
            scope = tiermem.Scope(self.user_id, self.agent_id, session)
            await astore_turns(self.memory, [message_to_turn(message)], scope=scope)


class TieredLongTermBlock(_TieredBlock):
    """Hybrid search of tiermem's long-term tier for the latest messages.

    `_aput` stores the messages flushed from the Memory's FIFO as tiermem turns;
    `_aget` returns the top ``k`` hits for the latest ``query_messages`` messages,
    one line each, best first, leaving out what is still in the chat history. With
    ``user_id`` or ``agent_id`` the search spans that user's or agent's sessions;
    without, only the session's own records.
    """

    name: str = Field(default="tiermem_long_term", description="The block's name.")
    priority: int = Field(
        default=2, description="0: never truncated; else the lowest number is truncated first."
    )
    k: int = Field(default=5, ge=1, description="Hits to return.")
    query_messages: int = Field(
        default=1, ge=1, description="How many of the latest messages form the query."
    )
    include_summaries: bool = Field(
        default=True, description="Off when a TieredSummaryBlock already shows the summaries."
    )

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        recent = [m for m in messages or [] if _text(m)]
        query = "\n".join(_text(m) for m in recent[-self.query_messages :])
        if not query:
            return ""
        scoped = self.user_id is not None or self.agent_id is not None
        session = None if scoped else self._session(block_kwargs.get("session_id"))
        hits = await self.memory.asearch(
            query,
            k=self.k,
            scope=tiermem.Scope(self.user_id, self.agent_id, session),
            exact=not scoped,  # an anonymous session is its own, not everyone's who shares its id
        )
        active = {_text(m) for m in recent}
        lines = [
            _line(h.record)
            for h in hits
            if h.record.text.strip() not in active
            and (self.include_summaries or h.record.kind is not Kind.SUMMARY)
        ]
        return "\n".join(_within(lines, self.max_tokens, self.memory.token_counter))

    async def _aput(self, messages: list[ChatMessage]) -> None:
        await self._store(messages)

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the weakest hits (the last lines) until enough tokens are freed."""
        counter = self.memory.token_counter
        return _drop_lines(content, tokens_to_truncate, counter, from_end=True)


class TieredSummaryBlock(_TieredBlock):
    """tiermem's medium tier: the session's rolling summaries, oldest first.

    Summaries appear once tiermem's own short-term bound
    (``MemoryConfig.short_term.max_tokens``) evicts stored turns. It does not store
    flushed messages by default (``accept_short_term_memory=False``): pair it with
    a `TieredLongTermBlock` on the same tiermem store, or set it to True when it is
    used alone.
    """

    name: str = Field(default="tiermem_summaries", description="The block's name.")
    priority: int = Field(
        default=1, description="0: never truncated; else the lowest number is truncated first."
    )
    accept_short_term_memory: bool = Field(
        default=False, description="Store flushed messages (off: the long-term block does)."
    )

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        session = self._session(block_kwargs.get("session_id"))
        scope = tiermem.Scope(self.user_id, self.agent_id, session)
        summaries = await self.memory.arecords(scope=scope, kinds=[Kind.SUMMARY], exact=True)
        lines = [_line(s) for s in summaries]  # in conversation order
        # over budget: the newest summaries matter most, so fill from the newest back
        kept = _within(lines[::-1], self.max_tokens, self.memory.token_counter)
        return "\n".join(kept[::-1])

    async def _aput(self, messages: list[ChatMessage]) -> None:
        await self._store(messages)

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the oldest summaries (the first lines) until enough tokens are freed."""
        counter = self.memory.token_counter
        return _drop_lines(content, tokens_to_truncate, counter, from_end=False)
