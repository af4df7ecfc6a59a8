"""What the HTTP API takes and returns (these models make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..context import Context, Decision
from ..records import MemoryRecord, ScoreParts, SearchHit

__all__ = [
    "ContextOut",
    "ContextRequest",
    "DecisionOut",
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

    @classmethod
    def of(cls, record: MemoryRecord) -> RecordOut:
        return cls(
            id=record.id, kind=record.kind.value, text=record.text, timestamp=record.timestamp,
            role=record.role, session_id=record.session_id, user_id=record.user_id,
            agent_id=record.agent_id, seq=record.seq, importance=record.importance,
            tags=list(record.tags), metadata=dict(record.metadata), tokens=record.tokens,
        )  # fmt: skip


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
