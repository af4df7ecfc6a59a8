"""Helpers for testing code built on tiermem.

Use the real thing where you can: ``TieredMemory("memory://")`` is an in-process
LanceDB store with the real tokenizer and embedder, fast enough for unit tests.
What is left to fake is what happens inside: `RecordingCallback` keeps every
event tiermem (or a `ToolRegistry`, or an adapter) sends, so a test can assert on
evictions, summaries, retrievals, contexts and tool calls.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from .callbacks import (
    CallbackHandler,
    ContextBuilt,
    Event,
    HealthChecked,
    LLMCalled,
    Retrieved,
    StoreMaintained,
    Summarized,
    ToolCalled,
    TurnAdded,
    TurnsEvicted,
)

__all__ = ["RecordingCallback"]

E = TypeVar("E", bound=Event)


class RecordingCallback(CallbackHandler):
    """Keeps every event it receives, in the order received; safe across threads."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    @property
    def events(self) -> list[Event]:
        """A copy of every event so far."""
        with self._lock:
            return list(self._events)

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type, e.g. ``recorder.of(ToolCalled)``."""
        return [e for e in self.events if isinstance(e, kind)]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def _record(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def on_turn_added(self, event: TurnAdded) -> None:
        self._record(event)

    def on_turns_evicted(self, event: TurnsEvicted) -> None:
        self._record(event)

    def on_summarized(self, event: Summarized) -> None:
        self._record(event)

    def on_retrieved(self, event: Retrieved) -> None:
        self._record(event)

    def on_context_built(self, event: ContextBuilt) -> None:
        self._record(event)

    def on_tool_called(self, event: ToolCalled) -> None:
        self._record(event)

    def on_llm_called(self, event: LLMCalled) -> None:
        self._record(event)

    def on_store_maintained(self, event: StoreMaintained) -> None:
        self._record(event)

    def on_health_checked(self, event: HealthChecked) -> None:
        self._record(event)
