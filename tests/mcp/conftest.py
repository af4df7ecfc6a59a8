"""A real store (memory://, the real tokenizer) filled with two users' records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mcp_fixtures import fill

from tiermem import MemoryConfig, TieredMemory


@pytest.fixture
def memory() -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        fill(mem)
        yield mem
