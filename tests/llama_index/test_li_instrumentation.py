"""LlamaIndex instrumentation events into tiermem's `MetricsCallback`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.memory.tiermem import LLMCalled, TiermemEventHandler, instrument

import tiermem
from tiermem.testing import RecordingCallback


class MeteredLLM(MockLLM):
    """Reports usage the way OpenAI-style integrations do (``raw["usage"]``)."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(
            text="ok", raw={"usage": {"prompt_tokens": 7, "completion_tokens": 3}}
        )


class BrokenLLM(MockLLM):
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise RuntimeError("model is down")


class TwoNodes(BaseRetriever):
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=TextNode(text="a"), score=0.25),
            NodeWithScore(node=TextNode(text="b"), score=0.75),
        ]


@pytest.fixture
def metrics() -> tiermem.MetricsCallback:
    return tiermem.MetricsCallback()


@pytest.fixture
def recorder() -> RecordingCallback:
    return RecordingCallback()


@pytest.fixture
def handler(
    metrics: tiermem.MetricsCallback, recorder: RecordingCallback
) -> Iterator[TiermemEventHandler]:
    attached = instrument(metrics, recorder)
    yield attached
    attached.detach()  # the root dispatcher outlives the test


async def test_llm_calls_feed_latency_and_usage(
    handler: TiermemEventHandler, metrics: tiermem.MetricsCallback, recorder: RecordingCallback
) -> None:
    llm = MeteredLLM(max_tokens=None)
    llm.chat([ChatMessage(role="user", content="hi")])  # chat calls complete: one call
    await llm.acomplete("hello")
    with pytest.raises(RuntimeError):
        BrokenLLM(max_tokens=None).complete("hello")

    assert [(e.ok, e.prompt_tokens, e.completion_tokens) for e in recorder.of(LLMCalled)] == [
        (True, 7, 3),
        (True, 7, 3),
        (False, 0, 0),  # no usage reported: 0, as the core's event has it
    ]
    assert [e.model for e in recorder.of(LLMCalled)] == ["MockLLM"] * 3  # its class_name()
    assert all(e.latency >= 0 for e in recorder.of(LLMCalled))
    assert handler.usage() == {
        "llm_calls": 3,
        "llm_errors": 1,
        "prompt_tokens": 14,
        "completion_tokens": 6,
    }
    # the core's event: MetricsCallback counts LLM calls as such, not as tool calls
    snapshot = metrics.snapshot()
    assert snapshot["latency"]["llm"]["count"] == 3
    assert snapshot["counters"]["llm_calls"] == 3
    assert snapshot["counters"]["llm_errors"] == 1
    assert "tool_calls" not in snapshot["counters"]


def test_llm_called_is_the_cores_event() -> None:
    assert LLMCalled is tiermem.callbacks.LLMCalled


def test_retrievals_become_retrieved_events(
    handler: TiermemEventHandler, metrics: tiermem.MetricsCallback, recorder: RecordingCallback
) -> None:
    TwoNodes().retrieve("where is Ana?")
    assert [(e.query, e.hits, e.top_score) for e in recorder.of(tiermem.callbacks.Retrieved)] == [
        ("where is Ana?", 2, 0.75)
    ]
    assert metrics.snapshot()["counters"]["search_hits"] == 2


def test_detached_handler_hears_nothing(metrics: tiermem.MetricsCallback) -> None:
    handler = instrument(metrics)
    handler.detach()
    handler.detach()  # twice is harmless
    MeteredLLM(max_tokens=None).complete("hi")
    assert handler.usage() == {}
    assert metrics.snapshot()["counters"] == {}
