"""`OpenTelemetryCallback`: tiermem's events as OpenTelemetry metrics and spans.

Off by default: nothing is recorded unless the handler is passed in ``callbacks``,
and nothing leaves the process unless the application configured an exporter. Only
the OpenTelemetry API is used; the SDK and exporters are the application's choice.

Privacy: attributes hold sizes, counts, scores and timings, never message or query
text (or session ids) unless ``capture_content=True``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "tiermem.otel needs the OpenTelemetry API: pip install 'tiermem[otel]'"
    ) from exc

from . import __version__
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

__all__ = ["OpenTelemetryCallback"]

_SCOPE = "tiermem"
# seconds, from a fast in-memory context build to a slow remote store or tool
_DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_SIZE_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000)

Attributes = Mapping[str, str | bool | int | float]


class OpenTelemetryCallback(CallbackHandler):
    """Counters and histograms for every event; a span per context, search and tool call.

    Spans are children of whatever span is current when tiermem is called, and are
    back-dated by the operation's measured latency.

    Args:
        meter_provider: where instruments are created; default the global provider.
        tracer_provider: where spans go; default the global provider.
        capture_content: also record query text and session ids on spans.
    """

    def __init__(
        self,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        capture_content: bool = False,
    ) -> None:
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE, __version__)
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(
            _SCOPE, __version__
        )
        self._capture = capture_content

        def counter(name: str, unit: str, description: str) -> metrics.Counter:
            return meter.create_counter(f"tiermem.{name}", unit, description)

        def histogram(
            name: str, unit: str, description: str, buckets: tuple[float, ...]
        ) -> metrics.Histogram:
            return meter.create_histogram(
                f"tiermem.{name}", unit, description, explicit_bucket_boundaries_advisory=buckets
            )

        def duration(name: str, description: str) -> metrics.Histogram:
            return histogram(name, "s", description, _DURATION_BUCKETS)

        self._turns_added = counter("turns.added", "{turn}", "Turns stored")
        self._tokens_added = counter("tokens.added", "{token}", "Tokens of the turns stored")
        self._add_duration = duration("add_message.duration", "Time to store a turn")
        self._turns_evicted = counter("turns.evicted", "{turn}", "Turns evicted from short-term")
        self._tokens_evicted = counter("tokens.evicted", "{token}", "Tokens of evicted turns")
        self._summaries = counter("summaries", "{summary}", "Medium-term summaries written")
        self._summarized_turns = counter("summarized.turns", "{turn}", "Turns summarized")
        self._summary_duration = duration("summary.duration", "Time to write a summary")
        self._searches = counter("searches", "{search}", "Long-term searches")
        self._search_duration = duration("search.duration", "Time of a long-term search")
        self._search_hits = histogram("search.hits", "{hit}", "Hits per search", _SIZE_BUCKETS)
        self._contexts = counter("contexts", "{context}", "Budgeted contexts built")
        self._context_duration = duration("context.duration", "Time to build a context")
        self._context_tokens = histogram(
            "context.tokens", "{token}", "Tokens per context", _SIZE_BUCKETS
        )
        self._tier_tokens = counter("context.tier.tokens", "{token}", "Context tokens per tier")
        self._tool_calls = counter("tool.calls", "{call}", "Registry tool calls")
        self._tool_duration = duration("tool.duration", "Time of a registry tool call")
        self._maintenance = counter("store.maintenance", "{run}", "Store maintenance runs")
        self._maintenance_duration = duration("store.maintenance.duration", "Time of maintenance")

    def _span(
        self,
        name: str,
        latency: float,
        attributes: Attributes,
        error: str | None = None,
    ) -> None:
        end = time.time_ns()
        span = self._tracer.start_span(
            name,
            kind=SpanKind.INTERNAL,
            start_time=end - max(int(latency * 1e9), 0),
            attributes=attributes,
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end)

    def on_turn_added(self, event: TurnAdded) -> None:
        attributes = {"tiermem.role": event.role}
        self._turns_added.add(1, attributes)
        self._tokens_added.add(event.tokens, attributes)
        self._add_duration.record(event.latency, attributes)

    def on_turns_evicted(self, event: TurnsEvicted) -> None:
        self._turns_evicted.add(event.turns)
        self._tokens_evicted.add(event.tokens)

    def on_summarized(self, event: Summarized) -> None:
        self._summaries.add(1)
        self._summarized_turns.add(event.turns)
        self._summary_duration.record(event.latency)

    def on_retrieved(self, event: Retrieved) -> None:
        self._searches.add(1)
        self._search_duration.record(event.latency)
        self._search_hits.record(event.hits)
        attributes: dict[str, str | bool | int | float] = {
            "tiermem.search.hits": event.hits,
            "tiermem.search.top_score": event.top_score,
            "tiermem.query.length": len(event.query),
        }
        if self._capture:
            attributes["tiermem.query"] = event.query
        self._span("tiermem.search", event.latency, attributes)

    def on_context_built(self, event: ContextBuilt) -> None:
        self._contexts.add(1)
        self._context_duration.record(event.latency)
        self._context_tokens.record(event.token_count)
        attributes: dict[str, str | bool | int | float] = {
            "tiermem.context.max_tokens": event.max_tokens,
            "tiermem.context.token_count": event.token_count,
            "tiermem.context.kept": event.kept,
            "tiermem.context.left": event.left,
        }
        for tier, tokens in event.tokens_per_tier.items():
            self._tier_tokens.add(tokens, {"tiermem.tier": tier})
            attributes[f"tiermem.context.tokens.{tier}"] = tokens
        if self._capture:
            attributes["tiermem.session_id"] = event.session_id
        self._span("tiermem.build_context", event.latency, attributes)

    def on_tool_called(self, event: ToolCalled) -> None:
        attributes: dict[str, str | bool | int | float] = {
            "gen_ai.tool.name": event.tool,
            "tiermem.tool.ok": event.ok,
            "tiermem.tool.cached": event.cached,
        }
        if event.error_type is not None:
            attributes["error.type"] = event.error_type
        self._tool_calls.add(1, attributes)
        self._tool_duration.record(event.duration, {"gen_ai.tool.name": event.tool})
        span_attributes = {**attributes, "gen_ai.operation.name": "execute_tool"}
        error = None if event.ok else (event.error_type or "error")
        self._span(f"execute_tool {event.tool}", event.duration, span_attributes, error)

    def on_store_maintained(self, event: StoreMaintained) -> None:
        attributes = {"tiermem.action": event.action}
        self._maintenance.add(1, attributes)
        self._maintenance_duration.record(event.latency, attributes)
