"""tiermem: tiered memory and token-budgeted context for LLM agents.

Every turn is kept; `TieredMemory.build_context` returns the best context that
fits a hard token budget, counted with the model's real tokenizer.

The public names load on first use: ``import tiermem`` stays cheap, and LanceDB,
numpy and pydantic are imported only by the code that needs them.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

# a library logs; the application decides what reaches stderr (not logging's last resort)
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .callbacks import CallbackHandler
    from .config import (
        ContextConfig,
        HealthConfig,
        HotConfig,
        LongTermConfig,
        MediumTermConfig,
        MemoryConfig,
        RetrievalConfig,
        ShortTermConfig,
    )
    from .context import Context, Decision, Tier
    from .embeddings import Embedder, FunctionEmbedder, HashingEmbedder
    from .errors import (
        ConfigError,
        InvalidInputError,
        MessageTooLargeError,
        NotFoundError,
        SchemaVersionError,
        StoreError,
        TieredMemoryError,
        TokenizerError,
    )
    from .health import HealthReport
    from .lifecycle import ConsolidationReport, ForgetReport, Merge
    from .medium_term import ExtractiveSummarizer, PromptSummarizer, Summarizer
    from .memory import TieredMemory
    from .messages import ChatMessage
    from .metrics import MetricsCallback
    from .records import Kind, MemoryRecord, Scope, ScoreParts, SearchHit
    from .static_embedding import StaticEmbedder
    from .tokens import TiktokenCounter, TokenCounter

__version__ = "0.1.0"

__all__ = [
    "CallbackHandler",
    "ChatMessage",
    "ConfigError",
    "ConsolidationReport",
    "Context",
    "ContextConfig",
    "Decision",
    "Embedder",
    "ExtractiveSummarizer",
    "ForgetReport",
    "FunctionEmbedder",
    "HashingEmbedder",
    "HealthConfig",
    "HealthReport",
    "HotConfig",
    "InvalidInputError",
    "Kind",
    "LongTermConfig",
    "MediumTermConfig",
    "MemoryConfig",
    "MemoryRecord",
    "Merge",
    "MessageTooLargeError",
    "MetricsCallback",
    "NotFoundError",
    "PromptSummarizer",
    "RetrievalConfig",
    "SchemaVersionError",
    "Scope",
    "ScoreParts",
    "SearchHit",
    "ShortTermConfig",
    "StaticEmbedder",
    "StoreError",
    "Summarizer",
    "Tier",
    "TieredMemory",
    "TieredMemoryError",
    "TiktokenCounter",
    "TokenCounter",
    "TokenizerError",
    "__version__",
]

# where each public name lives; the module is imported on first access of the name
_MODULES = {
    "CallbackHandler": "callbacks",
    "ChatMessage": "messages",
    "ConfigError": "errors",
    "Context": "context",
    "ContextConfig": "config",
    "Decision": "context",
    "Embedder": "embeddings",
    "ExtractiveSummarizer": "medium_term",
    "FunctionEmbedder": "embeddings",
    "HashingEmbedder": "embeddings",
    "HealthConfig": "config",
    "HealthReport": "health",
    "ConsolidationReport": "lifecycle",
    "ForgetReport": "lifecycle",
    "Merge": "lifecycle",
    "InvalidInputError": "errors",
    "Kind": "records",
    "HotConfig": "config",
    "LongTermConfig": "config",
    "MediumTermConfig": "config",
    "MemoryConfig": "config",
    "MemoryRecord": "records",
    "MessageTooLargeError": "errors",
    "MetricsCallback": "metrics",
    "NotFoundError": "errors",
    "PromptSummarizer": "medium_term",
    "RetrievalConfig": "config",
    "SchemaVersionError": "errors",
    "Scope": "records",
    "ScoreParts": "records",
    "SearchHit": "records",
    "ShortTermConfig": "config",
    "StaticEmbedder": "static_embedding",
    "StoreError": "errors",
    "Summarizer": "medium_term",
    "Tier": "context",
    "TieredMemory": "memory",
    "TieredMemoryError": "errors",
    "TiktokenCounter": "tokens",
    "TokenCounter": "tokens",
    "TokenizerError": "errors",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'tiermem' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
