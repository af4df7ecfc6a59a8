"""Sessions: the short- and medium-term tiers of each (user, agent, session) in use.

A session's tiers live in this process and are restored from the long-term store on
first use: the window from the turns no summary covers yet, the medium tier from the
stored summaries. Two users who share a session id share nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from .config import MediumTermConfig, ShortTermConfig
from .effects import Flow, ask
from .long_term import Fetch, Filter
from .medium_term import MediumTerm
from .records import Kind, MemoryRecord, Owner
from .short_term import ShortTermWindow
from .tokens import TokenCounter

__all__ = ["Session", "Sessions"]

#: what `stats` shows of each loaded session
WINDOW_STATS = ("short_term_turns", "short_term_tokens", "pending_turns", "summaries")


@dataclass(slots=True)
class Session:
    window: ShortTermWindow
    medium: MediumTerm
    next_seq: int


class Sessions:
    """Every session this process has restored, by owner; ``lock`` guards them all."""

    def __init__(
        self,
        short_term: ShortTermConfig,
        medium_term: MediumTermConfig,
        counter: TokenCounter,
        lock: threading.RLock,
    ) -> None:
        self._short_term = short_term
        self._medium_term = medium_term
        self._counter = counter
        self._lock = lock
        self._open: dict[Owner, Session] = {}

    def get(self, owner: Owner) -> Flow[Session]:
        """The in-memory tiers of one (user, agent, session), restored on first use."""
        with self._lock:
            session = self._open.get(owner)
        if session is not None:
            return session
        summaries = yield from ask(Fetch(Filter.of(owner, kinds=(Kind.SUMMARY,))))
        medium = MediumTerm(self._medium_term, self._counter, self._lock, summaries)
        covered = medium.covered_seq()
        turns = yield from ask(Fetch(Filter.of(owner, kinds=(Kind.TURN,), after_seq=covered)))
        window = ShortTermWindow(max_tokens=self._short_term.max_tokens)
        for turn in sorted(turns, key=lambda t: t.seq):
            medium.hold(window.append(turn))  # what is due folds on the next write
        next_seq = max([covered, *(t.seq for t in turns)]) + 1
        with self._lock:
            # another thread may have restored it meanwhile: the first one wins
            return self._open.setdefault(owner, Session(window, medium, next_seq))

    def reserve(self, session: Session, count: int) -> int:
        """The first of ``count`` sequence numbers, taken for turns about to be stored."""
        with self._lock:
            first = session.next_seq
            session.next_seq += count
            return first

    def admit(
        self, session: Session, records: Sequence[MemoryRecord]
    ) -> tuple[list[MemoryRecord], list[list[MemoryRecord]]]:
        """Push stored turns through the window: (turns evicted, folds now due)."""
        evicted: list[MemoryRecord] = []
        folds: list[list[MemoryRecord]] = []
        with self._lock:
            for record in records:
                out = session.window.append(record)
                evicted.extend(out)
                folds.extend(session.medium.admit(out))
        return evicted, folds

    def find(self, owner: Owner) -> Session | None:
        with self._lock:
            return self._open.get(owner)

    def recent_ids(self, scope: Filter) -> set[str]:
        """Turns in the short-term windows of ``scope``: what an agent there already sees."""
        with self._lock:
            return {r.id for owner, session in self._open.items() if scope.holds(owner)
                    for r in session.window}  # fmt: skip

    def drop(self, scope: Filter | None = None) -> None:
        """Records of ``scope`` (every one if None) changed under the in-memory tiers:
        rebuild them from the store when next used."""
        with self._lock:
            for owner in [o for o in self._open if scope is None or scope.holds(o)]:
                del self._open[owner]

    def windows(self, scope: Filter) -> dict[str, dict[str, int]]:
        """The loaded windows of ``scope`` by session id (owners in it added up)."""
        shown: dict[str, dict[str, int]] = {}
        with self._lock:
            for owner, s in self._open.items():
                if not scope.holds(owner):
                    continue  # another user's window: not even its size
                row = shown.setdefault(owner[2] or "", dict.fromkeys(WINDOW_STATS, 0))
                row["short_term_turns"] += len(s.window)
                row["short_term_tokens"] += s.window.tokens
                row["pending_turns"] += len(s.medium.pending)
                row["summaries"] += len(s.medium.summaries)
        return shown
