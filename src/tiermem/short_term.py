"""The short-term tier: a session's recent turns, verbatim, under a token bound.

Turns are held in units: a single turn, or an assistant turn that calls tools
together with the tool results that answer it. Eviction takes whole units from
the oldest end, so a tool call never leaves without its result. The newest unit
always stays, even when it alone is over the bound.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .records import MemoryRecord

__all__ = ["ShortTermWindow", "group_units"]


@dataclass(slots=True)
class _Unit:
    records: list[MemoryRecord]
    tokens: int
    open_calls: set[str]


def _answers(unit: _Unit, record: MemoryRecord) -> bool:
    call_id = record.metadata.get("tool_call_id")
    return record.role == "tool" and (call_id in unit.open_calls or not unit.open_calls)


@dataclass(slots=True)
class ShortTermWindow:
    """Recent turns of one session, bounded by ``max_tokens``."""

    max_tokens: int
    _units: deque[_Unit] = field(default_factory=deque)
    _tokens: int = 0

    @property
    def tokens(self) -> int:
        return self._tokens

    def __len__(self) -> int:
        return sum(len(u.records) for u in self._units)

    def __iter__(self) -> Iterator[MemoryRecord]:
        for unit in self._units:
            yield from unit.records

    def units(self) -> list[list[MemoryRecord]]:
        """The turns grouped as they are evicted: tool calls with their results."""
        return [list(u.records) for u in self._units]

    def append(self, record: MemoryRecord) -> list[MemoryRecord]:
        """Add a turn (its ``tokens`` already counted); return the turns it evicted."""
        last = self._units[-1] if self._units else None
        if last is not None and record.role == "tool" and _answers(last, record):
            last.records.append(record)
            last.tokens += record.tokens
            last.open_calls.discard(str(record.metadata.get("tool_call_id")))
        else:
            self._units.append(_Unit([record], record.tokens, set(record.tool_call_ids)))
        self._tokens += record.tokens
        return self._evict()

    def _evict(self) -> list[MemoryRecord]:
        evicted: list[MemoryRecord] = []
        while self._tokens > self.max_tokens and len(self._units) > 1:
            unit = self._units.popleft()
            self._tokens -= unit.tokens
            evicted.extend(unit.records)
        return evicted

    def remove(self, record_id: str) -> bool:
        """Drop a forgotten turn; True if it was here."""
        for unit in self._units:
            for i, record in enumerate(unit.records):
                if record.id == record_id:
                    del unit.records[i]
                    unit.tokens -= record.tokens
                    self._tokens -= record.tokens
                    if not unit.records:
                        self._units.remove(unit)
                    return True
        return False

    def replace(self, record: MemoryRecord) -> None:
        """Swap in an updated version of a turn held here."""
        for unit in self._units:
            for i, held in enumerate(unit.records):
                if held.id == record.id:
                    unit.records[i] = record
                    unit.tokens += record.tokens - held.tokens
                    self._tokens += record.tokens - held.tokens
                    return


def group_units(records: Iterable[MemoryRecord]) -> list[list[MemoryRecord]]:
    """Group turns (in order) the way the window does: tool calls with their results."""
    window = ShortTermWindow(max_tokens=2**62)
    for record in records:
        window.append(record)
    return window.units()
