"""`TieredChatMessageHistory`: tiermem behind LangChain's `BaseChatMessageHistory`."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

import tiermem
from tiermem import Kind

from .messages import context_to_messages, message_to_turn

__all__ = ["TieredChatMessageHistory"]

_CONVERSATION = (Kind.TURN, Kind.SUMMARY)


class TieredChatMessageHistory(BaseChatMessageHistory):
    """A session's history, read back as tiermem's budgeted context.

    Every message added is kept (verbatim in the long-term store); ``messages``
    returns what a model should see: a memory message with what earlier turns
    and summaries hold that is relevant to the latest question, then the recent
    turns, within ``max_tokens`` (default: the memory's ``context.max_tokens``).
    Message types, names, tool calls and tool call ids come back as they went in.
    Only this (user, agent, session)'s records are read and cleared: another user's
    turns under the same session id stay.
    """

    def __init__(
        self,
        memory: tiermem.TieredMemory,
        session_id: str = "default",
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__()
        self.memory = memory
        self.session_id = session_id
        self.user_id = user_id
        self.agent_id = agent_id
        self.max_tokens = max_tokens

    @property
    def scope(self) -> tiermem.Scope:
        """Whose records this history reads and writes."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    # the base declares an attribute; LangChain's own histories override it with a property
    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        context = self.memory.build_context(scope=self.scope, max_tokens=self.max_tokens)
        return context_to_messages(context)

    async def aget_messages(self) -> list[BaseMessage]:
        context = await self.memory.abuild_context(scope=self.scope, max_tokens=self.max_tokens)
        return context_to_messages(context)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store ``messages`` in one write, all or none."""
        turns = [message_to_turn(m).as_message() for m in messages]
        if turns:
            self.memory.add_messages(turns, scope=self.scope)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        turns = [message_to_turn(m).as_message() for m in messages]
        if turns:
            await self.memory.aadd_messages(turns, scope=self.scope)

    def clear(self) -> None:
        """Forget this session's conversation: its turns and summaries.

        Explicit memories (``remember``) stay, as they do when a LlamaIndex memory is
        reset; ``memory.forget_scope`` deletes those too.
        """
        self.memory.forget_where(scope=self.scope, kinds=_CONVERSATION, exact=True)

    async def aclear(self) -> None:
        await self.memory.aforget_where(scope=self.scope, kinds=_CONVERSATION, exact=True)

    def __repr__(self) -> str:
        return f"TieredChatMessageHistory({self.memory!r}, session_id={self.session_id!r})"
