"""What the memory holds: records and their scores."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "COVERS_SEQ",
    "ROLES",
    "Kind",
    "MemoryRecord",
    "Owner",
    "Scope",
    "ScoreParts",
    "SearchHit",
]

#: Chat roles a turn may have.
ROLES = frozenset({"system", "user", "assistant", "tool"})


class Kind(StrEnum):
    """The three kinds of record in the long-term store."""

    TURN = "turn"
    MEMORY = "memory"
    SUMMARY = "summary"


#: metadata key of a summary: [first, last] sequence number of the turns it covers
COVERS_SEQ = "covers_seq"

#: whose a record is: (user_id, agent_id, session_id), None where it has no such id
Owner = tuple[str | None, str | None, str | None]


class Scope(NamedTuple):
    """Whose records a call works on: a user, an agent, a session.

    An id left None spans every value of it (a user's search spans their sessions).
    Pass one as ``scope=`` instead of ``user_id`` / ``agent_id`` / ``session_id``;
    it is a plain tuple of the three, equal to a record's ``owner``.
    """

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One row of the long-term store: a turn, an explicit memory, or a summary."""

    id: str
    kind: Kind
    text: str
    timestamp: datetime
    role: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    seq: int = -1
    importance: float = 0.5
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()
    tokens: int = 0
    #: when the record stops being seen (None: never); `optimize` purges it after
    expires_at: datetime | None = None
    #: a turn its session's every context keeps while the budget allows
    pinned: bool = False

    def expired(self, at: datetime) -> bool:
        """Whether the record has expired by ``at``."""
        return self.expires_at is not None and self.expires_at <= at

    @property
    def owner(self) -> Owner:
        """The scope a record belongs to; a window or summary serves exactly one."""
        return (self.user_id, self.agent_id, self.session_id)

    @property
    def speaker(self) -> str:
        """The name to show for this record: a ``name`` in metadata, else the role."""
        name = self.metadata.get("name")
        if isinstance(name, str) and name:
            return name
        return self.role or self.kind.value

    @property
    def covered_seqs(self) -> range:
        """The sequence numbers of the session's turns a summary stands for (else empty).

        A summary covers one unbroken run of its session's turns, ending at its own
        ``seq``; ``covers`` lists their ids only for a summary folded from turns
        directly (a merged one would repeat every id of the session's history).
        """
        if self.kind is not Kind.SUMMARY:
            return range(0)
        span = self.metadata.get(COVERS_SEQ)
        if isinstance(span, list) and len(span) == 2 and all(type(n) is int for n in span):
            return range(span[0], span[1] + 1)
        # written before the span was recorded: its ids were the whole unbroken run
        return range(self.seq - len(self.covers) + 1, self.seq + 1)

    @property
    def tool_call_ids(self) -> tuple[str, ...]:
        """Ids of the tool calls an assistant turn makes (``metadata["tool_calls"]``)."""
        calls = self.metadata.get("tool_calls") or ()
        return tuple(str(c["id"]) for c in calls if isinstance(c, Mapping) and "id" in c)


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """Why a hit ranks where it does: each part in [0, 1] before weighting.

    ``speaker`` is the factor a turn gets when the query names a speaker and this
    turn is someone else's (1.0 otherwise); ``neighbor`` is the score a turn
    inherits from a hit next to it in its session (its score is the larger of
    that and its own).
    """

    text: float = 0.0
    vector: float = 0.0
    recency: float = 0.0
    importance: float = 0.0
    speaker: float = 1.0
    neighbor: float = 0.0


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A record found by `search`, its fused score and the parts of that score."""

    record: MemoryRecord
    score: float
    parts: ScoreParts


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC)
