"""MetricsCallback and its Prometheus rendering, parsed back line by line."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

import pytest

from tiermem import CallbackHandler, MemoryConfig, MetricsCallback, TieredMemory
from tiermem.callbacks import ToolCalled, TurnAdded
from tiermem.metrics import render_prometheus
from tiermem.tools import ToolRegistry

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
_COMMENT = re.compile(rf"^# (HELP|TYPE) ({_NAME}) (.*)$")
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass
class Family:
    kind: str = ""
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def parse(text: str) -> dict[str, Family]:
    """A strict reader of the text format: every line must be a comment or a sample."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    current: str | None = None
    for line in text.splitlines():
        comment = _COMMENT.match(line)
        if comment:
            what, name, rest = comment.groups()
            family = families.setdefault(name, Family())
            if what == "TYPE":
                assert not family.kind, f"second TYPE for {name}"
                assert rest in {"counter", "gauge", "summary", "histogram", "untyped"}
                family.kind = rest
            else:
                family.help = rest
            current = name
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, raw_labels, value = match.groups()
        assert current is not None, "a sample before any TYPE"
        assert name.startswith(current), "samples follow their TYPE"
        assert name in {current, f"{current}_sum", f"{current}_count"}
        labels: dict[str, str] = {}
        rest = raw_labels or ""
        while rest:
            label = _LABEL.match(rest)
            assert label, f"bad labels: {raw_labels!r}"
            labels[label[1]] = re.sub(r"\\.", lambda m: _UNESCAPE[m[0]], label[2])
            rest = rest[label.end() :]
        families[current].samples.append((name, labels, float(value)))
    return families


@pytest.fixture
def metrics(config: MemoryConfig) -> MetricsCallback:
    metrics = MetricsCallback()
    with TieredMemory("memory://", config=config, callbacks=[metrics]) as mem:
        for i in range(12):
            mem.add_message("user", f"Fact {i}: the train leaves at {i + 6} o'clock.",
                            session_id="s1", user_id="u1")  # fmt: skip
        mem.search("when does the train leave?", user_id="u1")
        mem.build_context("train", session_id="s1", user_id="u1", max_tokens=200)
        mem.optimize()
    return metrics


def test_prometheus_text_parses_back_to_the_snapshot(metrics: MetricsCallback) -> None:
    snapshot = metrics.snapshot()
    families = parse(metrics.prometheus())
    for name, family in families.items():
        assert name.startswith("tiermem_")
        assert family.help
        assert family.kind in {"counter", "summary"}
        assert (family.kind == "counter") == name.endswith("_total")
    turns = families["tiermem_turns_added_total"].samples
    assert turns == [("tiermem_turns_added_total", {}, 12.0)]
    assert families["tiermem_contexts_total"].samples[0][2] == 1
    tiers = {s[1]["tier"]: s[2] for s in families["tiermem_context_tier_tokens_total"].samples}
    assert set(tiers) == {"short_term", "medium_term", "long_term"}
    assert tiers == {t: snapshot["counters"][f"context_tokens_{t}"] for t in tiers}

    summary = families["tiermem_add_message_seconds"]
    assert summary.kind == "summary"
    quantiles = {s[1]["quantile"]: s[2] for s in summary.samples if "quantile" in s[1]}
    assert set(quantiles) == {"0.5", "0.95", "0.99"}
    assert quantiles["0.5"] == snapshot["latency"]["add_message"]["p50"]
    assert quantiles["0.5"] <= quantiles["0.95"] <= quantiles["0.99"]
    count = {s[0]: s[2] for s in summary.samples if "quantile" not in s[1]}
    assert count["tiermem_add_message_seconds_count"] == 12
    assert count["tiermem_add_message_seconds_sum"] > 0
    maintenance = families["tiermem_store_maintenance_seconds"].samples
    assert {s[1]["action"] for s in maintenance} == {"optimize"}


def test_tool_names_are_escaped_in_labels() -> None:
    metrics = MetricsCallback()
    odd = 'say "hi"\\now\nplease'
    with ToolRegistry(callbacks=[metrics]) as registry:
        registry.register(lambda: "hi", name="greet")
        registry.call("greet")
    metrics.on_tool_called(ToolCalled(odd, ok=False, duration=0.25, error_type="Timeout"))
    families = parse(metrics.prometheus())
    tools = {s[1]["tool"] for s in families["tiermem_tool_call_seconds"].samples}
    assert tools == {"greet", odd}
    assert families["tiermem_tool_calls_total"].samples[0][2] == 2
    assert families["tiermem_tool_calls_failed_total"].samples[0][2] == 1


def test_render_handles_empty_special_values_and_bare_snapshots() -> None:
    assert render_prometheus({"counters": {}, "latency": {}}) == ""
    text = render_prometheus(
        {"counters": {"odd-name": math.inf}, "latency": {"x": {"count": 2, "p50": math.nan,
                                                               "p95": 1.0, "p99": 1.5}}},
        prefix="app",
    )  # fmt: skip
    families = parse(text)
    assert families["app_odd_name_total"].samples[0][2] == math.inf
    # a snapshot without totals still gives a valid summary, counted from the window
    assert [s[0] for s in families["app_x_seconds"].samples][-1] == "app_x_seconds_count"
    assert 'app_x_seconds{quantile="0.5"} NaN' in text


def test_snapshot_totals_outlive_the_window_and_reset_clears() -> None:
    metrics = MetricsCallback(window=3)
    for latency in (1.0, 2.0, 3.0, 4.0, 5.0):
        metrics.on_turn_added(TurnAdded("s", "user", 3, latency))
    latency = metrics.snapshot()["latency"]["add_message"]
    assert (latency["count"], latency["total"], latency["sum"]) == (3, 5, 15.0)
    assert (latency["p50"], latency["p99"]) == (4.0, 5.0)
    metrics.reset()
    assert metrics.snapshot() == {"counters": {}, "latency": {}, "gauges": {}}


class Broken(CallbackHandler):
    def on_turn_added(self, event: TurnAdded) -> None:
        raise RuntimeError("handler bug")


def test_a_failing_handler_is_logged_and_never_breaks_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = MetricsCallback()
    with (
        caplog.at_level(logging.ERROR, logger="tiermem.callbacks"),
        TieredMemory("memory://", callbacks=[Broken(), metrics]) as mem,
    ):
        record = mem.add_message("user", "still stored", session_id="s1")
        assert mem.get(record.id).text == "still stored"
    failures = [r for r in caplog.records if r.name == "tiermem.callbacks"]
    assert len(failures) == 1
    assert "failed on turn_added" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert metrics.snapshot()["counters"]["turns_added"] == 1  # later handlers still run


def test_llm_calls_reported_by_adapters_are_counted() -> None:
    from tiermem.callbacks import LLMCalled, emit

    metrics = MetricsCallback()
    emit([metrics], LLMCalled("gpt-4o-mini", True, 0.25, prompt_tokens=120, completion_tokens=30))
    emit([metrics], LLMCalled("gpt-4o-mini", False, 0.5))
    snapshot = metrics.snapshot()
    counters = snapshot["counters"]
    assert (counters["llm_calls"], counters["llm_errors"]) == (2, 1)
    assert (counters["llm_input_tokens"], counters["llm_output_tokens"]) == (120, 30)
    assert snapshot["latency"]["llm"]["count"] == 2
    assert "tiermem_llm_calls_total 2" in metrics.prometheus()
