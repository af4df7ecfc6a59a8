"""Row attributes as numpy columns: what scoring, filtering and neighbours read per row.

A row is a dense position (0, 1, 2, ...) given at append time and never reused, so
every other part of the hot index (full text, vectors) can name rows by position.
Scope ids are interned to int32 codes: comparing codes is exact (two different
strings never share a code), so isolation does not depend on how ids are spelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..long_term import micros
from ..records import Kind, MemoryRecord

__all__ = ["NONE_CODE", "Columns", "Interner", "ScopeFilter", "kind_code"]

#: The code of a missing id (None): its own value, never shared with a string id.
NONE_CODE = 0
_KIND_CODES = {kind: code for code, kind in enumerate(Kind)}
_FIRST_CAPACITY = 1024
#: the expiry of a record that never expires
_NEVER = np.iinfo(np.int64).max

Rows = NDArray[np.int64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class ScopeFilter:
    """Which rows a read may see, by the (user, agent, session) triple.

    By default None means "not restricted on this id". With ``exact``, the triple
    must match as given, None included: an anonymous session sees only rows that
    are anonymous too, never a user's rows that share its session id.
    """

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    exact: bool = False

    def owns(self, record: MemoryRecord) -> bool:
        """Whether ``record`` lies within this scope (the same rule as the mask)."""
        wanted = (self.user_id, self.agent_id, self.session_id)
        have = (record.user_id, record.agent_id, record.session_id)
        return all(
            w == h if self.exact else (w is None or w == h)
            for w, h in zip(wanted, have, strict=True)
        )


class Interner:
    """Strings to dense int32 codes, None to `NONE_CODE`; codes are never reused."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        """The code of ``value``, given a new one if it has none yet."""
        if value is None:
            return NONE_CODE
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self._codes) + 1
        return found

    def find(self, value: str | None) -> int | None:
        """The code of ``value``, or None if it was never seen (then no row holds it)."""
        return NONE_CODE if value is None else self._codes.get(value)

    def __len__(self) -> int:
        return len(self._codes)


def _grown(array: NDArray[np.generic], size: int) -> NDArray[np.generic]:
    """``array`` with room for at least ``size`` rows, doubling: appends stay O(1) amortised."""
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array), _FIRST_CAPACITY), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class Columns:
    """Per-row attributes, growable, with deletes as a tombstone mask.

    ``tokens`` holds each row's token price, computed once at write time by the
    caller, so a context can be packed without calling the tokenizer per row.
    """

    def __init__(self) -> None:
        self.users = Interner()
        self.agents = Interner()
        self.sessions = Interner()
        self._size = 0
        self._user = np.zeros(0, np.int32)
        self._agent = np.zeros(0, np.int32)
        self._session = np.zeros(0, np.int32)
        self._seq = np.zeros(0, np.int64)
        self._micros = np.zeros(0, np.int64)
        self._kind = np.zeros(0, np.int8)
        self._importance = np.zeros(0, np.float32)
        self._tokens = np.zeros(0, np.int32)
        self._expires = np.zeros(0, np.int64)
        self._pinned = np.zeros(0, np.bool_)
        #: whether any row was ever given an expiry: until then no read filters by it
        self.may_expire = False
        #: whether any row was ever pinned: until then a context's look for pins is free
        self.may_pin = False
        self._live = np.zeros(0, np.bool_)
        self._row_of_id: dict[str, int] = {}
        # (user, agent, session, seq) codes of a turn -> its row: the neighbour lookup
        self._turn_at: dict[tuple[int, int, int, int], int] = {}

    def __len__(self) -> int:
        """Rows ever appended, deleted ones included (the range of row positions)."""
        return self._size

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self._live[: self._size]))

    def append(self, records: Sequence[MemoryRecord], tokens: Sequence[int]) -> Rows:
        """Append rows; a record whose id is already live replaces it (the old row dies)."""
        if len(records) != len(tokens):
            raise ValueError(f"tokens: must hold one price per record ({len(records)})")
        start, end = self._size, self._size + len(records)
        for name in ("_user", "_agent", "_session", "_seq", "_micros", "_kind",
                     "_importance", "_tokens", "_expires", "_pinned", "_live"):  # fmt: skip
            setattr(self, name, _grown(getattr(self, name), end))
        for offset, (record, price) in enumerate(zip(records, tokens, strict=True)):
            row = start + offset
            old = self._row_of_id.get(record.id)
            if old is not None:
                self._kill(old)
            codes = (
                self.users.code(record.user_id),
                self.agents.code(record.agent_id),
                self.sessions.code(record.session_id),
            )
            self._user[row], self._agent[row], self._session[row] = codes
            self._seq[row] = record.seq
            self._micros[row] = micros(record.timestamp)
            self._kind[row] = _KIND_CODES[record.kind]
            self._importance[row] = record.importance
            self._tokens[row] = price
            expires = record.expires_at
            self._expires[row] = _NEVER if expires is None else micros(expires)
            self.may_expire = self.may_expire or expires is not None
            self._pinned[row] = record.pinned
            self.may_pin = self.may_pin or record.pinned
            self._live[row] = True
            self._row_of_id[record.id] = row
            if record.kind is Kind.TURN:
                self._turn_at[(*codes, record.seq)] = row
        self._size = end
        return np.arange(start, end, dtype=np.int64)

    def delete(self, ids: Iterable[str]) -> Rows:
        """Tombstone the rows of ``ids`` (unknown ids are skipped); their rows, returned."""
        rows = [row for i in ids if (row := self._row_of_id.pop(i, None)) is not None]
        for row in rows:
            self._kill(row)
        return np.asarray(rows, dtype=np.int64)

    def _kill(self, row: int) -> None:
        self._live[row] = False
        key = self._turn_key(row)
        if self._turn_at.get(key) == row:
            del self._turn_at[key]

    def _turn_key(self, row: int) -> tuple[int, int, int, int]:
        return (int(self._user[row]), int(self._agent[row]), int(self._session[row]),
                int(self._seq[row]))  # fmt: skip

    def row_of(self, record_id: str) -> int | None:
        """The live row holding ``record_id``, if any."""
        row = self._row_of_id.get(record_id)
        return row if row is not None and self._live[row] else None

    def is_live(self, rows: Rows) -> Mask:
        return self._live[rows]

    def scope_mask(self, scope: ScopeFilter) -> Mask:
        """Live rows within ``scope``, as a boolean mask over every row position."""
        mask = self._live[: self._size].copy()
        for interner, column, value in (
            (self.users, self._user, scope.user_id),
            (self.agents, self._agent, scope.agent_id),
            (self.sessions, self._session, scope.session_id),
        ):
            if value is None and not scope.exact:
                continue
            code = interner.find(value)
            if code is None:  # an id never written: no row can match it
                return np.zeros(self._size, np.bool_)
            mask &= column[: self._size] == code
        return mask

    def scope_codes(self, scope: ScopeFilter) -> tuple[int | None, int | None, int | None] | None:
        """The codes a scope restricts (None: unrestricted); None if it can match nothing."""
        out: list[int | None] = []
        for interner, value in ((self.users, scope.user_id), (self.agents, scope.agent_id),
                                (self.sessions, scope.session_id)):  # fmt: skip
            if value is None and not scope.exact:
                out.append(None)
                continue
            code = interner.find(value)
            if code is None:
                return None
            out.append(code)
        return (out[0], out[1], out[2])

    def kinds_mask(self, kinds: Iterable[Kind]) -> Mask:
        """Rows of any of ``kinds``, over every row position."""
        codes = [_KIND_CODES[k] for k in kinds]
        return np.isin(self._kind[: self._size], codes)

    def alive_at(self, micros: int) -> Mask:
        """Rows not expired by ``micros`` (since the epoch), over every row position."""
        return self._expires[: self._size] > micros

    def expired_at(self, micros: int) -> Mask:
        """Rows expired by ``micros`` (since the epoch), over every row position."""
        return self._expires[: self._size] <= micros

    def before(self, micros: int) -> Mask:
        """Rows whose timestamp is earlier than ``micros``, over every row position."""
        return self._micros[: self._size] < micros

    def pinned(self, value: bool) -> Mask:
        """Rows pinned (or not, with False), over every row position."""
        pinned: Mask = self._pinned[: self._size]
        return pinned if value else ~pinned

    def seq_above(self, seq: int) -> Mask:
        """Rows whose seq is greater than ``seq``, over every row position."""
        return self._seq[: self._size] > seq

    def turn_at(
        self, user_id: str | None, agent_id: str | None, session_id: str | None, seq: int
    ) -> int | None:
        """The live turn at ``seq`` in the exact (user, agent, session) scope, if any."""
        codes = (self.users.find(user_id), self.agents.find(agent_id),
                 self.sessions.find(session_id))  # fmt: skip
        if any(code is None for code in codes):
            return None
        return self._turn_at.get((codes[0], codes[1], codes[2], seq))  # type: ignore[arg-type]

    def codes(self, rows: Rows) -> NDArray[np.int32]:
        """The (user, agent, session) codes of ``rows``, one row of three per row."""
        return np.stack([self._user[rows], self._agent[rows], self._session[rows]], axis=1)

    def seq(self, rows: Rows) -> NDArray[np.int64]:
        return self._seq[rows]

    def micros(self, rows: Rows) -> NDArray[np.int64]:
        """Timestamps as microseconds since the epoch (UTC)."""
        return self._micros[rows]

    def kind(self, rows: Rows) -> NDArray[np.int8]:
        """Kind codes, in `Kind`'s order (turn, memory, summary)."""
        return self._kind[rows]

    def importance(self, rows: Rows) -> NDArray[np.float32]:
        return self._importance[rows]

    def tokens(self, rows: Rows) -> NDArray[np.int32]:
        return self._tokens[rows]


def kind_code(kind: Kind) -> int:
    """The code `Columns.kind` holds for ``kind``."""
    return _KIND_CODES[kind]
