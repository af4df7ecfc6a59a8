"""`HotIndex`: full text, vectors and row columns of one store, searched in process.

Rows are dense positions shared by the three parts. A record written again (same
id) takes a new row and its old row dies, so every part stays append-only plus
tombstones. Scope isolation is decided by the columns' exact code comparison; the
text and vector indexes only narrow what they look at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..records import MemoryRecord
from .columns import Columns, ScopeFilter
from .text import DEFAULT_COMMIT_ROWS, TextIndex
from .vectors import DEFAULT_HNSW_ROWS, VectorIndex

__all__ = ["Found", "HotIndex", "Position"]

Rows = NDArray[np.int64]
Floats = NDArray[np.float32]
#: where a turn sits: its exact (user_id, agent_id, session_id) and its seq
Position = tuple[str | None, str | None, str | None, int]


@dataclass(frozen=True, slots=True)
class Found:
    """The candidates of one search, in the shapes `retrieval.fuse` takes.

    ``vector_rows`` holds the vector top hits, then every text hit the vector search
    did not return, with its exact distance: fusion then scores both parts of every
    candidate (what the LanceDB path computes from the text hits' stored vectors).
    """

    text_rows: Rows
    bm25: Floats
    vector_rows: Rows
    distances: Floats
    records: Mapping[int, MemoryRecord]

    @property
    def text_hits(self) -> list[tuple[MemoryRecord, float]]:
        """(record, BM25) pairs, best first: `fuse`'s ``text_hits``."""
        return [(self.records[int(r)], float(s)) for r, s in zip(self.text_rows, self.bm25,
                                                                   strict=True)]  # fmt: skip

    @property
    def vector_hits(self) -> list[tuple[MemoryRecord, float]]:
        """(record, cosine distance) pairs: `fuse`'s ``vector_hits``."""
        return [(self.records[int(r)], float(d))
                for r, d in zip(self.vector_rows, self.distances, strict=True)]  # fmt: skip


def _empty() -> tuple[Rows, Floats]:
    return np.zeros(0, np.int64), np.zeros(0, np.float32)


class HotIndex:
    """The in-process index of one store: add, delete, search, neighbours.

    Args:
        dimensions: the embedder's vector length.
        commit_rows: rows the full-text index holds uncommitted (scored from its tail).
        hnsw_rows: rows in a search's scope from which vectors are searched by graph.
        background_graph: build that graph on a thread, searching exactly meanwhile.
    """

    def __init__(
        self,
        dimensions: int,
        *,
        commit_rows: int = DEFAULT_COMMIT_ROWS,
        hnsw_rows: int | None = DEFAULT_HNSW_ROWS,
        background_graph: bool = False,
    ) -> None:
        self.columns = Columns()
        self.text = TextIndex(commit_rows=commit_rows)
        self.vectors = VectorIndex(dimensions, hnsw_rows=hnsw_rows, background=background_graph)
        self._records: list[MemoryRecord | None] = []
        self._lock = threading.RLock()

    def __len__(self) -> int:
        """Live records."""
        return self.columns.live_count

    def add(
        self,
        records: Sequence[MemoryRecord],
        vectors: NDArray[np.floating],
        *,
        tokens: Sequence[int] | None = None,
    ) -> Rows:
        """Index ``records`` (one vector each); a known id replaces its record.

        ``tokens`` is each record's token price as the context will count it; by
        default its ``tokens`` field. Returns the rows given, in order.
        """
        if not records:
            return np.zeros(0, np.int64)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(records), -1)
        if len(records) != len(matrix):
            raise ValueError(f"vectors: must hold one vector per record ({len(records)})")
        prices = [r.tokens for r in records] if tokens is None else list(tokens)
        with self._lock:
            self._forget([r.id for r in records])
            rows = self.columns.append(records, prices)
            self._records.extend(records)
            self.text.add(rows.tolist(), [r.text for r in records], self.columns.codes(rows))
            self.vectors.add(rows, matrix)
            # an id twice in one batch: the last one wins, the earlier row dies everywhere
            shadowed = rows[~self.columns.is_live(rows)]
            if len(shadowed):
                self.text.delete(shadowed.tolist())
                self.vectors.delete(shadowed)
                for row in shadowed:
                    self._records[int(row)] = None
            return rows

    def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id, visible to every search from now; how many were live."""
        with self._lock:
            return self._forget(ids)

    def _forget(self, ids: Iterable[str]) -> int:
        rows = self.columns.delete(ids)
        if len(rows):
            self.text.delete(rows.tolist())
            self.vectors.delete(rows)
            for row in rows:
                self._records[int(row)] = None
        return len(rows)

    def close(self) -> None:
        """Stop background work (a graph being built); searches keep working."""
        self.vectors.close()

    def commit(self) -> None:
        """Fold the full-text tail into tantivy now (it also happens every ``commit_rows``)."""
        with self._lock:
            self.text.commit()

    def records(self, rows: Iterable[int]) -> list[MemoryRecord]:
        """The live records at ``rows``, in that order."""
        with self._lock:
            found = (self._records[int(r)] for r in rows)
            return [r for r in found if r is not None]

    def ids(self, rows: Iterable[int]) -> list[str | None]:
        """The id of the record at each row (None: deleted)."""
        with self._lock:
            found = (self._records[int(r)] for r in rows)
            return [None if r is None else r.id for r in found]

    def get(self, record_id: str) -> MemoryRecord | None:
        row = self.columns.row_of(record_id)
        return None if row is None else self._records[row]

    def search(
        self,
        query: str | None,
        vector: NDArray[np.floating] | None,
        scope: ScopeFilter,
        limit: int,
        *,
        extra: NDArray[np.bool_] | None = None,
    ) -> Found:
        """The best ``limit`` rows by BM25 and by cosine within ``scope``.

        Either half is skipped when its input is None (or the vector is all zeros).
        ``extra``, a mask over row positions, narrows the scope further.
        """
        if limit < 1:
            raise ValueError(f"limit: must be at least 1, got {limit}")
        with self._lock:
            allowed = self.columns.scope_mask(scope)
            if extra is not None:
                allowed &= extra[: len(allowed)]
            codes = self.columns.scope_codes(scope)
            if codes is None or not allowed.any():
                return self._found(*_empty(), *_empty())
            text = _empty()
            if query is not None:
                text = self.text.search(query, limit=limit, codes=codes, allowed=allowed)
            near = _empty()
            if vector is not None and np.any(vector):
                found = self.vectors.search(vector, limit=limit, allowed=allowed)
                missing = np.setdiff1d(text[0], found[0], assume_unique=True)
                # text hits keep the order they were found in, after the vector hits
                missing = text[0][np.isin(text[0], missing)]
                near = (
                    np.concatenate([found[0], missing]),
                    np.concatenate([found[1], self.vectors.distances(vector, missing)]),
                )
            return self._found(*text, *near)

    def _found(self, text_rows: Rows, bm25: Floats, vector_rows: Rows, distances: Floats) -> Found:
        rows = np.union1d(text_rows, vector_rows)
        records = {int(r): self._records[int(r)] for r in rows}
        return Found(text_rows, bm25, vector_rows, distances,
                     {r: rec for r, rec in records.items() if rec is not None})  # fmt: skip

    def neighbours(self, positions: Iterable[Position], scope: ScopeFilter) -> list[MemoryRecord]:
        """The live turns at ``positions`` that lie within ``scope``, in the order asked."""
        out: list[MemoryRecord] = []
        with self._lock:
            for user, agent, session, seq in positions:
                row = self.columns.turn_at(user, agent, session, seq)
                record = None if row is None else self._records[row]
                if record is not None and scope.owns(record):
                    out.append(record)
        return out
