"""`MetricsCallback`: counters and latency percentiles from tiermem's events.

`render_prometheus` turns a snapshot into the Prometheus text exposition format, so
an application can serve it on its own ``/metrics`` route; tiermem never serves or
sends anything itself.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from .callbacks import (
    CallbackHandler,
    ContextBuilt,
    HealthChecked,
    LLMCalled,
    Retrieved,
    StoreMaintained,
    Summarized,
    ToolCalled,
    TurnAdded,
    TurnsEvicted,
)

__all__ = ["MetricsCallback", "render_prometheus"]

#: The quantiles a snapshot holds, as Prometheus labels them.
_QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_TIER_COUNTER = "context_tokens_"
_HEALTH = "health_status"
_HEALTH_CHECK = "health_check:"
_HEALTH_LEVELS = {"ok": 0, "degraded": 1, "failing": 2}
_HEALTH_HELP = "Health of the store and process: 0 ok, 1 degraded, 2 failing."

_COUNTER_HELP = {
    "turns_added": "Turns stored by add_message and add_messages.",
    "tokens_added": "Tokens of the turns stored.",
    "turns_evicted": "Turns that left a short-term window (they stay in long-term).",
    "tokens_evicted": "Tokens of the evicted turns.",
    "summaries": "Medium-term summaries written.",
    "summarized_turns": "Turns folded into summaries.",
    "summary_tokens_before": "Tokens of the turns folded into summaries.",
    "summary_tokens_after": "Tokens of the summaries written.",
    "searches": "Long-term searches.",
    "search_hits": "Hits returned by long-term searches.",
    "contexts": "Budgeted contexts built.",
    "context_tokens": "Tokens in the contexts built.",
    "context_kept": "Candidates kept in contexts.",
    "context_left": "Candidates left out of contexts.",
    "tool_calls": "Registry tool calls.",
    "tool_calls_ok": "Registry tool calls that succeeded.",
    "tool_calls_failed": "Registry tool calls that failed.",
    "tool_cache_hits": "Registry tool calls answered from the cache.",
    "store_maintenance": "Store compactions and index builds.",
}
# latency keys "kind:name" become one family with the name as a label
_LABELLED_LATENCY = {
    "tool": ("tool_call", "tool", "Latency of registry tool calls in seconds, per tool."),
    "store": ("store_maintenance", "action", "Latency of store maintenance in seconds."),
}


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = min(round(q * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


class MetricsCallback(CallbackHandler):
    """Thread-safe counters and latency histograms; `snapshot()` is a plain dict.

    Latencies keep the last ``window`` samples per operation, so memory stays
    bounded however long the process runs; the total count and sum cover every call.
    """

    def __init__(self, window: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._counters: defaultdict[str, float] = defaultdict(float)
        self._latencies: defaultdict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=self._window)
        )
        self._totals: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._gauges: dict[str, float] = {}

    def _add(self, latency_key: str | None, latency: float, **counters: float) -> None:
        with self._lock:
            for key, amount in counters.items():
                self._counters[key] += amount
            if latency_key is not None:
                self._latencies[latency_key].append(latency)
                totals = self._totals[latency_key]
                totals[0] += 1
                totals[1] += latency

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
        tiers = {f"{_TIER_COUNTER}{tier}": float(n) for tier, n in event.tokens_per_tier.items()}
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

    def on_llm_called(self, event: LLMCalled) -> None:
        self._add(
            "llm", event.latency, llm_calls=1, llm_errors=int(not event.ok),
            llm_input_tokens=event.prompt_tokens, llm_output_tokens=event.completion_tokens,
        )  # fmt: skip

    def on_store_maintained(self, event: StoreMaintained) -> None:
        self._add(f"store:{event.action}", event.latency, store_maintenance=1)

    def on_health_checked(self, event: HealthChecked) -> None:
        with self._lock:
            # the last report replaces the previous one whole: a check may come and go
            for key in [k for k in self._gauges if k.startswith(_HEALTH_CHECK)]:
                del self._gauges[key]
            self._gauges[_HEALTH] = float(_HEALTH_LEVELS.get(event.status, 2))
            for check, status in event.checks.items():
                self._gauges[f"{_HEALTH_CHECK}{check}"] = float(_HEALTH_LEVELS.get(status, 2))

    def snapshot(self) -> dict[str, Any]:
        """Counters and, per operation, latency in seconds.

        Each operation has ``count`` and ``p50``/``p95``/``p99`` over the recent
        window, and ``total`` and ``sum`` over every call since the start (or `reset`).
        """
        with self._lock:
            counters = dict(self._counters)
            samples = {key: sorted(values) for key, values in self._latencies.items()}
            totals = {key: tuple(value) for key, value in self._totals.items()}
            gauges = dict(self._gauges)
        latencies = {
            key: {
                "count": len(values),
                "p50": _percentile(values, 0.50),
                "p95": _percentile(values, 0.95),
                "p99": _percentile(values, 0.99),
                "total": int(totals[key][0]),
                "sum": totals[key][1],
            }
            for key, values in samples.items()
        }
        return {"counters": counters, "latency": latencies, "gauges": gauges}

    def prometheus(self, *, prefix: str = "tiermem") -> str:
        """The current snapshot in the Prometheus text format (see `render_prometheus`)."""
        return render_prometheus(self.snapshot(), prefix=prefix)

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._latencies.clear()
            self._totals.clear()
            self._gauges.clear()


# --- Prometheus text exposition ----------------------------------------------------


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.samples: list[str] = []

    def add(self, suffix: str, labels: Mapping[str, str], value: float) -> None:
        rendered = ",".join(f'{key}="{_escape_label(val)}"' for key, val in labels.items())
        self.samples.append(
            f"{self.name}{suffix}{{{rendered}}} {_number(value)}"
            if rendered
            else f"{self.name}{suffix} {_number(value)}"
        )

    def lines(self) -> list[str]:
        return [
            f"# HELP {self.name} {_escape_help(self.help)}",
            f"# TYPE {self.name} {self.kind}",
            *self.samples,
        ]


def render_prometheus(snapshot: Mapping[str, Any], *, prefix: str = "tiermem") -> str:
    """A `MetricsCallback` snapshot in the Prometheus text exposition format (0.0.4).

    Counters become ``<prefix>_<name>_total``; the tokens per tier of the contexts
    become one counter with a ``tier`` label. Latencies become summaries
    ``<prefix>_<operation>_seconds`` with quantiles 0.5, 0.95 and 0.99 over the
    recent window, ``_count`` and ``_sum``; tool calls and store maintenance carry
    the tool or the action as a label. The last health report is a gauge
    ``<prefix>_health_status`` (0 ok, 1 degraded, 2 failing) and one
    ``<prefix>_health_check_status`` per check.
    """
    base = _metric_name(prefix)
    families: dict[str, _Family] = {}

    def family(name: str, kind: str, help_text: str) -> _Family:
        if name not in families:
            families[name] = _Family(name, kind, help_text)
        return families[name]

    for key, value in sorted(snapshot.get("counters", {}).items()):
        if key.startswith(_TIER_COUNTER):
            tier = key.removeprefix(_TIER_COUNTER)
            help_text = "Tokens in the contexts built, per tier."
            family(f"{base}_context_tier_tokens_total", "counter", help_text).add(
                "", {"tier": tier}, value
            )
            continue
        help_text = _COUNTER_HELP.get(key, f"tiermem counter {key}.")
        family(f"{base}_{_metric_name(key)}_total", "counter", help_text).add("", {}, value)

    for key, stats in sorted(snapshot.get("latency", {}).items()):
        kind, _, label = key.partition(":")
        labels: dict[str, str] = {}
        if label:
            stem, label_name, help_text = _LABELLED_LATENCY.get(
                kind, (kind, "name", f"Latency of {kind} operations in seconds, per name.")
            )
            labels[label_name] = label
        else:
            stem = key
            help_text = f"Latency of {key.replace('_', ' ')} in seconds."
        summary = family(f"{base}_{_metric_name(stem)}_seconds", "summary", help_text)
        for quantile, field in _QUANTILES:
            summary.add("", {**labels, "quantile": quantile}, float(stats[field]))
        if "sum" in stats:
            summary.add("_sum", labels, float(stats["sum"]))
        summary.add("_count", labels, float(stats.get("total", stats["count"])))

    for key, value in sorted(snapshot.get("gauges", {}).items()):
        if key.startswith(_HEALTH_CHECK):
            help_text = "Health of one check: 0 ok, 1 degraded, 2 failing."
            family(f"{base}_health_check_status", "gauge", help_text).add(
                "", {"check": key.removeprefix(_HEALTH_CHECK)}, value
            )
        else:
            help_text = _HEALTH_HELP if key == _HEALTH else f"tiermem gauge {key}."
            family(f"{base}_{_metric_name(key)}", "gauge", help_text).add("", {}, value)

    lines = [line for fam in families.values() for line in fam.lines()]
    return "\n".join(lines) + "\n" if lines else ""


def _metric_name(name: str) -> str:
    cleaned = _INVALID_NAME_CHARS.sub("_", name)
    return f"_{cleaned}" if cleaned[:1].isdigit() else cleaned


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
