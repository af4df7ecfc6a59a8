"""What the HTTP API takes and returns (these models make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..context import Context, Decision
from ..lifecycle import ConsolidationReport, ForgetReport
from ..records import MemoryRecord, ScoreParts, SearchHit

__all__ = [
    "ConsolidateRequest",
    "ConsolidationOut",
    "ContextOut",
    "ContextRequest",
    "DecisionOut",
    "ForgetOut",
    "ForgetRequest",
    "HitOut",
    "MemoryIn",
    "MessageIn",
    "MessagesIn",
    "RecordOut",
    "SearchRequest",
    "UpdateIn",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_In):
    role: str
    content: str
    timestamp: datetime | float | None = None
    metadata: dict[str, Any] | None = None
    importance: float | None = None
    pinned: bool | None = Field(None, description="kept in every context of its session")


class MessagesIn(_In):
    session_id: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    messages: list[MessageIn] = Field(min_length=1, max_length=1_000)


class MemoryIn(_In):
    text: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    importance: float = 0.5
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    expires_at: datetime | None = Field(None, description="no longer seen from then on")
    ttl_seconds: float | None = Field(None, description="expires this many seconds from now")


class SearchRequest(_In):
    query: str
    k: int = 10
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    tags: list[str] | None = None


class ContextRequest(_In):
    query: str | None = None
    session_id: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    max_tokens: int | None = None


class UpdateIn(_In):
    text: str | None = None
    importance: float | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    pinned: bool | None = None


class ForgetRequest(_In):
    """Forget by rule within a scope: every rule given must hold."""

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    before: datetime | None = Field(None, description="written before this time")
    tags: list[str] | None = Field(None, description="holding any of these tags")
    kinds: list[str] | None = Field(None, description="turn, memory or summary")
    exact: bool = False
    dry_run: bool = Field(False, description="report what would go, change nothing")


class ConsolidateRequest(_In):
    """Merge the explicit memories of a scope that say the same thing."""

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    exact: bool = False
    text_threshold: float = 0.6
    vector_threshold: float = 0.85
    dry_run: bool = False


class RecordOut(BaseModel):
    id: str
    kind: str
    text: str
    timestamp: datetime
    role: str | None
    session_id: str | None
    user_id: str | None
    agent_id: str | None
    seq: int
    importance: float
    tags: list[str]
    metadata: dict[str, Any]
    tokens: int
    expires_at: datetime | None = None
    pinned: bool = False

    @classmethod
    def of(cls, record: MemoryRecord) -> RecordOut:
        return cls(
            id=record.id, kind=record.kind.value, text=record.text, timestamp=record.timestamp,
            role=record.role, session_id=record.session_id, user_id=record.user_id,
            agent_id=record.agent_id, seq=record.seq, importance=record.importance,
            tags=list(record.tags), metadata=dict(record.metadata), tokens=record.tokens,
            expires_at=record.expires_at, pinned=bool(record.pinned),
        )  # fmt: skip


class ForgetOut(BaseModel):
    ids: list[str]
    counts: dict[str, int]
    total: int
    dry_run: bool

    @classmethod
    def of(cls, report: ForgetReport) -> ForgetOut:
        return cls(ids=list(report.ids), counts=dict(report.counts), total=report.total,
                   dry_run=report.dry_run)  # fmt: skip


class MergeOut(BaseModel):
    kept: RecordOut
    merged: list[RecordOut]
    reason: str


class ConsolidationOut(BaseModel):
    merges: list[MergeOut]
    removed: int
    dry_run: bool

    @classmethod
    def of(cls, report: ConsolidationReport) -> ConsolidationOut:
        merges = [MergeOut(kept=RecordOut.of(m.kept), merged=[RecordOut.of(r) for r in m.merged],
                           reason=m.reason) for m in report.merges]  # fmt: skip
        return cls(merges=merges, removed=report.removed, dry_run=report.dry_run)


class Parts(BaseModel):
    text: float
    vector: float
    recency: float
    importance: float
    speaker: float
    neighbor: float

    @classmethod
    def of(cls, parts: ScoreParts | None) -> Parts | None:
        if parts is None:
            return None
        return cls(text=parts.text, vector=parts.vector, recency=parts.recency,
                   importance=parts.importance, speaker=parts.speaker,
                   neighbor=parts.neighbor)  # fmt: skip


class HitOut(BaseModel):
    score: float
    parts: Parts | None
    record: RecordOut

    @classmethod
    def of(cls, hit: SearchHit) -> HitOut:
        return cls(score=hit.score, parts=Parts.of(hit.parts), record=RecordOut.of(hit.record))


class DecisionOut(BaseModel):
    kept: bool
    reason: str
    tier: str
    tokens: int
    score: float
    pinned: bool
    parts: Parts | None
    records: list[RecordOut]

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        c = decision.candidate
        return cls(
            kept=decision.kept, reason=decision.reason, tier=c.tier.value, tokens=c.tokens,
            score=c.score, pinned=c.pinned, parts=Parts.of(c.parts),
            records=[RecordOut.of(r) for r in c.records],
        )  # fmt: skip


class ContextOut(BaseModel):
    messages: list[dict[str, Any]]
    text: str
    token_count: int
    max_tokens: int
    tokens_per_tier: dict[str, int]
    decisions: list[DecisionOut]
    explanation: str

    @classmethod
    def of(cls, context: Context) -> ContextOut:
        return cls(
            messages=context.messages, text=context.text, token_count=context.token_count,
            max_tokens=context.max_tokens, tokens_per_tier=context.tokens_per_tier(),
            decisions=[DecisionOut.of(d) for d in context.decisions],
            explanation=context.explain(),
        )  # fmt: skip
