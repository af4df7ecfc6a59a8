"""A real store (memory://, the real tokenizer) for the pydantic-ai tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiermem import MemoryConfig, TieredMemory


@pytest.fixture
def memory() -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        yield mem
