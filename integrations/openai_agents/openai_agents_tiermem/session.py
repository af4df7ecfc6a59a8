"""`TieredSession`: an OpenAI Agents SDK `Session` whose items live in tiermem.

Every item is stored (see `items` for how items become turns). Reads return whole
turns: a limit that would cut a function call from its output leaves out the
older part of that pair instead, where the SDK's own sessions return the output
alone. `TieredContextSession` returns tiermem's budgeted context instead of the
whole history.
"""

from __future__ import annotations

from agents.memory import SessionSettings

import tiermem
from tiermem import Kind, MemoryRecord
from tiermem.messages import split_context
from tiermem.short_term import group_units

from .items import Item, record_items, turns_from_items

__all__ = ["TieredContextSession", "TieredSession"]


def _tail(records: list[MemoryRecord], limit: int | None) -> list[Item]:
    """The items of the newest whole turns, at most ``limit`` of them."""
    units = [[item for record in unit for item in record_items(record)]
             for unit in group_units(records)]  # fmt: skip
    if limit is None:
        return [item for unit in units for item in unit]
    if limit < 0:
        raise tiermem.InvalidInputError("limit", f"must be None or at least 0, got {limit}")
    kept: list[list[Item]] = []
    count = 0
    for unit in reversed(units):
        if count + len(unit) > limit:
            break  # a call never goes without its output: the whole unit stays out
        kept.append(unit)
        count += len(unit)
    return [item for unit in reversed(kept) for item in unit]


class TieredSession:
    """`Runner.run(agent, input, session=TieredSession(mem, "s1", user_id="u1"))`.

    The scope (session, user, agent) bounds every read and write: two users who
    share a session id share nothing.
    """

    session_settings: SessionSettings | None

    def __init__(
        self,
        memory: tiermem.TieredMemory,
        session_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_settings: SessionSettings | None = None,
    ) -> None:
        self.memory = memory
        self.session_id = session_id
        self.user_id = user_id
        self.agent_id = agent_id
        self.session_settings = session_settings

    @property
    def scope(self) -> tiermem.Scope:
        """Whose items this session reads and writes."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    async def _turns(self) -> list[MemoryRecord]:
        return await self.memory.arecords(kinds=[Kind.TURN], scope=self.scope)

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The history, oldest first: all of it, or the newest whole turns within ``limit``."""
        return _tail(await self._turns(), limit)

    async def add_items(self, items: list[Item]) -> None:
        """Store items, all or none: a bad item is refused before anything is written."""
        messages = [t.as_message() for t in turns_from_items(items)]
        if messages:
            await self.memory.aadd_messages(messages, scope=self.scope)

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item (None when the session is empty)."""
        turns = await self._turns()
        if not turns:
            return None
        last = turns[-1]
        items = record_items(last)
        if len(items) == 1:
            await self.memory.aforget(last.id)
            return items[0]
        (rest,) = turns_from_items(items[:-1])  # the turn without its newest item
        await self.memory.aupdate(last.id, text=rest.content, metadata=rest.metadata)
        return items[-1]

    async def clear_session(self) -> None:
        """Delete every turn of this session in this scope."""
        await self.memory.aforget_scope(scope=self.scope)


class TieredContextSession(TieredSession):
    """A `TieredSession` whose `get_items` is tiermem's context within ``max_tokens``.

    The context is built for the session's latest stored user message: a system item
    with the relevant memory (earlier turns, summaries, memories of the user or
    agent), then the newest whole turns. Its size is counted as tiermem renders the
    turns (text and calls), never above ``max_tokens``; every item is still stored.
    """

    def __init__(
        self,
        memory: tiermem.TieredMemory,
        session_id: str,
        *,
        max_tokens: int | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_settings: SessionSettings | None = None,
    ) -> None:
        super().__init__(memory, session_id, user_id=user_id, agent_id=agent_id,
                         session_settings=session_settings)  # fmt: skip
        self.max_tokens = max_tokens
        self.last_context: tiermem.Context | None = None

    async def get_items(self, limit: int | None = None) -> list[Item]:
        context = await self.memory.abuild_context(max_tokens=self.max_tokens, scope=self.scope)
        self.last_context = context
        head, recent = split_context(context)
        memory: list[Item] = [{"role": m["role"], "content": m["content"]} for m in head]
        return [*memory, *_tail(recent, limit)]
