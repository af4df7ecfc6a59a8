"""Callbacks both ways: LLM metrics into tiermem, tiermem events as LangChain custom events."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from lc_fakes import scripted

import tiermem.callbacks
from langchain_tiermem import LLMCalled, TieredCustomEventHandler, TieredMetricsCallbackHandler
from tiermem import CallbackHandler, MemoryConfig, MetricsCallback, TieredMemory


def test_llm_called_is_the_cores_event() -> None:
    assert LLMCalled is tiermem.callbacks.LLMCalled


def _reply(inputs: int, outputs: int) -> AIMessage:
    usage = {"input_tokens": inputs, "output_tokens": outputs, "total_tokens": inputs + outputs}
    return AIMessage("ok", usage_metadata=usage)  # type: ignore[arg-type]


def test_llm_usage_and_latency_reach_metrics_callback() -> None:
    metrics = MetricsCallback()
    handler = TieredMetricsCallbackHandler(metrics)
    model = scripted(_reply(12, 3), _reply(30, 5))
    model.invoke("hi", config={"callbacks": [handler]})
    model.invoke("again", config={"callbacks": [handler]})
    snapshot = metrics.snapshot()
    counters = snapshot["counters"]
    assert counters["llm_calls"] == 2
    assert counters["llm_input_tokens"] == 42
    assert counters["llm_output_tokens"] == 8
    assert counters["llm_errors"] == 0
    assert snapshot["latency"]["llm"]["count"] == 2


async def test_errors_and_custom_handlers_get_llm_called_events() -> None:
    seen: list[LLMCalled] = []

    class Recorder(CallbackHandler):
        def on_llm_called(self, event: LLMCalled) -> None:
            seen.append(event)

    handler = TieredMetricsCallbackHandler(Recorder())
    model = scripted()  # an empty script: the call fails
    try:
        await model.ainvoke("hi", config={"callbacks": [handler]})
    except StopIteration:  # GenericFakeChatModel's way of running out
        pass
    except RuntimeError:  # StopIteration turned into RuntimeError across a coroutine
        pass
    await scripted(_reply(4, 2)).ainvoke("hi", config={"callbacks": [handler]})
    assert [e.ok for e in seen] == [False, True]
    assert (seen[0].prompt_tokens, seen[0].completion_tokens) == (0, 0)
    assert (seen[1].prompt_tokens, seen[1].completion_tokens) == (4, 2)
    assert seen[1].model  # a name, not empty
    assert seen[1].latency >= 0


def test_tiermem_events_become_langchain_custom_events() -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    class Listener(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            received.append((name, data))

    config = MemoryConfig(tokenizer="cl100k_base")
    with TieredMemory("memory://", config=config, callbacks=[TieredCustomEventHandler()]) as mem:
        mem.add_message("user", "outside any run: nobody listens")  # dropped, no error

        def step(text: str) -> str:
            mem.add_message("user", text)
            mem.build_context(text)
            tiermem.callbacks.emit(mem.callbacks, LLMCalled("m", ok=True, latency=0.5))
            return text

        RunnableLambda(step).invoke("hello", config={"callbacks": [Listener()]})
    names = [name for name, _ in received]
    assert names == ["tiermem.turn_added", "tiermem.context_built", "tiermem.llm_called"]
    assert received[0][1]["role"] == "user"
    assert received[1][1]["token_count"] > 0
    assert received[2][1]["model"] == "m"


async def test_custom_events_in_astream_events() -> None:
    config = MemoryConfig(tokenizer="cl100k_base")
    with TieredMemory("memory://", config=config, callbacks=[TieredCustomEventHandler()]) as mem:

        async def step(text: str) -> str:
            await mem.aadd_message("user", text)
            return text

        events = [e async for e in RunnableLambda(step).astream_events("hi", version="v2")]
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [e["name"] for e in custom] == ["tiermem.turn_added"]
    assert custom[0]["data"]["session_id"] == "default"
