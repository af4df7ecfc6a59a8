"""tiermem for LlamaIndex: memory, memory blocks, tools, instrumentation, embeddings, LLMs.

A namespace package beside ``llama_index.core``: ``llama_index/`` and
``llama_index/memory/`` have no ``__init__.py`` on purpose.
"""

from __future__ import annotations

from .blocks import TieredLongTermBlock, TieredSummaryBlock
from .embeddings import LlamaIndexEmbedder
from .instrumentation import LLMCalled, TiermemEventHandler, instrument  # the core's event
from .memory import TieredMemory
from .summarizer import LLMSummarizer
from .tools import RegistryFunctionTool, memory_tools, to_function_tool, to_function_tools

__all__ = [
    "LLMCalled",
    "LLMSummarizer",
    "LlamaIndexEmbedder",
    "RegistryFunctionTool",
    "TieredLongTermBlock",
    "TieredMemory",
    "TieredSummaryBlock",
    "TiermemEventHandler",
    "instrument",
    "memory_tools",
    "to_function_tool",
    "to_function_tools",
]
