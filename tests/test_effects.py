"""One flow per call: the sync and async methods share a signature, a docstring and a body."""

from __future__ import annotations

import inspect

import pytest

from tiermem import MemoryConfig, Scope, TieredMemory
from tiermem.effects import Embed, Flow, Summarize, ask, run
from tiermem.long_term import Count, Filter

PAIRS = sorted(
    name
    for name, value in vars(TieredMemory).items()
    if not name.startswith("_") and callable(value) and f"a{name}" in vars(TieredMemory)
)


def test_every_call_has_its_async_twin() -> None:
    assert set(PAIRS) >= {
        "add_message", "add_messages", "remember", "search", "build_context", "get", "update",
        "forget", "records", "forget_scope", "forget_where", "consolidate", "stats",
        "optimize", "import_records", "export_records", "health", "close",
    }  # fmt: skip


@pytest.mark.parametrize("name", PAIRS)
def test_twins_share_signature_and_docstring(name: str) -> None:
    sync, asynchronous = getattr(TieredMemory, name), getattr(TieredMemory, f"a{name}")
    sync_params = list(inspect.signature(sync).parameters)
    assert list(inspect.signature(asynchronous).parameters) == sync_params
    assert sync.__doc__
    assert sync.__name__ == name
    assert asynchronous.__name__ == f"a{name}"
    assert asynchronous.__qualname__ == f"TieredMemory.a{name}"


def test_every_scoped_call_takes_a_scope() -> None:
    for name in PAIRS:
        params = inspect.signature(getattr(TieredMemory, name)).parameters
        if "user_id" in params:
            assert params["scope"].default is None, name
            assert params["scope"].kind is inspect.Parameter.KEYWORD_ONLY, name


def test_ask_hands_back_what_the_driver_sends() -> None:
    def flow() -> Flow[tuple[tuple[int, ...], str, int]]:
        texts = yield from ask(Embed(["a", "b"]))
        summary = yield from ask(Summarize((), 10))
        rows = yield from ask(Count(Filter()))
        return texts.shape, summary, rows

    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        mem.add_message("user", "hello there", scope=Scope(session_id="s"))
        shape, summary, rows = run(flow(), mem)
    assert shape == (2, mem.embedder.dimensions)
    assert summary == ""  # the extractive summarizer of nothing
    assert rows == 1
