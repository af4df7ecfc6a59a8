"""Hybrid retrieval: fuse full-text and vector hits into one inspectable score."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np

from . import records
from .config import RetrievalConfig
from .effects import Embed, Flow, ask
from .long_term import Fetch, Filter, Search, micros
from .records import Kind, MemoryRecord, Owner, ScoreParts, SearchHit

__all__ = [
    "alive",
    "fuse",
    "has_terms",
    "hybrid",
    "named_speakers",
    "neighbor_positions",
    "neighbors",
    "with_neighbors",
]

_SECONDS_PER_DAY = 86_400.0

#: a turn's place: its owner (user, agent, session) and its seq there; two users who
#: share a session id number their turns apart, so the owner is part of the place
Position = tuple[Owner, int]


def has_terms(query: str) -> bool:
    """Full-text search needs at least one word character to match anything."""
    return any(ch.isalnum() for ch in query)


def named_speakers(query: str, records: Iterable[MemoryRecord]) -> frozenset[str]:
    """The speakers (``metadata["name"]``) that the query names, as whole words, any case."""
    names = {r.metadata.get("name") for r in records}
    return frozenset(
        name
        for name in names
        if isinstance(name, str)
        and name.strip()
        and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", query, re.IGNORECASE)
    )


def _speaker_factor(record: MemoryRecord, named: frozenset[str], config: RetrievalConfig) -> float:
    # only a turn by another named speaker is doubted: memories and unnamed roles are not
    name = record.metadata.get("name")
    if not named or not isinstance(name, str) or name in named:
        return 1.0
    return config.other_speaker_weight


def fuse(
    text_hits: Sequence[tuple[MemoryRecord, float]],
    vector_hits: Sequence[tuple[MemoryRecord, float]],
    *,
    config: RetrievalConfig,
    reference: datetime | None = None,
    named: frozenset[str] = frozenset(),
) -> list[SearchHit]:
    """Merge BM25 hits and cosine-distance hits, best first.

    With ``config.fusion == "score"``, text relevance is BM25 divided by the best
    BM25 of the query (so 1.0 is the best lexical match) and vector relevance is
    cosine similarity clipped to [0, 1]. With ``"rrf"`` each is ``(k + 1) / (k + rank)``
    in its own list (1.0 for the first), so neither index's score scale decides.
    Recency halves every ``recency_half_life_days`` before ``reference`` (default:
    the newest hit), so replayed old conversations rank like live ones. When the
    query names speakers (``named``), turns by other named speakers are scaled by
    ``other_speaker_weight``: "what did Ann say" is about Ann's turns.
    """
    records: dict[str, MemoryRecord] = {}
    for record, _ in (*text_hits, *vector_hits):
        records[record.id] = record
    if config.fusion == "rrf":
        text = _reciprocal_ranks(text_hits, best_first=True, k=config.rrf_k)
        vector = _reciprocal_ranks(vector_hits, best_first=False, k=config.rrf_k)
    else:
        best_bm25 = max((score for _, score in text_hits), default=0.0)
        text = {r.id: bm25 / best_bm25 if best_bm25 > 0 else 0.0 for r, bm25 in text_hits}
        vector = {r.id: min(max(1.0 - d, 0.0), 1.0) for r, d in vector_hits}
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
            speaker=_speaker_factor(record, named, config),
        )
        relevance = (
            config.text_weight * parts.text + config.vector_weight * parts.vector
        ) / relevance_weight
        score = (
            max(rest, 0.0) * relevance
            + config.recency_weight * parts.recency
            + config.importance_weight * parts.importance
        ) * parts.speaker
        hits.append(SearchHit(record=record, score=score, parts=parts))
    return _ranked(hits)


def _reciprocal_ranks(
    hits: Sequence[tuple[MemoryRecord, float]], *, best_first: bool, k: float
) -> dict[str, float]:
    """Each record's ``(k + 1) / (k + rank)`` in ``hits`` ordered by score (BM25 high first,
    distance low first); equal scores share the better rank, so input order decides nothing."""
    ordered = sorted(hits, key=lambda h: -h[1] if best_first else h[1])
    out: dict[str, float] = {}
    rank, previous = 0, None
    for position, (record, score) in enumerate(ordered, start=1):
        if score != previous:
            rank, previous = position, score
        out.setdefault(record.id, (k + 1.0) / (k + rank))
    return out


def _ranked(hits: Iterable[SearchHit]) -> list[SearchHit]:
    return sorted(hits, key=lambda h: (-h.score, -h.record.timestamp.timestamp(), h.record.id))


def _sources(hits: Sequence[SearchHit], config: RetrievalConfig) -> list[SearchHit]:
    """The best hits that lend their score to the turns around them."""
    return [
        h for h in hits[: config.neighbor_sources]
        if h.record.kind is Kind.TURN and h.record.session_id is not None
    ]  # fmt: skip


def _around(record: MemoryRecord, span: int) -> Iterable[tuple[Position, int]]:
    for step in (*range(-span, 0), *range(1, span + 1)):
        if record.seq + step >= 0:
            yield (record.owner, record.seq + step), abs(step)


def neighbor_positions(hits: Sequence[SearchHit], config: RetrievalConfig) -> list[Position]:
    """Turns next to the best hits that are not hits themselves: what to fetch."""
    have = {(h.record.owner, h.record.seq) for h in hits if h.record.kind is Kind.TURN}
    wanted: dict[Position, None] = {}
    for hit in _sources(hits, config):
        for position, _ in _around(hit.record, config.neighbors):
            if position not in have:
                wanted.setdefault(position)
    return list(wanted)


def with_neighbors(
    hits: Sequence[SearchHit],
    fetched: Iterable[MemoryRecord],
    *,
    config: RetrievalConfig,
    named: frozenset[str] = frozenset(),
) -> list[SearchHit]:
    """Hits and the turns around the best of them, each turn at its best score, best first.

    An answer often sits right after its question: a turn ``d`` turns away from a
    source hit inherits ``neighbor_weight ** d`` of the source's score (before the
    source's speaker factor, then times its own), and keeps the larger of that and
    what it scored by itself. ``fetched`` are the turns `neighbor_positions` named.
    """
    if not config.neighbors:
        return list(hits)
    turns = {(h.record.owner, h.record.seq): h.record for h in hits
             if h.record.kind is Kind.TURN}  # fmt: skip
    for record in fetched:
        if record.kind is Kind.TURN:
            turns.setdefault((record.owner, record.seq), record)
    inherited: dict[str, float] = {}
    for source in _sources(hits, config):
        lent = source.score / source.parts.speaker
        for position, distance in _around(source.record, config.neighbors):
            near = turns.get(position)
            if near is None:
                continue
            value = lent * config.neighbor_weight**distance
            value *= _speaker_factor(near, named, config)
            inherited[near.id] = max(inherited.get(near.id, 0.0), value)
    out: list[SearchHit] = []
    seen: set[str] = set()
    for hit in hits:
        seen.add(hit.record.id)
        lent = inherited.get(hit.record.id, 0.0)
        if lent <= 0:
            out.append(hit)
            continue
        p = hit.parts  # built directly: `dataclasses.replace` costs 1.5x as much
        parts = ScoreParts(p.text, p.vector, p.recency, p.importance, p.speaker, lent)
        out.append(SearchHit(record=hit.record, score=max(hit.score, lent), parts=parts))
    for record in turns.values():
        if record.id in seen or record.id not in inherited:
            continue
        parts = ScoreParts(
            importance=record.importance, speaker=_speaker_factor(record, named, config),
            neighbor=inherited[record.id],
        )  # fmt: skip
        out.append(SearchHit(record=record, score=inherited[record.id], parts=parts))
    return _ranked(out)


# --- flows: retrieval as the orchestrator drives it --------------------------------


def alive(scope: Filter) -> Filter:
    """``scope`` without what has expired, by the clock read now."""
    return dataclasses.replace(scope, alive_at=micros(records.now()))


def hybrid(
    query: str, k: int, scope: Filter, config: RetrievalConfig
) -> Flow[tuple[list[SearchHit], frozenset[str]]]:
    """The best ``k`` fused hits, and the speakers the query names among what was found."""
    limit = max(config.candidates, k)
    vector = (yield from ask(Embed([query])))[0]
    text_hits, vector_hits = yield from ask(
        Search(
            query if has_terms(query) else None, vector if np.any(vector) else None,
            alive(scope), limit,
        )
    )  # fmt: skip
    named = named_speakers(query, (r for r, _ in vector_hits))
    hits = fuse(text_hits, vector_hits, config=config, named=named)
    return hits[:k], named


def neighbors(
    hits: list[SearchHit], scope: Filter, named: frozenset[str], config: RetrievalConfig
) -> Flow[list[SearchHit]]:
    """Hits with the turns around the best of them: an answer often follows its question."""
    positions = neighbor_positions(hits, config) if config.neighbors else []
    fetched: list[MemoryRecord] = []
    if positions:
        # a few turns named by (session, seq): sifting them for the scope here beats
        # LanceDB intersecting a scope filter that, for a whole agent, holds every row
        found = yield from ask(Fetch(Filter(turns_at=tuple(positions))))
        fetched = [r for r in found if scope.owns(r)]
    return with_neighbors(hits, fetched, config=config, named=named)
