"""Explicit memories: facts and preferences an agent or user asks to keep.

They live in the long-term store beside the turns. Saying the same fact again in the
same scope (ignoring case and spacing) does not store it twice: the one memory keeps
the higher importance, every tag and the longer expiry.
"""

from __future__ import annotations

import dataclasses
import threading

from .effects import Embed, Flow, ask
from .lifecycle import lasting
from .long_term import Fetch, Filter, Insert, Upsert
from .records import Kind, MemoryRecord, Owner
from .retrieval import alive

__all__ = ["ExplicitMemories"]


def _normal(text: str) -> str:
    """What makes two memories the same fact: their words, ignoring case and spacing."""
    return " ".join(text.casefold().split())


class ExplicitMemories:
    """Stores explicit memories, one per fact and owner; knows each owner's by text."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        #: each owner's explicit memories by normalised text, read once per process
        self._known: dict[Owner, dict[str, str]] = {}

    def remember(self, record: MemoryRecord, *, deduplicate: bool) -> Flow[MemoryRecord]:
        """Store ``record``, or fold it into the memory of its owner that says the same."""
        known: dict[str, str] = {}
        if deduplicate:
            known = yield from self._of(record.owner)
        same = known.get(_normal(record.text))
        if same is not None:
            found = yield from ask(Fetch(alive(Filter(ids=(same,))), limit=1))
            if found:  # the same fact again: one memory, holding what both said
                return (yield from self._merge(found[0], record))
        vectors = yield from ask(Embed([record.text]))
        yield from ask(Insert([record], vectors))
        with self._lock:
            known[_normal(record.text)] = record.id
        return record

    def _of(self, owner: Owner) -> Flow[dict[str, str]]:
        with self._lock:
            known = self._known.get(owner)
        if known is None:
            found = yield from ask(Fetch(Filter.of(owner, kinds=(Kind.MEMORY,))))
            with self._lock:
                known = self._known.setdefault(owner, {_normal(r.text): r.id for r in found})
        return known

    def _merge(self, old: MemoryRecord, new: MemoryRecord) -> Flow[MemoryRecord]:
        merged = dataclasses.replace(
            old,
            importance=max(old.importance, new.importance),
            tags=tuple(dict.fromkeys((*old.tags, *new.tags))),
            metadata={**old.metadata, **new.metadata},
            expires_at=lasting((old.expires_at, new.expires_at)),  # said again: the longer
        )
        if merged != old:
            vectors = yield from ask(Embed([merged.text]))
            yield from ask(Upsert([merged], vectors))
        return merged

    def drop(self, scope: Filter | None = None) -> None:
        """Owners of ``scope`` (every one if None) changed in the store: read them again."""
        with self._lock:
            for owner in [o for o in self._known if scope is None or scope.holds(o)]:
                del self._known[owner]
