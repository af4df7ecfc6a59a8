"""LangChain and LangGraph adapters for tiermem.

Thin: each class translates types and calls `tiermem.TieredMemory`.
`TiermemMemory` (the legacy `BaseMemory`) needs ``langchain-classic`` and is
imported on first use, so the rest works without it. Its old name,
``TieredMemory``, still works for one release, with a `DeprecationWarning`; it is
not in ``__all__``, so ``from langchain_tiermem import *`` leaves the core's
`tiermem.TieredMemory` alone.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from .callbacks import LLMCalled, TieredCustomEventHandler, TieredMetricsCallbackHandler
from .chat_history import TieredChatMessageHistory
from .embeddings import LangChainEmbedder
from .middleware import TieredContextMiddleware
from .retriever import TieredMemoryRetriever
from .store import TieredMemoryStore
from .summarizer import ChatModelSummarizer
from .tools import memory_tools, to_langchain_tool, to_langchain_tools

if TYPE_CHECKING:
    from .memory import TiermemMemory

__all__ = [
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


def _memory_class() -> Any:
    try:
        from .memory import TiermemMemory
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("langchain_classic"):
            raise
        raise ImportError(
            "langchain_tiermem.TiermemMemory (legacy LangChain memory) needs langchain-classic:"
            ' pip install "tiermem[langchain-classic]"'
        ) from None
    return TiermemMemory


def __getattr__(name: str) -> Any:
    if name == "TiermemMemory":  # langchain-classic is an optional extra
        return _memory_class()
    if name == "TieredMemory":  # the name of earlier versions, easy to confuse with the core's
        warnings.warn(
            "langchain_tiermem.TieredMemory is deprecated: use langchain_tiermem.TiermemMemory",
            DeprecationWarning,
            stacklevel=2,
        )
        return _memory_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
