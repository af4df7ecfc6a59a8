"""Fixtures of the LlamaIndex adapter tests: a real tiermem store, small tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiermem import MemoryConfig, TieredMemory


@pytest.fixture
def li_config() -> MemoryConfig:
    # small tiers: eviction and summaries happen within a few turns
    return MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 150},
        medium_term={"trigger_tokens": 60, "summary_tokens": 60, "max_summaries": 4},
        context={"max_tokens": 1_000},
    )


@pytest.fixture
def core(li_config: MemoryConfig) -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=li_config) as memory:
        yield memory
