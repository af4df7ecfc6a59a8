"""Configuration: frozen pydantic models, one group per tier, passed in explicitly.

Nothing is read from the environment or the disk unless asked
(`MemoryConfig.from_env()`, `MemoryConfig.from_file()`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .tokens import encoding_name

__all__ = [
    "ContextConfig",
    "HealthConfig",
    "HotConfig",
    "LongTermConfig",
    "MediumTermConfig",
    "MemoryConfig",
    "RetrievalConfig",
    "ShortTermConfig",
]

_ENV_PREFIX = "TIERMEM_"

# Context windows of common models, for `MemoryConfig.for_model`.
_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            # one line naming each field and its rule, as a ConfigError (a ValueError)
            raise ConfigError(_describe(exc)) from None


class ShortTermConfig(_Frozen):
    """Verbatim recent turns of each session."""

    max_tokens: int = Field(2_000, gt=0, description="token bound of a session's recent turns")
    max_message_tokens: int | None = Field(
        None, gt=0, description="largest turn accepted; default: the context budget"
    )


class MediumTermConfig(_Frozen):
    """Rolling summaries of turns evicted from the short-term tier."""

    enabled: bool = True
    trigger_tokens: int = Field(
        1_000, gt=0, description="evicted tokens that are folded into one summary"
    )
    summary_tokens: int = Field(200, gt=0, description="token target of one summary")
    max_summaries: int = Field(
        8, ge=2, description="summaries kept per session before the oldest two are merged"
    )


class LongTermConfig(_Frozen):
    """The LanceDB store."""

    table: str = Field("records", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    storage_options: dict[str, str] = Field(default_factory=dict)
    read_consistency_seconds: float | None = Field(
        0.0, ge=0.0, description="how stale reads may be (0: see other writers at once)"
    )
    vector_index_rows: int | None = Field(
        50_000,
        gt=0,
        description="rows from which optimize builds LanceDB's vector index, with the hot path"
        " off (on, vectors are searched in process); None: never",
    )
    optimize_every: int | None = Field(
        200, gt=0, description="rows written between background compactions; None: never"
    )
    write_behind_ms: float | None = Field(
        None,
        gt=0.0,
        description="opt-in: commit appends together after this many ms; a crash loses the"
        " turns of the last interval",
    )
    index_cache_mb: int | None = Field(
        None, gt=0, description="opt-in bound of LanceDB's cache of opened indexes, in MB,"
        " per store; None: LanceDB's default (6 GB)",
    )  # fmt: skip
    metadata_cache_mb: int | None = Field(
        None, gt=0, description="opt-in bound of LanceDB's cache of table versions and file"
        " metadata, in MB, per store; None: LanceDB's default (1 GB)",
    )  # fmt: skip
    keep_versions_seconds: float | None = Field(
        120.0, gt=0.0, description="age past which optimize drops old table versions; None: 7 days"
    )


class HotConfig(_Frozen):
    """The in-process index in front of the store: reads in milliseconds, writes logged."""

    enabled: bool = Field(True, description="serve reads and acknowledge writes in process")
    wal: bool = Field(
        True, description="log writes in a local store's folder before acknowledging them"
    )
    fsync: bool = Field(
        True, description="flush the log to disk per write; off, a write survives the process"
        " dying but not the machine",
    )  # fmt: skip
    background_rows: int = Field(
        20_000, ge=0, description="a larger table loads in the background, LanceDB serving"
        " reads meanwhile",
    )  # fmt: skip
    hnsw_rows: int | None = Field(
        50_000, gt=0, description="rows in a scope from which vectors are searched by HNSW"
        " graph (exact below); None: always exact",
    )  # fmt: skip
    max_rows: int | None = Field(
        250_000, ge=0, description="a store with more rows at open is served by LanceDB: the"
        " index holds every row in memory (about 4 KB each); None: no limit",
    )  # fmt: skip


class RetrievalConfig(_Frozen):
    """How long-term hits are found and scored."""

    fusion: Literal["score", "rrf"] = Field(
        "score", description="how each index's hits become a relevance in [0, 1]: 'score' "
        "scales BM25 by the query's best and clips cosine; 'rrf' uses ranks (reciprocal "
        "rank fusion), blind to how each index's scores are spread",
    )  # fmt: skip
    rrf_k: float = Field(
        60.0, gt=0.0, description="rrf: a hit at rank r counts (rrf_k + 1) / (rrf_k + r)"
    )
    text_weight: float = Field(0.5, ge=0.0, description="weight of full-text (BM25) relevance")
    vector_weight: float = Field(0.5, ge=0.0, description="weight of vector relevance")
    recency_weight: float = Field(
        0.02, ge=0.0, le=1.0, description="pull toward newer memories; the recent turns "
        "themselves come from the short-term tier",
    )  # fmt: skip
    importance_weight: float = Field(0.05, ge=0.0, le=1.0)
    recency_half_life_days: float = Field(30.0, gt=0.0)
    candidates: int = Field(
        50, gt=0, le=10_000, description="hits fetched from each index before fusion"
    )
    embed_speaker: bool = Field(
        True, description="embed a turn with its speaker's name (metadata['name'])"
    )
    neighbors: int = Field(2, ge=0, le=10, description="turns on each side of a hit to add")
    neighbor_weight: float = Field(
        0.8, ge=0.0, le=1.0, description="share of a hit's score a turn next to it inherits, "
        "per turn of distance",
    )  # fmt: skip
    neighbor_sources: int = Field(20, ge=0, description="best hits whose neighbours are added")
    other_speaker_weight: float = Field(
        0.6, gt=0.0, le=1.0, description="score factor of a turn by a speaker the query does "
        "not name, when it names one (metadata['name'])",
    )  # fmt: skip

    @model_validator(mode="after")
    def _some_relevance(self) -> Self:
        if self.text_weight + self.vector_weight <= 0:
            raise ValueError("text_weight + vector_weight must be greater than 0")
        return self


class ContextConfig(_Frozen):
    """How `build_context` spends its budget."""

    max_tokens: int = Field(4_000, gt=0, description="budget when build_context gets none")
    recent_share: float = Field(
        0.3, ge=0.0, le=1.0, description="share of the budget reserved for the newest turns"
    )
    max_candidates: int = Field(
        60, gt=0, le=10_000, description="long-term hits considered per context, at least"
    )
    token_exponent: float = Field(
        0.0, ge=0.0, le=2.0, description="rank by score / tokens**this: 0 ignores length"
    )
    candidates_per_1k_tokens: int = Field(
        40, ge=0, le=1_000, description="more hits for larger budgets, so they can be filled"
    )


class HealthConfig(_Frozen):
    """Where each health check turns from ok to degraded or failing (None: never)."""

    write_probe_ms_degraded: float | None = Field(
        2_000.0, gt=0.0, description="a scratch write slower than this is degraded"
    )
    unindexed_rows_degraded: int | None = Field(
        5_000, ge=0, description="rows not yet in the full-text or vector index"
    )
    unindexed_rows_failing: int | None = Field(None, ge=0)
    versions_since_optimize_degraded: int | None = Field(
        1_000, ge=0, description="table versions written since the last optimize"
    )
    versions_since_optimize_failing: int | None = Field(None, ge=0)
    disk_free_mb_degraded: float | None = Field(
        1_024.0, ge=0.0, description="free space where a local store lives"
    )
    disk_free_mb_failing: float | None = Field(100.0, ge=0.0)
    rss_mb_degraded: float | None = Field(
        8_192.0, gt=0.0, description="resident memory of this process"
    )
    rss_mb_failing: float | None = Field(None, gt=0.0)
    latency_p95_ms_degraded: float | None = Field(
        1_000.0, gt=0.0, description="p95 of any operation a MetricsCallback timed"
    )
    latency_p95_ms_failing: float | None = Field(None, gt=0.0)
    latency_p95_ms_by_operation: dict[str, float] = Field(
        default_factory=dict, description="degraded p95 per operation, e.g. {'search': 200}"
    )
    write_backlog_degraded: int | None = Field(
        10_000, ge=0, description="writes acknowledged and not yet committed to the store"
    )
    write_backlog_failing: int | None = Field(None, ge=0)
    index_lag_versions_degraded: int | None = Field(
        100, ge=0, description="table versions the in-process index has not taken in yet"
    )
    index_lag_versions_failing: int | None = Field(None, ge=0)
    latency_min_samples: int = Field(
        20, ge=1, description="samples an operation needs before its p95 is judged"
    )

    @model_validator(mode="after")
    def _failing_beyond_degraded(self) -> Self:
        for stem, below in (("unindexed_rows", False), ("versions_since_optimize", False),
                            ("disk_free_mb", True), ("rss_mb", False),
                            ("latency_p95_ms", False), ("write_backlog", False),
                            ("index_lag_versions", False)):  # fmt: skip
            degraded = getattr(self, f"{stem}_degraded")
            failing = getattr(self, f"{stem}_failing")
            if degraded is None or failing is None:
                continue
            if (failing > degraded) if below else (failing < degraded):
                side = "above" if below else "below"
                raise ValueError(f"{stem}_failing must not be {side} {stem}_degraded")
        return self


class MemoryConfig(_Frozen):
    """Everything `TieredMemory` can be told; every field has a working default."""

    tokenizer: str = Field("o200k_base", description="encoding or OpenAI model name")
    short_term: ShortTermConfig = ShortTermConfig()
    medium_term: MediumTermConfig = MediumTermConfig()
    long_term: LongTermConfig = LongTermConfig()
    hot: HotConfig = HotConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    context: ContextConfig = ContextConfig()
    health: HealthConfig = HealthConfig()

    @field_validator("tokenizer")
    @classmethod
    def _known_tokenizer(cls, value: str) -> str:
        try:
            encoding_name(value)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("tokenizer: ")) from None
        return value

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MemoryConfig:
        """Build from nested plain data (as read from TOML or JSON)."""
        return cls(**dict(data))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MemoryConfig:
        """Read a TOML file; a ``[tiermem]`` table is used if present, else the whole file."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {os.fspath(path)!r}: {exc}") from None
        section = data.get("tiermem", data)
        if not isinstance(section, dict):
            raise ConfigError(f"config file {os.fspath(path)!r}: [tiermem] must be a table")
        return cls.from_mapping(section)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MemoryConfig:
        """Read ``TIERMEM_*`` variables; ``__`` nests, e.g. ``TIERMEM_SHORT_TERM__MAX_TOKENS``."""
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        for key, value in env.items():
            if not key.startswith(_ENV_PREFIX) or key == _ENV_PREFIX:
                continue
            path = key[len(_ENV_PREFIX) :].lower().split("__")
            node = data
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"{key}: {part} is both a value and a group")
            node[path[-1]] = value
        return cls.from_mapping(data)

    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> MemoryConfig:
        """Tokenizer and budgets that suit ``model``'s context window.

        The default context takes a quarter of the window (at most 16k tokens: more
        context is slower and rarely better), and the recent turns a quarter of that.
        """
        window = _CONTEXT_WINDOWS.get(model)
        if window is None:
            known = ", ".join(sorted(_CONTEXT_WINDOWS))
            raise ConfigError(f"model: {model!r} is not a known model ({known})")
        budget = min(window // 4, 16_000)
        data: dict[str, Any] = {
            "tokenizer": model,
            "context": {"max_tokens": budget},
            "short_term": {"max_tokens": max(budget // 4, 256)},
        }
        data.update(overrides)
        return cls(**data)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if isinstance(error.get("ctx", {}).get("error"), ConfigError):
            # a nested group already named its own field: prefix the group's path
            parts.append(f"{field}.{message}" if field else message)
        else:
            parts.append(f"{field or 'config'}: {message}")
    return "; ".join(parts)
