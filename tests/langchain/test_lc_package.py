"""The package surface: pinned exports, tested versions, typed."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import langchain_tiermem
import tiermem


def test_exported_names_are_pinned() -> None:
    assert langchain_tiermem.__all__ == [
        "ChatModelSummarizer",
        "LLMCalled",
        "LangChainEmbedder",
        "TieredChatMessageHistory",
        "TieredContextMiddleware",
        "TieredCustomEventHandler",
        "TieredMemoryRetriever",
        "TieredMemoryStore",
        "TieredMetricsCallbackHandler",
        "TiermemMemory",
        "memory_tools",
        "to_langchain_tool",
        "to_langchain_tools",
    ]
    for name in langchain_tiermem.__all__:
        assert getattr(langchain_tiermem, name) is not None
    assert (Path(langchain_tiermem.__file__).parent / "py.typed").is_file()


def test_old_memory_name_warns_and_is_the_new_class() -> None:
    with pytest.warns(DeprecationWarning, match="TiermemMemory"):
        old = langchain_tiermem.TieredMemory
    assert old is langchain_tiermem.TiermemMemory


def test_star_import_leaves_the_core_memory_alone() -> None:
    names: dict[str, object] = {}
    exec("from tiermem import *\nfrom langchain_tiermem import *", names)
    assert names["TieredMemory"] is tiermem.TieredMemory
    with tiermem.TieredMemory("memory://") as mem:  # what failed with a pydantic TypeError
        mem.add_message("user", "hello")


def test_tested_versions() -> None:
    def minor(package: str) -> tuple[int, int]:
        major, minor_, *_ = importlib.metadata.version(package).split(".")
        return int(major), int(minor_)

    assert minor("langchain-core") == (1, 7)
    assert minor("langchain") == (1, 4)
    assert minor("langgraph") == (1, 2)
