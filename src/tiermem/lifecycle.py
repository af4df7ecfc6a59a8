"""Forgetting by rule and consolidating memories: flows the orchestrator drives.

Both read what a scope holds, decide in plain Python, then write: a dry run stops
after deciding, so it reports exactly what the real run would change.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .effects import Embed, Flow, ask
from .long_term import Delete, Fetch, Filter, Upsert
from .records import Kind, MemoryRecord, Owner

__all__ = [
    "MERGED_FROM",
    "ConsolidationReport",
    "ForgetReport",
    "Merge",
    "consolidate_flow",
    "forget_flow",
    "lasting",
    "normal_text",
]

#: metadata key of a consolidated memory: the ids of the memories merged into it
MERGED_FROM = "merged_from"
#: ids per delete: a filter naming thousands of ids is long
_DELETE_IDS = 500


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What `forget_where` removed (or, on a dry run, would remove).

    ``counts`` holds one entry per kind (``turn``, ``memory``, ``summary``); the
    summaries counted are those that covered a forgotten turn.
    """

    ids: tuple[str, ...]
    counts: Mapping[str, int]
    dry_run: bool

    @property
    def total(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class Merge:
    """Memories found to say the same thing: ``kept`` holds what they all said."""

    kept: MemoryRecord
    merged: tuple[MemoryRecord, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class ConsolidationReport:
    """What `consolidate` merged (or, on a dry run, would merge)."""

    merges: tuple[Merge, ...]
    dry_run: bool

    @property
    def removed(self) -> int:
        """Memories deleted, each merged into the one kept."""
        return sum(len(m.merged) for m in self.merges)


# --- forgetting ---------------------------------------------------------------------


def forget_flow(scope: Filter, *, dry_run: bool) -> Flow[ForgetReport]:
    """Remove what ``scope`` selects, and the summaries that cover any removed turn.

    A summary holds the text of the turns it covers: kept, it would leak them.
    """
    found = yield from ask(Fetch(scope))
    turns: dict[Owner, set[int]] = {}
    for record in found:
        if record.kind is Kind.TURN:
            turns.setdefault(record.owner, set()).add(record.seq)
    chosen = {r.id: r for r in found}
    if turns:
        owners = Filter(scope.user_id, scope.agent_id, scope.session_id, exact=scope.exact,
                       kinds=(Kind.SUMMARY,))  # fmt: skip
        summaries = yield from ask(Fetch(owners))
        for summary in summaries:
            seqs = turns.get(summary.owner)
            if seqs and any(seq in summary.covered_seqs for seq in seqs):
                chosen[summary.id] = summary
    ids = tuple(chosen)
    counts = {kind.value: 0 for kind in Kind}
    for record in chosen.values():
        counts[record.kind.value] += 1
    if not dry_run:
        yield from _delete(ids)
    return ForgetReport(ids=ids, counts=counts, dry_run=dry_run)


def _delete(ids: Sequence[str]) -> Flow[None]:
    for start in range(0, len(ids), _DELETE_IDS):
        yield from ask(Delete(Filter(ids=tuple(ids[start : start + _DELETE_IDS]))))


# --- consolidating ------------------------------------------------------------------

_WORD = re.compile(r"[\w']+")
# a word that flips what a statement says: two statements differing in them never merge
_NEGATIONS = frozenset(
    {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without",
     "nowhere", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "cant"}
)  # fmt: skip


_CONTRACTIONS = (("can't", "can not"), ("won't", "will not"), ("n't", " not"))


def _words(text: str) -> list[str]:
    folded = text.casefold().replace("\u2019", "'")
    for short, full in _CONTRACTIONS:  # "doesn't" says what "does not" says
        folded = folded.replace(short, full)
    return _WORD.findall(folded)


def normal_text(text: str) -> str:
    """A statement ignoring case, spacing and punctuation: equal ones say the same thing."""
    return " ".join(w.replace("'", "") for w in _words(text))


def _negations(words: Iterable[str]) -> int:
    return sum(1 for w in words if w.replace("'", "") in _NEGATIONS)


@dataclass(slots=True)
class _Statement:
    record: MemoryRecord
    normal: str
    tokens: frozenset[str]
    negations: int


def _statement(record: MemoryRecord) -> _Statement:
    words = _words(record.text)
    normal = " ".join(w.replace("'", "") for w in words)
    return _Statement(record, normal, frozenset(normal.split()), _negations(words))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _groups(
    records: Sequence[MemoryRecord], vectors: NDArray[np.float32], *, text: float, vector: float
) -> list[tuple[MemoryRecord, list[MemoryRecord], str]]:
    """One owner's memories grouped with the one each group keeps: the most important,
    then the oldest. Each is compared with the keeper, not along a chain, so a group
    cannot drift from what its keeper says."""
    order = sorted(
        range(len(records)),
        key=lambda i: (-records[i].importance, records[i].timestamp, records[i].id),
    )
    statements = [_statement(r) for r in records]
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms == 0, 1.0, norms)[:, None]
    taken = np.zeros(len(records), np.bool_)
    groups = []
    for i in order:
        if taken[i]:
            continue
        taken[i] = True
        keeper = statements[i]
        cosines = unit @ unit[i]
        members: list[MemoryRecord] = []
        reasons: list[str] = []
        for j in order:
            if taken[j]:
                continue
            other = statements[j]
            if other.normal == keeper.normal:
                reasons.append("same text")
            elif other.negations != keeper.negations:
                continue  # "likes tea" and "does not like tea" are opposites, not duplicates
            elif (similar := _jaccard(keeper.tokens, other.tokens)) >= text and float(
                cosines[j]
            ) >= vector:
                reasons.append(f"near duplicate (words {similar:.2f}, cosine {cosines[j]:.2f})")
            else:
                continue
            taken[j] = True
            members.append(other.record)
        if members:
            groups.append((records[i], members, "; ".join(dict.fromkeys(reasons))))
    return groups


def merged(keeper: MemoryRecord, others: Sequence[MemoryRecord]) -> MemoryRecord:
    """``keeper`` holding what ``others`` held too: the highest importance, every tag,
    the latest expiry (none if any never expires), and the ids merged into it."""
    everyone = (keeper, *others)
    provenance: list[str] = []
    metadata: dict[str, Any] = {}
    for record in reversed(everyone):  # the keeper's own keys win
        metadata.update(record.metadata)
    for record in everyone:
        earlier = record.metadata.get(MERGED_FROM)
        if isinstance(earlier, list):
            provenance.extend(str(i) for i in earlier)
    provenance.extend(r.id for r in others)
    metadata[MERGED_FROM] = list(dict.fromkeys(provenance))
    return dataclasses.replace(
        keeper,
        importance=max(r.importance for r in everyone),
        tags=tuple(dict.fromkeys(t for r in everyone for t in r.tags)),
        metadata=metadata,
        expires_at=lasting(r.expires_at for r in everyone),
    )


def lasting(expiries: Iterable[datetime | None]) -> datetime | None:
    """The expiry of one fact said several times: the latest, or never if any never expires."""
    found = list(expiries)
    known = [e for e in found if e is not None]
    return None if len(known) < len(found) else max(known, default=None)


def consolidate_flow(
    scope: Filter, *, text: float, vector: float, dry_run: bool
) -> Flow[ConsolidationReport]:
    """Merge the explicit memories of each owner in ``scope`` that say the same thing."""
    found = yield from ask(Fetch(dataclasses.replace(scope, kinds=(Kind.MEMORY,))))
    by_owner: dict[Owner, list[MemoryRecord]] = {}
    for record in found:
        by_owner.setdefault(record.owner, []).append(record)
    merges: list[Merge] = []
    for records in by_owner.values():
        if len(records) < 2:
            continue
        vectors = np.asarray((yield from ask(Embed([r.text for r in records]))), dtype=np.float32)
        for keeper, others, reason in _groups(records, vectors, text=text, vector=vector):
            merges.append(Merge(merged(keeper, others), tuple(others), reason))
    if not dry_run and merges:
        kept = [m.kept for m in merges]
        kept_vectors = yield from ask(Embed([r.text for r in kept]))
        yield from ask(Upsert(kept, np.asarray(kept_vectors, dtype=np.float32)))
        yield from _delete([r.id for m in merges for r in m.merged])
    return ConsolidationReport(merges=tuple(merges), dry_run=dry_run)
