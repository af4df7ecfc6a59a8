"""`TiermemMemory`: tiermem as a LlamaIndex `BaseMemory`, for agents and chat engines.

Named like LlamaIndex's other third-party memories (``Mem0Memory`` in
``llama_index.memory.mem0``); ``TieredMemory``, its name in earlier versions, still
works for one release with a `DeprecationWarning`.

``agent.run(user_msg=..., memory=TiermemMemory.from_defaults(...))``: every message
the agent puts is stored verbatim in tiermem, and every ``get`` returns tiermem's
budgeted context for the current input, so the LLM sees recent turns, summaries
and long-term hits within ``max_tokens``. Sync methods call tiermem's sync API and
async methods its async API; no event loop is started or bridged here.

A message larger than the largest turn tiermem takes (a huge tool result) is stored
truncated, with a warning, instead of failing the agent run (see `messages.store_turns`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import ConfigDict, Field
from llama_index.core.llms.llm import LLM
from llama_index.core.memory.types import BaseMemory

import tiermem
from tiermem import Kind

from .embeddings import LlamaIndexEmbedder
from .messages import (
    astore_turns,
    context_message_to_chat,
    message_to_turn,
    record_to_message,
    store_turns,
)
from .summarizer import LLMSummarizer

__all__ = ["TiermemMemory"]

_CONVERSATION = (Kind.TURN, Kind.SUMMARY)


def _query(input: str | ChatMessage | None) -> str | None:
    text = input.content if isinstance(input, ChatMessage) else input
    return text if text and text.strip() else None


class TiermemMemory(BaseMemory):
    """A LlamaIndex memory backed by a `tiermem.TieredMemory`, scoped to one session.

    ``get`` returns the budgeted context (the memory section as a system message,
    then the recent turns with their tool calls); ``get_all`` returns every stored
    turn of the session in order. ``user_id`` / ``agent_id`` widen what long-term
    search may find to that user's or agent's other sessions.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: tiermem.TieredMemory = Field(
        exclude=True, description="The tiermem store this memory reads and writes."
    )
    session_id: str = Field(default="default", description="The chat session.")
    user_id: str | None = Field(default=None, description="Scope of long-term search.")
    agent_id: str | None = Field(default=None, description="Scope of long-term search.")
    max_tokens: int | None = Field(
        default=None, gt=0, description="Context budget; default: the tiermem config's."
    )

    @classmethod
    def class_name(cls) -> str:
        return "TiermemMemory"

    @classmethod
    def from_defaults(  # type: ignore[override]  # typed keywords, not BaseMemory's **kwargs
        cls,
        uri: str | os.PathLike[str] = "memory://",
        *,
        memory: tiermem.TieredMemory | None = None,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        max_tokens: int | None = None,
        config: tiermem.MemoryConfig | None = None,
        embed_model: BaseEmbedding | None = None,
        llm: LLM | None = None,
        embedder: tiermem.Embedder | None = None,
        summarizer: tiermem.Summarizer | None = None,
        token_counter: tiermem.TokenCounter | None = None,
        callbacks: Iterable[tiermem.CallbackHandler] | None = None,
    ) -> TiermemMemory:
        """Open (or wrap) a tiermem store; ``embed_model`` / ``llm`` plug LlamaIndex models in."""
        opening = (config, embed_model, llm, embedder, summarizer, token_counter, callbacks)
        if memory is not None and (
            os.fspath(uri) != "memory://" or any(x is not None for x in opening)
        ):
            raise ValueError("memory: pass an open tiermem store or what opens one, not both")
        if memory is None:
            if embedder is None and embed_model is not None:
                embedder = LlamaIndexEmbedder(embed_model)
            if summarizer is None and llm is not None:
                summarizer = LLMSummarizer(llm)
            memory = tiermem.TieredMemory(
                uri,
                config=config,
                embedder=embedder,
                summarizer=summarizer,
                token_counter=token_counter,
                callbacks=callbacks,
            )
        return cls(
            memory=memory,
            session_id=session_id,
            user_id=user_id,
            agent_id=agent_id,
            max_tokens=max_tokens,
        )

    @property
    def scope(self) -> tiermem.Scope:
        """Whose records this memory reads and writes (exactly: another user's turns
        under the same session id stay apart)."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    # --- sync --------------------------------------------------------------------------

    def get(
        self,
        input: str | ChatMessage | None = None,
        *,
        max_tokens: int | None = None,
        **kwargs: Any,
    ) -> list[ChatMessage]:
        """The budgeted context for ``input`` (default: the session's last user turn)."""
        context = self.memory.build_context(
            _query(input), scope=self.scope, max_tokens=max_tokens or self.max_tokens
        )
        return [context_message_to_chat(m) for m in context.messages]

    def get_all(self) -> list[ChatMessage]:
        """Every stored turn of the session, oldest first, tool calls intact."""
        turns = self.memory.records(scope=self.scope, kinds=[Kind.TURN], exact=True)
        return [record_to_message(r) for r in turns]

    def put(self, message: ChatMessage) -> None:
        """Store ``message`` as a turn (truncated, with a warning, if it is too large)."""
        self.put_messages([message])

    def put_messages(self, messages: Sequence[ChatMessage]) -> None:
        """Store ``messages`` in one write, all or none."""
        store_turns(self.memory, [message_to_turn(m) for m in messages], scope=self.scope)

    def set(self, messages: Sequence[ChatMessage]) -> None:
        """Replace the session: forget its turns and summaries, then add ``messages``."""
        self.reset()
        self.put_messages(messages)

    def reset(self) -> None:
        """Forget this session's conversation: its turns and summaries.

        Explicit memories (``remember``) stay, as they do when a LangChain chat
        history is cleared; ``memory.forget_scope`` deletes those too.
        """
        self.memory.forget_where(scope=self.scope, kinds=_CONVERSATION, exact=True)

    def close(self) -> None:
        """Close the tiermem store."""
        self.memory.close()

    # --- async -------------------------------------------------------------------------

    async def aget(
        self,
        input: str | ChatMessage | None = None,
        *,
        max_tokens: int | None = None,
        **kwargs: Any,
    ) -> list[ChatMessage]:
        """Async `get`."""
        context = await self.memory.abuild_context(
            _query(input), scope=self.scope, max_tokens=max_tokens or self.max_tokens
        )
        return [context_message_to_chat(m) for m in context.messages]

    async def aget_all(self) -> list[ChatMessage]:
        """Async `get_all`."""
        turns = await self.memory.arecords(scope=self.scope, kinds=[Kind.TURN], exact=True)
        return [record_to_message(r) for r in turns]

    async def aput(self, message: ChatMessage) -> None:
        """Async `put`."""
        await self.aput_messages([message])

    async def aput_messages(self, messages: Sequence[ChatMessage]) -> None:
        """Async `put_messages`."""
        await astore_turns(self.memory, [message_to_turn(m) for m in messages], scope=self.scope)

    async def aset(self, messages: Sequence[ChatMessage]) -> None:
        """Async `set`."""
        await self.areset()
        await self.aput_messages(messages)

    async def areset(self) -> None:
        """Async `reset`."""
        await self.memory.aforget_where(scope=self.scope, kinds=_CONVERSATION, exact=True)

    async def aclose(self) -> None:
        """Async `close`."""
        await self.memory.aclose()
