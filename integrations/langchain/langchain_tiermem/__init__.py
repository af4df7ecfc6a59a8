"""LangChain and LangGraph adapters for tiermem.

Thin: each class translates types and calls `tiermem.TieredMemory`.
`TieredMemory` (the legacy `BaseMemory`) needs ``langchain-classic`` and is
imported on first use, so the rest works without it.
"""

from __future__ import annotations

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
    from .memory import TieredMemory

__all__ = [
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


def __getattr__(name: str) -> Any:
    if name == "TieredMemory":  # langchain-classic is an optional extra
        try:
            from .memory import TieredMemory
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith("langchain_classic"):
                raise
            raise ImportError(
                "langchain_tiermem.TieredMemory (legacy LangChain memory) needs langchain-classic:"
                ' pip install "tiermem[langchain-classic]"'
            ) from None
        return TieredMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
