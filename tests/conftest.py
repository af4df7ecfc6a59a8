"""Shared fixtures: real LanceDB (memory:// and temp folders) and the real tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tiermem import MemoryConfig, TieredMemory


@pytest.fixture
def config() -> MemoryConfig:
    # small tiers so that eviction and summaries happen within a few turns
    return MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 120},
        medium_term={"trigger_tokens": 80, "summary_tokens": 60, "max_summaries": 3},
    )


@pytest.fixture
def mem(config: MemoryConfig) -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=config) as memory:
        yield memory


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"
