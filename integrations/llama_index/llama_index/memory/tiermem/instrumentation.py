"""`TiermemEventHandler`: LlamaIndex instrumentation events into tiermem callbacks.

LLM calls (chat and completion start/end pairs) become the core's
`tiermem.callbacks.LLMCalled` events (model, latency, token usage; a
`MetricsCallback` counts them under ``llm``); retrievals become tiermem `Retrieved`
events. Token totals are also kept here (`usage()`). Nothing leaves the process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.exception import ExceptionEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.instrumentation.events.retrieval import (
    RetrievalEndEvent,
    RetrievalStartEvent,
)
from llama_index.core.schema import QueryBundle

# llama-index-core re-exports these without marking them public; typed at their source
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import Dispatcher
from llama_index_instrumentation.events.span import SpanDropEvent
from pydantic import ConfigDict, Field, PrivateAttr

from tiermem import CallbackHandler
from tiermem.callbacks import LLMCalled, Retrieved, emit

__all__ = ["LLMCalled", "TiermemEventHandler", "instrument"]

_MAX_OPEN = 1_000  # calls whose end never came (cancelled streams) must not pile up
_LLM = "llm"
_RETRIEVAL = "retrieval"
# LLM spans open in the caller's context: a chat that calls complete is one call, not two
_llm_chain: ContextVar[tuple[str, ...]] = ContextVar("tiermem_llm_chain", default=())


def _model(model_dict: Mapping[str, Any]) -> str:
    for key in ("model", "model_name", "class_name"):
        value = model_dict.get(key)
        if isinstance(value, str) and value and value != "unknown":  # LLMMetadata's default
            return value
    return "llm"


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return value if isinstance(value, Mapping) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(response: Any) -> tuple[int | None, int | None]:
    """Prompt and completion tokens, from OpenAI-style or Anthropic-style responses."""
    if response is None:
        return None, None
    kwargs = getattr(response, "additional_kwargs", None) or {}
    prompt, completion = _int(kwargs.get("prompt_tokens")), _int(kwargs.get("completion_tokens"))
    if prompt is None and completion is None:
        raw = _as_mapping(getattr(response, "raw", None)) or {}
        usage = _as_mapping(raw.get("usage")) or {}
        prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
    return prompt, completion


def _query_text(query: Any) -> str:
    return query.query_str if isinstance(query, QueryBundle) else str(query)


class TiermemEventHandler(BaseEventHandler):
    """Feeds LlamaIndex's LLM and retrieval events to tiermem callback handlers."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    callbacks: list[CallbackHandler] = Field(default_factory=list)
    _open: OrderedDict[tuple[str, str], list[tuple[float, str]]] = PrivateAttr(
        default_factory=OrderedDict
    )
    _totals: dict[str, int] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "TiermemEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        match event:
            case LLMChatStartEvent() | LLMCompletionStartEvent():
                self._begin_llm(event, _model(event.model_dict))
            case LLMChatEndEvent() | LLMCompletionEndEvent():
                self._end_llm(event, ok=True, response=event.response)
            case RetrievalStartEvent():
                self._begin(_RETRIEVAL, event, "")
            case RetrievalEndEvent():
                self._end_retrieval(event)
            case ExceptionEvent() | SpanDropEvent():  # the call failed: no end event follows
                self._end_llm(event, ok=False, response=None)
                self._finish(_RETRIEVAL, event)

    def usage(self) -> dict[str, int]:
        """LLM calls and the tokens they reported, summed since creation."""
        with self._lock:
            return dict(self._totals)

    def detach(self, dispatcher: Dispatcher | None = None) -> None:
        """Stop receiving events (from the root dispatcher unless told otherwise)."""
        handlers = (dispatcher or get_dispatcher()).event_handlers
        if self in handlers:
            handlers.remove(self)

    # start and end of one call share a span id; calls nest, so the latest start wins
    def _begin(self, kind: str, event: BaseEvent, label: str) -> None:
        with self._lock:
            self._open.setdefault((kind, event.span_id or ""), []).append(
                (time.perf_counter(), label)
            )
            while len(self._open) > _MAX_OPEN:
                self._open.popitem(last=False)

    def _begin_llm(self, event: BaseEvent, model: str) -> None:
        span = event.span_id or ""
        with self._lock:
            # an end seen in another context closed its span here too: only open ones count
            chain = tuple(s for s in _llm_chain.get() if (_LLM, s) in self._open)
        _llm_chain.set((*chain, span))
        # "" marks a call made inside another: its time is part of the outer call's
        self._begin(_LLM, event, "" if chain else model)

    def _finish(self, kind: str, event: BaseEvent) -> tuple[float, str] | None:
        key = (kind, event.span_id or "")
        with self._lock:
            starts = self._open.get(key)
            if not starts:
                return None
            started, label = starts.pop()
            if not starts:
                del self._open[key]
        return time.perf_counter() - started, label

    def _end_llm(self, event: BaseEvent, *, ok: bool, response: Any) -> None:
        finished = self._finish(_LLM, event)
        if finished is None:
            return
        _llm_chain.set(tuple(s for s in _llm_chain.get() if s != (event.span_id or "")))
        latency, model = finished
        if not model:
            return
        prompt, completion = _usage(response)
        with self._lock:
            for key, amount in (
                ("llm_calls", 1),
                ("llm_errors", int(not ok)),
                ("prompt_tokens", prompt or 0),
                ("completion_tokens", completion or 0),
            ):
                self._totals[key] = self._totals.get(key, 0) + amount
        # usage the LLM did not report counts as 0, as in the core's event
        emit(self.callbacks, LLMCalled(model, ok, latency, prompt or 0, completion or 0))

    def _end_retrieval(self, event: RetrievalEndEvent) -> None:
        finished = self._finish(_RETRIEVAL, event)
        if finished is None:
            return
        scores = [n.score for n in event.nodes if n.score is not None]
        retrieved = Retrieved(
            _query_text(event.str_or_query_bundle),
            len(event.nodes),
            max(scores, default=0.0),
            finished[0],
        )
        emit(self.callbacks, retrieved)


def instrument(
    *callbacks: CallbackHandler, dispatcher: Dispatcher | None = None
) -> TiermemEventHandler:
    """Attach a handler feeding ``callbacks`` to ``dispatcher`` (default: the root one)."""
    handler = TiermemEventHandler(callbacks=list(callbacks))
    (dispatcher or get_dispatcher()).add_event_handler(handler)
    return handler
