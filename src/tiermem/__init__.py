"""tiermem: tiered memory and token-budgeted context for LLM agents.

Every turn is kept; `TieredMemory.build_context` returns the best context that
fits a hard token budget, counted with the model's real tokenizer.
"""

from __future__ import annotations

from .callbacks import CallbackHandler
from .config import (
    ContextConfig,
    HealthConfig,
    LongTermConfig,
    MediumTermConfig,
    MemoryConfig,
    RetrievalConfig,
    ShortTermConfig,
)
from .context import Context, Decision, Tier
from .embeddings import Embedder, HashingEmbedder
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
from .medium_term import ExtractiveSummarizer, Summarizer
from .memory import TieredMemory
from .metrics import MetricsCallback
from .records import Kind, MemoryRecord, ScoreParts, SearchHit
from .static_embedding import StaticEmbedder
from .tokens import TiktokenCounter, TokenCounter

__version__ = "0.1.0"

__all__ = [
    "CallbackHandler",
    "ConfigError",
    "Context",
    "ContextConfig",
    "Decision",
    "Embedder",
    "ExtractiveSummarizer",
    "HashingEmbedder",
    "HealthConfig",
    "HealthReport",
    "InvalidInputError",
    "Kind",
    "LongTermConfig",
    "MediumTermConfig",
    "MemoryConfig",
    "MemoryRecord",
    "MessageTooLargeError",
    "MetricsCallback",
    "NotFoundError",
    "RetrievalConfig",
    "SchemaVersionError",
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
