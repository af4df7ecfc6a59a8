"""Hybrid retrieval: fuse full-text and vector hits into one inspectable score."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .config import RetrievalConfig
from .records import MemoryRecord, ScoreParts, SearchHit

__all__ = ["fuse", "has_terms"]

_SECONDS_PER_DAY = 86_400.0


def has_terms(query: str) -> bool:
    """Full-text search needs at least one word character to match anything."""
    return any(ch.isalnum() for ch in query)


def fuse(
    text_hits: Sequence[tuple[MemoryRecord, float]],
    vector_hits: Sequence[tuple[MemoryRecord, float]],
    *,
    config: RetrievalConfig,
    reference: datetime | None = None,
) -> list[SearchHit]:
    """Merge BM25 hits and cosine-distance hits, best first.

    Text relevance is BM25 divided by the best BM25 of the query (so 1.0 is the
    best lexical match); vector relevance is cosine similarity clipped to [0, 1].
    Recency halves every ``recency_half_life_days`` before ``reference`` (default:
    the newest hit), so replayed old conversations rank like live ones.
    """
    records: dict[str, MemoryRecord] = {}
    text: dict[str, float] = {}
    vector: dict[str, float] = {}
    best_bm25 = max((score for _, score in text_hits), default=0.0)
    for record, bm25 in text_hits:
        records[record.id] = record
        text[record.id] = bm25 / best_bm25 if best_bm25 > 0 else 0.0
    for record, distance in vector_hits:
        records[record.id] = record
        vector[record.id] = min(max(1.0 - distance, 0.0), 1.0)
    if not records:
        return []
    if reference is None:
        reference = max(r.timestamp for r in records.values())
    relevance_weight = config.text_weight + config.vector_weight
    rest = 1.0 - config.recency_weight - config.importance_weight
    hits = []
    for key, record in records.items():
        age_days = max((reference - record.timestamp).total_seconds(), 0.0) / _SECONDS_PER_DAY
        parts = ScoreParts(
            text=text.get(key, 0.0),
            vector=vector.get(key, 0.0),
            recency=0.5 ** (age_days / config.recency_half_life_days),
            importance=record.importance,
        )
        relevance = (
            config.text_weight * parts.text + config.vector_weight * parts.vector
        ) / relevance_weight
        score = (
            max(rest, 0.0) * relevance
            + config.recency_weight * parts.recency
            + config.importance_weight * parts.importance
        )
        hits.append(SearchHit(record=record, score=score, parts=parts))
    hits.sort(key=lambda h: (-h.score, -h.record.timestamp.timestamp(), h.record.id))
    return hits
