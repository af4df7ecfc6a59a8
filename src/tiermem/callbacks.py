"""Events and the handlers that receive them.

tiermem reports what it does as small frozen events sent to the handlers a user
passes in (`TieredMemory(callbacks=[...])`, `ToolRegistry(callbacks=[...])`).
Nothing leaves the process unless a handler sends it. A failing handler is logged
and never breaks the call that emitted the event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CallbackHandler",
    "ContextBuilt",
    "Event",
    "HealthChecked",
    "LLMCalled",
    "Retrieved",
    "StoreMaintained",
    "Summarized",
    "ToolCalled",
    "TurnAdded",
    "TurnsEvicted",
    "emit",
]

logger = logging.getLogger("tiermem.callbacks")


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event; ``name`` is the handler method that receives it."""

    name = "event"


@dataclass(frozen=True, slots=True)
class TurnAdded(Event):
    name = "turn_added"
    session_id: str
    role: str
    tokens: int
    latency: float


@dataclass(frozen=True, slots=True)
class TurnsEvicted(Event):
    name = "turns_evicted"
    session_id: str
    turns: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Summarized(Event):
    name = "summarized"
    session_id: str
    turns: int
    tokens_before: int
    tokens_after: int
    latency: float


@dataclass(frozen=True, slots=True)
class Retrieved(Event):
    name = "retrieved"
    query: str
    hits: int
    top_score: float
    latency: float


@dataclass(frozen=True, slots=True)
class ContextBuilt(Event):
    name = "context_built"
    session_id: str
    max_tokens: int
    token_count: int
    kept: int
    left: int
    tokens_per_tier: Mapping[str, int] = field(default_factory=dict)
    latency: float = 0.0


@dataclass(frozen=True, slots=True)
class ToolCalled(Event):
    name = "tool_called"
    tool: str
    ok: bool
    duration: float
    cached: bool = False
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class LLMCalled(Event):
    """A model call seen by a framework adapter (LangChain, LlamaIndex)."""

    name = "llm_called"
    model: str
    ok: bool
    latency: float
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class StoreMaintained(Event):
    name = "store_maintained"
    action: str
    latency: float
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthChecked(Event):
    """A health report was made: its status and each check's (``ok``/``degraded``/``failing``)."""

    name = "health_checked"
    status: str
    checks: Mapping[str, str] = field(default_factory=dict)
    latency: float = 0.0


class CallbackHandler:
    """Subclass and override the events you care about; every method is a no-op."""

    def on_turn_added(self, event: TurnAdded) -> None:
        """A turn was stored and entered the short-term tier."""

    def on_turns_evicted(self, event: TurnsEvicted) -> None:
        """Whole turns left the short-term tier (they stay in long-term)."""

    def on_summarized(self, event: Summarized) -> None:
        """Evicted turns were folded into a medium-term summary."""

    def on_retrieved(self, event: Retrieved) -> None:
        """A long-term search finished."""

    def on_context_built(self, event: ContextBuilt) -> None:
        """A budgeted context was built."""

    def on_tool_called(self, event: ToolCalled) -> None:
        """A registry tool call finished (successfully or not)."""

    def on_llm_called(self, event: LLMCalled) -> None:
        """A chat model answered (or failed), as reported by an adapter."""

    def on_store_maintained(self, event: StoreMaintained) -> None:
        """Indexes were built or the store was compacted."""

    def on_health_checked(self, event: HealthChecked) -> None:
        """`TieredMemory.health` made a report."""


def emit(handlers: Sequence[CallbackHandler], event: Event) -> None:
    """Send ``event`` to every handler; a handler's exception is logged, not raised."""
    method = f"on_{event.name}"
    for handler in handlers:
        try:
            getattr(handler, method)(event)
        except Exception:
            logger.exception("callback handler %r failed on %s", handler, event.name)
