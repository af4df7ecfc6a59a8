"""tiermem for LlamaIndex: memory, memory blocks, tools, instrumentation, embeddings, LLMs.

A namespace package beside ``llama_index.core``: ``llama_index/`` and
``llama_index/memory/`` have no ``__init__.py`` on purpose.
"""

from __future__ import annotations

import warnings
from typing import Any

from .blocks import TieredLongTermBlock, TieredSummaryBlock
from .embeddings import LlamaIndexEmbedder
from .instrumentation import LLMCalled, TiermemEventHandler, instrument  # the core's event
from .memory import TiermemMemory
from .summarizer import LLMSummarizer
from .tools import RegistryFunctionTool, memory_tools, to_function_tool, to_function_tools

__all__ = [
    "LLMCalled",
    "LLMSummarizer",
    "LlamaIndexEmbedder",
    "RegistryFunctionTool",
    "TieredLongTermBlock",
    "TieredSummaryBlock",
    "TiermemEventHandler",
    "TiermemMemory",
    "instrument",
    "memory_tools",
    "to_function_tool",
    "to_function_tools",
]


def __getattr__(name: str) -> Any:
    if name == "TieredMemory":  # the name of earlier versions, easy to confuse with the core's
        warnings.warn(
            "llama_index.memory.tiermem.TieredMemory is deprecated: use TiermemMemory",
            DeprecationWarning,
            stacklevel=2,
        )
        return TiermemMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
