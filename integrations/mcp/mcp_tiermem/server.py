"""`create_server`: tiermem's tools on an `MCPServer`, bound to one scope.

The scope (user, agent, session) is fixed when the server starts. No tool takes
a scope argument, and a record id from another scope reads as a missing one, so
a client cannot widen what it sees, whatever it sends.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

import tiermem
from tiermem import MemoryRecord, NotFoundError, TieredMemoryError

__all__ = ["McpScope", "create_server", "serve"]

Transport = Literal["stdio", "streamable-http"]

_INSTRUCTIONS = (
    "Long-term memory for this user. Call build_context with the user's question before "
    "answering; remember facts worth keeping; search to look something up; update or "
    "forget a memory by the id search returned."
)

Text = Annotated[str, Field(description="The fact, preference or decision to keep, in one line.")]
Importance = Annotated[
    float, Field(ge=0.0, le=1.0, description="How much it matters, from 0 (trivia) to 1 (vital).")
]
Tags = Annotated[list[str], Field(description="Short labels to find it by later.")]
Query = Annotated[str, Field(description="What to look for, in plain words.")]
K = Annotated[int, Field(ge=1, le=50, description="How many records to return.")]
MaxTokens = Annotated[
    int, Field(ge=1, le=1_000_000, description="Token budget of the whole context.")
]
MemoryId = Annotated[str, Field(description="The id of a record, as search returned it.")]


@dataclass(frozen=True, slots=True)
class McpScope:
    """What every tool of one server is bound to; at least a user or an agent.

    ``session_id`` is the conversation whose recent turns `build_context` uses; when
    ``scoped_session`` is true the session also bounds search, update and forget.
    """

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str = "default"
    scoped_session: bool = False

    def __post_init__(self) -> None:
        if self.user_id is None and self.agent_id is None:
            raise tiermem.InvalidInputError(
                "scope", "name a user or an agent: a server never serves the whole store"
            )

    @property
    def filter_session(self) -> str | None:
        return self.session_id if self.scoped_session else None

    @property
    def conversation(self) -> tiermem.Scope:
        """The scope of `build_context`: the user or agent, and the session."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    @property
    def records(self) -> tiermem.Scope:
        """The scope of search and of new memories: the session only when it bounds them."""
        return tiermem.Scope(self.user_id, self.agent_id, self.filter_session)

    def owns(self, record: MemoryRecord) -> bool:
        return all(
            bound is None or actual == bound
            for bound, actual in (
                (self.user_id, record.user_id),
                (self.agent_id, record.agent_id),
                (self.filter_session, record.session_id),
            )
        )


def _as_dict(record: MemoryRecord, score: float | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"id": record.id, "text": record.text, "kind": str(record.kind)}
    if score is not None:
        found["score"] = round(score, 4)
    if record.role:
        found["role"] = record.role
    found["timestamp"] = record.timestamp.isoformat()
    if record.tags:
        found["tags"] = list(record.tags)
    return found


def create_server(
    memory: tiermem.TieredMemory, scope: McpScope, *, name: str = "tiermem"
) -> MCPServer:
    """An `MCPServer` whose tools read and write ``memory`` inside ``scope`` only."""

    async def owned(memory_id: str) -> MemoryRecord:
        try:
            record = await memory.aget(memory_id)
        except NotFoundError:
            record = None
        if record is None or not scope.owns(record):
            # the same answer as a missing id: another scope's records stay invisible
            raise ToolError(f"memory_id: no record with id {memory_id!r}")
        return record

    async def remember(
        text: Text, importance: Importance = 0.5, tags: Tags | None = None
    ) -> dict[str, Any]:
        """Store a fact worth keeping across conversations (a preference, a name, a decision)."""
        record = await memory.aremember(
            text, scope=scope.records, importance=importance, tags=tags or ()
        )
        return _as_dict(record)

    async def search(query: Query, k: K = 5) -> dict[str, Any]:
        """Search long-term memory (facts, past turns, summaries), best matches first."""
        hits = await memory.asearch(query, k=k, scope=scope.records)
        return {"hits": [_as_dict(h.record, h.score) for h in hits]}

    async def build_context(query: Query, max_tokens: MaxTokens = 2_000) -> dict[str, Any]:
        """The best context for a question within a token budget: memory, then recent turns."""
        context = await memory.abuild_context(
            query, scope=scope.conversation, max_tokens=max_tokens
        )
        return {
            "messages": context.messages,
            "text": context.text,
            "token_count": context.token_count,
            "max_tokens": context.max_tokens,
        }

    async def update(
        memory_id: MemoryId,
        text: str | None = None,
        importance: Annotated[float | None, Field(ge=0.0, le=1.0)] = None,
        tags: Tags | None = None,
    ) -> dict[str, Any]:
        """Correct a memory: new text, importance or tags (what is not given stays)."""
        await owned(memory_id)
        record = await memory.aupdate(memory_id, text=text, importance=importance, tags=tags)
        return _as_dict(record)

    async def forget(memory_id: MemoryId) -> dict[str, Any]:
        """Delete a memory that is wrong or no longer wanted."""
        await owned(memory_id)
        await memory.aforget(memory_id)
        return {"id": memory_id, "forgotten": True}

    server: MCPServer = MCPServer(name, instructions=_INSTRUCTIONS, log_level="WARNING")
    for tool in (remember, search, build_context, update, forget):
        server.add_tool(_reported(tool))
    return server


def _reported(tool: Any) -> Any:
    """The tool with tiermem's input errors as tool errors the model can read."""

    @functools.wraps(tool)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await tool(*args, **kwargs)
        except TieredMemoryError as exc:
            raise ToolError(str(exc)) from None

    return call


def serve(
    memory: tiermem.TieredMemory,
    scope: McpScope,
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve until stopped: over stdin/stdout, or streamable HTTP at ``http://host:port/mcp``."""
    server = create_server(memory, scope)
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
