"""The package surface: pinned exports, tested versions, typed."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import langchain_tiermem


def test_exported_names_are_pinned() -> None:
    assert langchain_tiermem.__all__ == [
        "ChatModelSummarizer",
        "LLMCalled",
        "LangChainEmbedder",
        "TieredChatMessageHistory",
        "TieredContextMiddleware",
        "TieredCustomEventHandler",
        "TieredMemory",
        "TieredMemoryRetriever",
        "TieredMemoryStore",
        "TieredMetricsCallbackHandler",
        "memory_tools",
        "to_langchain_tool",
        "to_langchain_tools",
    ]
    for name in langchain_tiermem.__all__:
        assert getattr(langchain_tiermem, name) is not None
    assert (Path(langchain_tiermem.__file__).parent / "py.typed").is_file()


def test_tested_versions() -> None:
    def minor(package: str) -> tuple[int, int]:
        major, minor_, *_ = importlib.metadata.version(package).split(".")
        return int(major), int(minor_)

    assert minor("langchain-core") == (1, 7)
    assert minor("langchain") == (1, 4)
    assert minor("langgraph") == (1, 2)
