"""Callbacks both ways: LangChain LLM metrics into tiermem, tiermem events into LangChain.

`TieredMetricsCallbackHandler` is a LangChain handler: it times each LLM call and
reads its token usage, then emits the core's `tiermem.callbacks.LLMCalled` event to
tiermem handlers (a `MetricsCallback` counts it; re-exported here as `LLMCalled`).
`TieredCustomEventHandler` is a tiermem handler: it re-sends every tiermem event as
a LangChain custom event (``tiermem.<name>``), visible in ``astream_events`` and to
any LangChain callback, when inside a run.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, dispatch_custom_event
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from tiermem import CallbackHandler
from tiermem.callbacks import (
    ContextBuilt,
    Event,
    LLMCalled,
    Retrieved,
    StoreMaintained,
    Summarized,
    ToolCalled,
    TurnAdded,
    TurnsEvicted,
    emit,
)

__all__ = [
    "EVENT_PREFIX",
    "LLMCalled",
    "TieredCustomEventHandler",
    "TieredMetricsCallbackHandler",
]

logger = logging.getLogger("langchain_tiermem.callbacks")

#: LangChain custom events from tiermem are named ``tiermem.<event name>``.
EVENT_PREFIX = "tiermem."


def _usage(response: LLMResult) -> tuple[int, int]:
    """Input and output tokens: the messages' ``usage_metadata``, else ``llm_output``."""
    found = False
    inputs = outputs = 0
    for generations in response.generations:
        for generation in generations:
            message = generation.message if isinstance(generation, ChatGeneration) else None
            usage = message.usage_metadata if isinstance(message, AIMessage) else None
            if usage:
                found = True
                inputs += usage.get("input_tokens", 0)
                outputs += usage.get("output_tokens", 0)
    if found:
        return inputs, outputs
    raw = response.llm_output or {}
    usage_map = raw.get("token_usage") or raw.get("usage") or {}
    if not isinstance(usage_map, Mapping):
        return 0, 0
    inputs = usage_map.get("prompt_tokens", usage_map.get("input_tokens", 0))
    outputs = usage_map.get("completion_tokens", usage_map.get("output_tokens", 0))
    return int(inputs or 0), int(outputs or 0)


def _model(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str:
    metadata = kwargs.get("metadata") or {}
    params = kwargs.get("invocation_params") or {}
    for value in (
        metadata.get("ls_model_name"),
        params.get("model"),
        params.get("model_name"),
        (serialized or {}).get("name"),
    ):
        if isinstance(value, str) and value:
            return value
    return "unknown"


class TieredMetricsCallbackHandler(BaseCallbackHandler):
    """Feeds LLM latency and token usage into tiermem handlers (e.g. a `MetricsCallback`).

    ``MetricsCallback.snapshot()`` then shows ``llm_calls``, ``llm_errors``,
    ``llm_input_tokens``, ``llm_output_tokens`` and the ``llm`` latency percentiles.
    """

    run_inline = True  # cheap and thread-safe: no executor hop in async runs

    def __init__(self, *handlers: CallbackHandler) -> None:
        self.handlers = list(handlers)
        self._lock = threading.Lock()
        self._started: dict[UUID, tuple[float, str]] = {}

    def _start(self, run_id: UUID, serialized: Mapping[str, Any] | None, kwargs: Any) -> None:
        with self._lock:
            self._started[run_id] = (time.perf_counter(), _model(serialized, kwargs))

    def _finish(self, run_id: UUID) -> tuple[float, str]:
        with self._lock:
            started, model = self._started.pop(run_id, (time.perf_counter(), "unknown"))
        return time.perf_counter() - started, model

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(run_id, serialized, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(run_id, serialized, kwargs)

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        latency, model = self._finish(run_id)
        inputs, outputs = _usage(response)
        event = LLMCalled(model, ok=True, latency=latency, prompt_tokens=inputs,
                          completion_tokens=outputs)  # fmt: skip
        emit(self.handlers, event)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        latency, model = self._finish(run_id)
        emit(self.handlers, LLMCalled(model, ok=False, latency=latency))


def _payload(event: Event) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    return {
        key: dict(value) if isinstance(value, Mapping) else value for key, value in data.items()
    }


class TieredCustomEventHandler(CallbackHandler):
    """Re-sends tiermem events as LangChain custom events while a LangChain run is active.

    Outside a run (no parent run id) events are dropped: there is nobody to receive them.
    """

    def _dispatch(self, event: Event) -> None:
        try:
            dispatch_custom_event(EVENT_PREFIX + event.name, _payload(event))
        except RuntimeError:
            logger.debug("no LangChain run to receive %s", event.name)

    def on_turn_added(self, event: TurnAdded) -> None:
        self._dispatch(event)

    def on_turns_evicted(self, event: TurnsEvicted) -> None:
        self._dispatch(event)

    def on_summarized(self, event: Summarized) -> None:
        self._dispatch(event)

    def on_retrieved(self, event: Retrieved) -> None:
        self._dispatch(event)

    def on_context_built(self, event: ContextBuilt) -> None:
        self._dispatch(event)

    def on_tool_called(self, event: ToolCalled) -> None:
        self._dispatch(event)

    def on_llm_called(self, event: LLMCalled) -> None:
        self._dispatch(event)

    def on_store_maintained(self, event: StoreMaintained) -> None:
        self._dispatch(event)
