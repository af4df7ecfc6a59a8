"""OpenTelemetryCallback against the SDK's in-memory reader and exporter (no global state)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tiermem import MemoryConfig, TieredMemory
from tiermem.otel import OpenTelemetryCallback
from tiermem.tools import ToolRegistry

SECRET = "my passport number is X1234567"
QUERY = "what is my passport number?"


@dataclass
class Telemetry:
    reader: InMemoryMetricReader
    exporter: InMemorySpanExporter
    meters: MeterProvider
    tracers: TracerProvider

    def handler(self, **options: Any) -> OpenTelemetryCallback:
        return OpenTelemetryCallback(
            meter_provider=self.meters, tracer_provider=self.tracers, **options
        )

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return {
            metric.name: list(metric.data.data_points)
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.exporter.get_finished_spans()}


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider(metric_readers=[reader])
    yield Telemetry(reader, exporter, meters, tracers)
    meters.shutdown()
    tracers.shutdown()


def use_memory(handler: OpenTelemetryCallback, config: MemoryConfig) -> None:
    with TieredMemory("memory://", config=config, callbacks=[handler]) as mem:
        for i in range(16):
            mem.add_message("user", f"{SECRET} (note {i})", session_id="s1", user_id="u1")
        mem.search(QUERY, user_id="u1")
        mem.build_context(QUERY, session_id="s1", user_id="u1", max_tokens=150)
        mem.optimize()


def test_every_event_is_counted_and_timed(telemetry: Telemetry, config: MemoryConfig) -> None:
    use_memory(telemetry.handler(), config)
    metrics = telemetry.metrics()
    assert sum(p.value for p in metrics["tiermem.turns.added"]) == 16
    assert sum(p.value for p in metrics["tiermem.tokens.added"]) > 16
    assert sum(p.value for p in metrics["tiermem.turns.evicted"]) > 0
    assert sum(p.value for p in metrics["tiermem.summaries"]) >= 1
    assert metrics["tiermem.searches"][0].value == 1
    assert metrics["tiermem.contexts"][0].value == 1
    (duration,) = metrics["tiermem.context.duration"]
    assert duration.count == 1
    assert 0 < duration.sum < 60
    assert duration.explicit_bounds[0] < 0.01  # buckets in seconds, not milliseconds
    (tokens,) = metrics["tiermem.context.tokens"]
    assert 0 < tokens.sum <= 150
    tiers = {p.attributes["tiermem.tier"] for p in metrics["tiermem.context.tier.tokens"]}
    assert tiers == {"short_term", "medium_term", "long_term"}
    assert metrics["tiermem.store.maintenance"][0].attributes == {"tiermem.action": "optimize"}
    assert metrics["tiermem.add_message.duration"][0].count == 16


def test_spans_carry_sizes_and_timings_but_no_text(
    telemetry: Telemetry, config: MemoryConfig
) -> None:
    use_memory(telemetry.handler(), config)
    spans = telemetry.spans()
    assert {"tiermem.search", "tiermem.build_context"} <= set(spans)
    context = spans["tiermem.build_context"]
    attributes: dict[str, Any] = dict(context.attributes or {})
    assert 0 < attributes["tiermem.context.token_count"] <= 150
    assert attributes["tiermem.context.max_tokens"] == 150
    assert attributes["tiermem.context.kept"] >= 1
    assert context.start_time is not None
    assert context.end_time is not None
    assert context.end_time > context.start_time  # back-dated by the measured latency
    search = dict(spans["tiermem.search"].attributes or {})
    assert search["tiermem.query.length"] == len(QUERY)
    for span in telemetry.exporter.get_finished_spans():
        for value in (span.attributes or {}).values():
            assert "passport" not in str(value)
            assert str(value) != "s1"  # session ids are identifiers: opt-in only


def test_capture_content_is_opt_in(telemetry: Telemetry, config: MemoryConfig) -> None:
    use_memory(telemetry.handler(capture_content=True), config)
    spans = telemetry.spans()
    assert dict(spans["tiermem.search"].attributes or {})["tiermem.query"] == QUERY
    assert dict(spans["tiermem.build_context"].attributes or {})["tiermem.session_id"] == "s1"


def test_tool_calls_become_spans_under_the_callers_span(telemetry: Telemetry) -> None:
    handler = telemetry.handler()
    with ToolRegistry(callbacks=[handler]) as registry:

        @registry.tool
        def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

        @registry.tool
        def broken() -> str:
            """Always fails."""
            raise ValueError("no")

        tracer = telemetry.tracers.get_tracer("app")
        with tracer.start_as_current_span("agent step") as parent:
            assert registry.call("add", {"a": 2, "b": 3}).value == 5
            assert not registry.call("broken").ok
    spans = telemetry.spans()
    ok, failed = spans["execute_tool add"], spans["execute_tool broken"]
    assert ok.parent is not None
    assert ok.parent.span_id == parent.get_span_context().span_id
    assert dict(ok.attributes or {}) == {
        "gen_ai.tool.name": "add", "gen_ai.operation.name": "execute_tool",
        "tiermem.tool.ok": True, "tiermem.tool.cached": False,
    }  # fmt: skip
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "ValueError"
    calls = telemetry.metrics()["tiermem.tool.calls"]
    assert {(p.attributes["gen_ai.tool.name"], p.value) for p in calls} == {
        ("add", 1),
        ("broken", 1),
    }


def test_the_global_providers_are_left_alone(telemetry: Telemetry) -> None:
    before = trace.get_tracer_provider()
    telemetry.handler()
    assert trace.get_tracer_provider() is before
    assert not isinstance(before, TracerProvider)  # the API's no-op proxy: nothing configured
