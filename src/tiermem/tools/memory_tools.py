"""Tools that let an agent remember, search and forget, bound to one memory scope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

from pydantic import Field

from ..errors import NotFoundError
from .registry import ToolRegistry
from .tool import Tool

__all__ = ["MemoryStore", "memory_tools"]


class _Record(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def session_id(self) -> str | None: ...


class _Hit(Protocol):
    @property
    def record(self) -> _Record: ...
    @property
    def score(self) -> float: ...


class MemoryStore(Protocol):
    """The part of `tiermem.TieredMemory` the memory tools use."""

    def remember(
        self,
        text: str,
        *,
        user_id: str | None = ...,
        agent_id: str | None = ...,
        session_id: str | None = ...,
        importance: float = ...,
        tags: Iterable[str] = ...,
    ) -> _Record: ...

    def search(
        self,
        query: str,
        *,
        k: int = ...,
        user_id: str | None = ...,
        agent_id: str | None = ...,
        session_id: str | None = ...,
        exclude_recent: bool = ...,
    ) -> Sequence[_Hit]: ...

    def get(self, memory_id: str) -> _Record: ...

    def update(self, memory_id: str, *, text: str | None = ...) -> _Record: ...

    def forget(self, memory_id: str) -> None: ...

    async def aremember(
        self,
        text: str,
        *,
        user_id: str | None = ...,
        agent_id: str | None = ...,
        session_id: str | None = ...,
        importance: float = ...,
        tags: Iterable[str] = ...,
    ) -> _Record: ...

    async def asearch(
        self,
        query: str,
        *,
        k: int = ...,
        user_id: str | None = ...,
        agent_id: str | None = ...,
        session_id: str | None = ...,
        exclude_recent: bool = ...,
    ) -> Sequence[_Hit]: ...

    async def aget(self, memory_id: str) -> _Record: ...

    async def aupdate(self, memory_id: str, *, text: str | None = ...) -> _Record: ...

    async def aforget(self, memory_id: str) -> None: ...


# What the model reads about each argument.
Text = Annotated[str, Field(description="The fact, preference or decision to keep, in one line.")]
Importance = Annotated[
    float, Field(ge=0.0, le=1.0, description="How much it matters, from 0 (trivia) to 1 (vital).")
]
Tags = Annotated[tuple[str, ...], Field(description="Short labels to find it by later.")]
Query = Annotated[str, Field(description="What to look for, in plain words.")]
K = Annotated[int, Field(ge=1, le=50, description="How many memories to return.")]
MemoryId = Annotated[str, Field(description="The id of a memory, as search_memory returned it.")]


def memory_tools(
    mem: MemoryStore,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    registry: ToolRegistry | None = None,
) -> list[Tool]:
    """``remember``, ``search_memory``, ``update_memory`` and ``forget_memory`` over
    ``mem``, in one scope.

    Every call stays inside the given user, agent and session: the model cannot
    read, change or delete another scope's records, whatever ids it sends. A search
    skips the turns in the scope's short-term windows: the agent already sees them.
    The tools are registered in ``registry`` (a new one if None); `acall` uses the
    async methods.
    """

    def in_scope(record: _Record, memory_id: str) -> None:
        for bound, actual in (
            (user_id, record.user_id),
            (agent_id, record.agent_id),
            (session_id, record.session_id),
        ):
            if bound is not None and actual != bound:
                # the same answer as a missing id: another scope's records stay invisible
                raise NotFoundError(f"memory_id: no record with id {memory_id!r}")

    def remember(text: Text, importance: Importance = 0.5, tags: Tags = ()) -> dict[str, Any]:
        """Store a fact worth keeping across conversations (a preference, a name, a decision)."""
        record = mem.remember(
            text,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            importance=importance,
            tags=tags,
        )
        return _as_dict(record)

    async def aremember(
        text: Text, importance: Importance = 0.5, tags: Tags = ()
    ) -> dict[str, Any]:
        record = await mem.aremember(
            text,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            importance=importance,
            tags=tags,
        )
        return _as_dict(record)

    def search_memory(query: Query, k: K = 5) -> list[dict[str, Any]]:
        """Search long-term memory (facts, past turns, summaries), best matches first."""
        hits = mem.search(query, k=k, user_id=user_id, agent_id=agent_id, session_id=session_id,
                          exclude_recent=True)  # fmt: skip
        return [_as_dict(hit.record, hit.score) for hit in hits]

    async def asearch_memory(query: Query, k: K = 5) -> list[dict[str, Any]]:
        hits = await mem.asearch(query, k=k, user_id=user_id, agent_id=agent_id,
                                 session_id=session_id, exclude_recent=True)  # fmt: skip
        return [_as_dict(hit.record, hit.score) for hit in hits]

    def update_memory(memory_id: MemoryId, text: Text) -> dict[str, Any]:
        """Replace what a memory says when the fact has changed (e.g. a new address)."""
        in_scope(mem.get(memory_id), memory_id)
        return _as_dict(mem.update(memory_id, text=text))

    async def aupdate_memory(memory_id: MemoryId, text: Text) -> dict[str, Any]:
        in_scope(await mem.aget(memory_id), memory_id)
        return _as_dict(await mem.aupdate(memory_id, text=text))

    def forget_memory(memory_id: MemoryId) -> dict[str, Any]:
        """Delete a memory that is wrong or no longer wanted."""
        in_scope(mem.get(memory_id), memory_id)
        mem.forget(memory_id)
        return {"id": memory_id, "forgotten": True}

    async def aforget_memory(memory_id: MemoryId) -> dict[str, Any]:
        in_scope(await mem.aget(memory_id), memory_id)
        await mem.aforget(memory_id)
        return {"id": memory_id, "forgotten": True}

    target = registry if registry is not None else ToolRegistry()
    return [
        target.register(remember, coroutine=aremember),
        target.register(search_memory, coroutine=asearch_memory),
        target.register(update_memory, coroutine=aupdate_memory),
        target.register(forget_memory, coroutine=aforget_memory),
    ]


def _as_dict(record: _Record, score: float | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"id": record.id, "text": record.text}
    if score is not None:
        found["score"] = round(score, 4)
    found["kind"] = str(record.kind)
    found["timestamp"] = record.timestamp.isoformat()
    return found
