"""`MetricsCallback`: counters and latency percentiles from tiermem's events."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from typing import Any

from .callbacks import (
    CallbackHandler,
    ContextBuilt,
    Retrieved,
    StoreMaintained,
    Summarized,
    ToolCalled,
    TurnAdded,
    TurnsEvicted,
)

__all__ = ["MetricsCallback"]


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = min(round(q * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


class MetricsCallback(CallbackHandler):
    """Thread-safe counters and latency histograms; `snapshot()` is a plain dict.

    Latencies keep the last ``window`` samples per operation, so memory stays
    bounded however long the process runs.
    """

    def __init__(self, window: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._counters: defaultdict[str, float] = defaultdict(float)
        self._latencies: defaultdict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=self._window)
        )

    def _add(self, latency_key: str | None, latency: float, **counters: float) -> None:
        with self._lock:
            for key, amount in counters.items():
                self._counters[key] += amount
            if latency_key is not None:
                self._latencies[latency_key].append(latency)

    def on_turn_added(self, event: TurnAdded) -> None:
        self._add("add_message", event.latency, turns_added=1, tokens_added=event.tokens)

    def on_turns_evicted(self, event: TurnsEvicted) -> None:
        self._add(None, 0.0, turns_evicted=event.turns, tokens_evicted=event.tokens)

    def on_summarized(self, event: Summarized) -> None:
        self._add(
            "summarize",
            event.latency,
            summaries=1,
            summarized_turns=event.turns,
            summary_tokens_before=event.tokens_before,
            summary_tokens_after=event.tokens_after,
        )

    def on_retrieved(self, event: Retrieved) -> None:
        self._add("search", event.latency, searches=1, search_hits=event.hits)

    def on_context_built(self, event: ContextBuilt) -> None:
        tiers = {f"context_tokens_{tier}": float(n) for tier, n in event.tokens_per_tier.items()}
        self._add(
            "build_context",
            event.latency,
            contexts=1,
            context_tokens=event.token_count,
            context_kept=event.kept,
            context_left=event.left,
            **tiers,
        )

    def on_tool_called(self, event: ToolCalled) -> None:
        outcome = "tool_calls_ok" if event.ok else "tool_calls_failed"
        self._add(
            f"tool:{event.tool}", event.duration, tool_calls=1, tool_cache_hits=int(event.cached),
            **{outcome: 1},
        )  # fmt: skip

    def on_store_maintained(self, event: StoreMaintained) -> None:
        self._add(f"store:{event.action}", event.latency, store_maintenance=1)

    def snapshot(self) -> dict[str, Any]:
        """Counters and, per operation, count and p50/p95/p99 latency in seconds."""
        with self._lock:
            counters = dict(self._counters)
            samples = {key: sorted(values) for key, values in self._latencies.items()}
        latencies = {
            key: {
                "count": len(values),
                "p50": _percentile(values, 0.50),
                "p95": _percentile(values, 0.95),
                "p99": _percentile(values, 0.99),
            }
            for key, values in samples.items()
        }
        return {"counters": counters, "latency": latencies}

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._latencies.clear()
