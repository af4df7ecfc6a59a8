"""`Filter`: which rows a store operation may see, as a LanceDB filter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..records import Kind, MemoryRecord, Owner
from .rows import _EPOCH, scope_key


@dataclass(frozen=True, slots=True)
class Filter:
    """Which records a store operation may see: an owner (as a public `Scope` names one)
    narrowed by kinds, tags, ids and times. None means "not restricted on this id",
    unless ``exact``: then None matches only records without that id, as a window's
    scope must (an anonymous session is not everyone's session)."""

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    kinds: tuple[Kind, ...] = ()
    tags: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    after_seq: int | None = None
    turns_at: tuple[tuple[Owner, int], ...] = ()  # (owner, seq) of turns
    exact: bool = False
    #: microseconds since the epoch: only records not expired by then
    alive_at: int | None = None
    #: microseconds since the epoch: only records expired by then
    expired_at: int | None = None
    #: microseconds since the epoch: only records whose timestamp is earlier
    before: int | None = None
    pinned: bool | None = None

    @classmethod
    def of(cls, owner: Owner, **more: Any) -> Filter:
        """Exactly one owner's records: what a window and its summaries are built from."""
        user_id, agent_id, session_id = owner
        return cls(user_id=user_id, agent_id=agent_id, session_id=session_id, exact=True, **more)

    def owns(self, record: MemoryRecord) -> bool:
        """Whether ``record`` belongs to this scope's user, agent and session."""
        return self.holds(record.owner)

    def holds(self, owner: Owner) -> bool:
        """Whether what ``owner`` wrote (a record, a window) is inside this scope."""
        return all(
            actual == wanted if wanted is not None or self.exact else True
            for wanted, actual in zip(self.owner, owner, strict=True)
        )

    @property
    def owner(self) -> Owner:
        return (self.user_id, self.agent_id, self.session_id)

    def where(self) -> str | None:
        clauses = []
        if self.turns_at:
            by_owner: dict[Owner, list[int]] = {}
            for owner, seq in self.turns_at:
                by_owner.setdefault(owner, []).append(int(seq))
            either = " OR ".join(
                f"({' AND '.join(_owner_clauses(owner, exact=True))}"
                f" AND seq IN ({', '.join(map(str, seqs))}))"
                for owner, seqs in by_owner.items()
            )
            clauses.append(f"kind = 'turn' AND ({either})")
        if self.after_seq is not None:
            clauses.append(f"seq > {int(self.after_seq)}")
        if self.alive_at is not None:
            clauses.append(_ALIVE.format(_sql_time(self.alive_at)))
        if self.expired_at is not None:
            clauses.append(f"expires_at <= {_sql_time(self.expired_at)}")
        if self.before is not None:
            clauses.append(f"timestamp < {_sql_time(self.before)}")
        if self.pinned is not None:
            clauses.append("pinned = true" if self.pinned else "pinned IS NOT TRUE")
        clauses += _owner_clauses(self.owner, exact=self.exact)
        if self.kinds:
            kinds = ", ".join(f"'{Kind(k).value}'" for k in self.kinds)
            clauses.append(f"kind IN ({kinds})")
        if self.tags:
            keys = ", ".join(f"'{scope_key(t)}'" for t in self.tags)
            clauses.append(f"array_has_any(tag_keys, [{keys}])")
        if self.ids:
            # record ids are ours (hex); anything else cannot match and is dropped
            ids = ", ".join(f"'{i}'" for i in self.ids if i.isalnum() and i.isascii())
            clauses.append(f"id IN ({ids})" if ids else "false")
        return " AND ".join(clauses) if clauses else None


_ALIVE = "(expires_at IS NULL OR expires_at > {})"
_UTC_MICROS = "'Timestamp(Microsecond, Some(\"UTC\"))'"
#: the expiry clause, whose time changes with every read: left out of size estimates
_ALIVE_CLAUSE = re.compile(
    re.escape(_ALIVE.format(f"arrow_cast(0, {_UTC_MICROS})")).replace("0", r"-?\d+", 1)
)


def _sql_time(micros: int) -> str:
    """A UTC timestamp literal from microseconds (an int: nothing of the caller's is parsed)."""
    return f"arrow_cast({int(micros)}, {_UTC_MICROS})"


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _owner_clauses(owner: Owner, *, exact: bool) -> list[str]:
    """Filters on the digests of an owner's ids; with ``exact``, None must be NULL."""
    clauses = []
    for column, value in zip(("user_key", "agent_key", "session_key"), owner, strict=True):
        if value is not None:
            clauses.append(f"{column} = '{scope_key(value)}'")
        elif exact:
            clauses.append(f"{column} IS NULL")
    return clauses
