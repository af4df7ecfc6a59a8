"""The Agents SDK offline: no traces leave the process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import set_tracing_disabled

from tiermem import MemoryConfig, TieredMemory

set_tracing_disabled(True)


@pytest.fixture
def memory() -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        yield mem
