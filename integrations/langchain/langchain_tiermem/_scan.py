"""Every record in a scope, with what the core offers today.

The core has no "list records in a scope" call, so a search stands in: within a
scope, LanceDB's flat vector search returns every row up to ``k`` whatever the
query, as long as the query's vector is not all zeros. At most `SCAN_LIMIT`
records come back per call; `forget_scope` repeats until nothing is left.
"""

from __future__ import annotations

from collections.abc import Sequence

import tiermem
from tiermem import MemoryRecord, NotFoundError

__all__ = ["SCAN_LIMIT", "SCAN_QUERY", "aforget_scope", "ascan", "forget_scope", "scan"]

#: The largest ``k`` the core's search accepts.
SCAN_LIMIT = 10_000
# plain words: every embedder gives them a non-zero vector, and BM25 may match them too
SCAN_QUERY = "memory note record conversation"


def scan(
    mem: tiermem.TieredMemory,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    agent_id: str | None = None,
    tags: Sequence[str] | None = None,
    limit: int = SCAN_LIMIT,
) -> list[MemoryRecord]:
    """Up to ``limit`` records of the scope, in no particular order."""
    hits = mem.search(
        SCAN_QUERY, k=limit, session_id=session_id, user_id=user_id, agent_id=agent_id, tags=tags
    )
    return [hit.record for hit in hits]


async def ascan(
    mem: tiermem.TieredMemory,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    agent_id: str | None = None,
    tags: Sequence[str] | None = None,
    limit: int = SCAN_LIMIT,
) -> list[MemoryRecord]:
    """Async `scan`."""
    hits = await mem.asearch(
        SCAN_QUERY, k=limit, session_id=session_id, user_id=user_id, agent_id=agent_id, tags=tags
    )
    return [hit.record for hit in hits]


def forget_scope(mem: tiermem.TieredMemory, *, session_id: str) -> int:
    """Forget every record of a session; returns how many."""
    total = 0
    while records := scan(mem, session_id=session_id):
        before = total
        for record in records:
            try:
                mem.forget(record.id)
            except NotFoundError:  # forgotten meanwhile by another caller
                continue
            total += 1
        if total == before:  # nothing left that can be forgotten
            break
    return total


async def aforget_scope(mem: tiermem.TieredMemory, *, session_id: str) -> int:
    """Async `forget_scope`."""
    total = 0
    while records := await ascan(mem, session_id=session_id):
        before = total
        for record in records:
            try:
                await mem.aforget(record.id)
            except NotFoundError:
                continue
            total += 1
        if total == before:  # nothing left that can be forgotten
            break
    return total
