"""Sync and async are the same flows: the same calls give the same results."""

from __future__ import annotations

import pytest

from tiermem import MemoryConfig, NotFoundError, TieredMemory

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
