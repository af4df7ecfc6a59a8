"""Fixtures for the LangChain adapter tests: real tiermem and the real tokenizer."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tiermem import MemoryConfig, TieredMemory


class _NoTransformers(importlib.abc.MetaPathFinder):
    """Fails loudly if anything tries to import transformers (the GPT-2 fallback)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "transformers" or fullname.startswith("transformers."):
            raise ImportError("transformers must not be imported by the LangChain adapter tests")


@pytest.fixture(autouse=True, scope="module")
def _no_transformers() -> Iterator[None]:
    # per module, so that only these tests are guarded, never another suite's
    finder = _NoTransformers()
    sys.meta_path.insert(0, finder)
    yield
    sys.meta_path.remove(finder)
    assert "transformers" not in sys.modules


@pytest.fixture
def lc_config() -> MemoryConfig:
    # small tiers: turns leave the short-term window after a few exchanges
    return MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 150},
        medium_term={"trigger_tokens": 100, "summary_tokens": 60, "max_summaries": 3},
        context={"max_tokens": 400},
    )


@pytest.fixture
def memory(lc_config: MemoryConfig) -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=lc_config) as mem:
        yield mem


@pytest.fixture
def roomy_memory() -> Iterator[TieredMemory]:
    # default tiers: a short exchange stays whole in the short-term window
    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        yield mem
