"""Sync and async are the same flows: the same calls give the same results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from tiermem import (
    Embedder,
    HashingEmbedder,
    MemoryConfig,
    MemoryRecord,
    NotFoundError,
    TieredMemory,
    TokenCounter,
)

SCRIPT = [
    ("user", "I moved to Lisbon in May 2023."),
    ("assistant", "Lisbon is lovely in spring."),
    ("user", "My sister Clara marries on 14 June in Porto."),
    ("assistant", "Congratulations to Clara!"),
    ("user", "We adopted a cat called Miso."),
    ("assistant", "Miso is a great name."),
    ("user", "I run 10 km every Sunday."),
]


def signature(ctx_text: str, hits: list[tuple[str, float]]) -> tuple[str, list[tuple[str, float]]]:
    return ctx_text, [(t, round(s, 6)) for t, s in hits]


async def test_sync_and_async_agree(config: MemoryConfig) -> None:
    sync_mem = TieredMemory("memory://", config=config)
    async_mem = TieredMemory("memory://", config=config)
    for i, (role, text) in enumerate(SCRIPT):
        sync_mem.add_message(role, text, session_id="s", user_id="u", timestamp=1_700_000_000 + i)
        await async_mem.aadd_message(role, text, session_id="s", user_id="u",
                                     timestamp=1_700_000_000 + i)  # fmt: skip
    sync_mem.remember("Prefers tea", user_id="u", importance=0.8, tags=["pref"])
    await async_mem.aremember("Prefers tea", user_id="u", importance=0.8, tags=["pref"])

    sync_hits = sync_mem.search("Clara wedding", user_id="u")
    async_hits = await async_mem.asearch("Clara wedding", user_id="u")
    sync_ctx = sync_mem.build_context("where do I live", session_id="s", user_id="u",
                                      max_tokens=150)  # fmt: skip
    async_ctx = await async_mem.abuild_context("where do I live", session_id="s", user_id="u",
                                               max_tokens=150)  # fmt: skip
    assert signature(sync_ctx.text, [(h.record.text, h.score) for h in sync_hits]) == signature(
        async_ctx.text, [(h.record.text, h.score) for h in async_hits]
    )
    assert sync_ctx.token_count == async_ctx.token_count

    sync_stats, async_stats = sync_mem.stats(), await async_mem.astats()
    assert sync_stats == async_stats

    record = await async_mem.aremember("temporary", user_id="u")
    assert (await async_mem.aget(record.id)).text == "temporary"
    updated = await async_mem.aupdate(record.id, text="changed")
    assert updated.text == "changed"
    await async_mem.aforget(record.id)
    with pytest.raises(NotFoundError):
        await async_mem.aget(record.id)
    await async_mem.aoptimize()
    sync_mem.close()
    await async_mem.aclose()


async def test_sync_and_async_share_one_store(config: MemoryConfig) -> None:
    async with TieredMemory("memory://", config=config) as mem:
        mem.add_message("user", "written synchronously", session_id="s")
        await mem.aadd_message("user", "written asynchronously", session_id="s")
        ctx = await mem.abuild_context("written", session_id="s", max_tokens=500)
        assert "written synchronously" in ctx.text
        assert "written asynchronously" in ctx.text
        assert next(h.record.text for h in mem.search("asynchronously")) == "written asynchronously"


# --- the event loop never waits on a sync part --------------------------------------

SLOW = 0.3  # seconds each slow call sleeps: far above any gap the loop may show


class SlowEmbedder(HashingEmbedder):
    """A sync-only embedder that blocks like a network call (no `aembed` of its own)."""

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        time.sleep(SLOW)
        return super().embed(texts)

    aembed = Embedder.aembed  # the protocol's default: `embed` on a worker thread


class SlowSummarizer:
    """A duck-typed summarizer with no `asummarize` at all (not a `Summarizer` subclass)."""

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        time.sleep(SLOW)
        return " ".join(r.text for r in records)[:200]


async def _largest_gap(work: Awaitable[object]) -> float:
    """Run ``work`` beside a ticker; the longest the ticker waited past its 10 ms sleep."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            gaps.append(time.perf_counter() - started - 0.01)

    ticker = asyncio.create_task(tick())
    try:
        await work
    finally:
        done.set()
        await ticker
    return max(gaps)


async def test_a_slow_sync_embedder_and_summarizer_never_block_the_event_loop() -> None:
    # a window of a turn or two, so the script folds summaries as it goes
    config = MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 30},
        medium_term={"trigger_tokens": 20, "summary_tokens": 40},
    )
    embedder, summarizer = SlowEmbedder(64), SlowSummarizer()
    mem = TieredMemory("memory://", config=config, embedder=embedder, summarizer=summarizer)
    calls = 0

    async def conversation() -> None:
        nonlocal calls
        for i, (role, text) in enumerate(SCRIPT):  # enough turns to fold a summary
            await mem.aadd_message(role, text, session_id="s", timestamp=1_700_000_000 + i)
            calls += 1
        await mem.abuild_context("where do I live", session_id="s")
        await mem.aremember("Prefers tea", user_id="u")
        await mem.asearch("Clara", session_id="s")

    started = time.perf_counter()
    gap = await _largest_gap(conversation())
    print(f"largest event-loop gap {gap * 1000:.1f} ms beside {SLOW * 1000:.0f} ms sync calls")
    took = time.perf_counter() - started
    assert calls == len(SCRIPT)
    summaries = (await mem.astats())["summaries"]
    assert summaries >= 2  # the slow summarizer did run
    assert took > (len(SCRIPT) + 3 + summaries) * SLOW  # every slow call really happened
    assert gap < SLOW / 2, f"the event loop stalled {gap * 1000:.0f} ms"
    mem.close()


async def test_a_native_aembed_is_awaited_and_the_sync_embed_left_alone() -> None:
    class AsyncOnly(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
            raise AssertionError("the async path must not call the sync embed")

        async def aembed(self, texts: Sequence[str]) -> NDArray[np.float32]:
            await asyncio.sleep(0)
            return HashingEmbedder.embed(self, texts)

    mem = TieredMemory("memory://", embedder=AsyncOnly(64))
    await mem.aadd_message("user", "I keep bees on the roof.", session_id="s")
    hits = await mem.asearch("bees", session_id="s")
    assert [h.record.text for h in hits] == ["I keep bees on the roof."]
    with pytest.raises(AssertionError, match="must not call the sync embed"):
        mem.search("bees", session_id="s")  # the sync path does call it
    mem.close()
