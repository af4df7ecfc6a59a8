"""Cosine nearest rows: exact numpy for small candidate sets, usearch HNSW (f16) above.

Vectors are kept unit length in one float32 matrix indexed by row position; that
matrix answers exact searches and re-ranks what HNSW proposes, so an approximate
search returns exact distances and misses only rows the graph did not reach. HNSW
is built once the live rows pass ``hnsw_rows`` (below that an exact product costs
about the same), and a scope too small a share of the rows for a post-filtered
graph search is searched exactly over its own rows.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .graph import GraphKeys, save_graph

if TYPE_CHECKING:
    from usearch.index import Index as HnswIndex

__all__ = ["DEFAULT_HNSW_ROWS", "VectorIndex"]

logger = logging.getLogger("tiermem.hot")

#: Live rows from which a graph is built and used (measured: benchmarks/hot_floor.py).
DEFAULT_HNSW_ROWS = 50_000
#: Graph neighbours per node and search depths: measured on clustered chat turns at 20k,
#: recall of the exact top 160 was 0.955 at these, 0.88 at a search depth of 256
_CONNECTIVITY = 16
_EXPANSION_ADD = 256
_EXPANSION_SEARCH = 512
#: Graph candidates per wanted row, re-ranked exactly.
_OVERSAMPLE = 2
#: Above this many graph candidates a filtered search is cheaper done exactly.
_MAX_GRAPH_CANDIDATES = 4_096
_BATCH_ROWS = 64
#: rows a background build adds between looks at whether it should stop
_BUILD_SLICE = 512


class _StoppedError(Exception):
    """A background build was told to stop."""


#: indexes building a graph now: stopped before the interpreter exits, as a native
#: build thread still running then aborts the process
_BUILDING: weakref.WeakSet[VectorIndex] = weakref.WeakSet()


@atexit.register
def _stop_builds() -> None:
    for index in list(_BUILDING):
        index.close()


Rows = NDArray[np.int64]
Mask = NDArray[np.bool_]
Floats = NDArray[np.float32]


def _unit(vectors: NDArray[np.floating], dimensions: int) -> Floats:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, dimensions)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # a zero vector stays zero: it scores 0 against everything, as the embedders intend
    unit: Floats = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def _dot(matrix: Floats, query: Floats) -> Floats:
    """``matrix @ query`` on this thread: a threaded BLAS product for one query waits on
    its other threads, and on a shared 2-core machine (load 8) it took 11 to 24 ms at
    20k rows against 7 ms for this loop."""
    product: Floats = np.einsum("ij,j->i", matrix, query)
    return product


def _top(rows: Rows, similarities: Floats, limit: int) -> tuple[Rows, Floats]:
    """The ``limit`` most similar rows, best first (ties by row), as cosine distances."""
    if len(rows) > limit:
        keep = np.argpartition(-similarities, limit - 1)[:limit]
        rows, similarities = rows[keep], similarities[keep]
    order = np.lexsort((rows, -similarities))
    return rows[order], (1.0 - similarities[order]).astype(np.float32)


class VectorIndex:
    """Rows' vectors by position; search within a mask of allowed rows.

    Args:
        dimensions: length of every vector.
        hnsw_rows: live rows from which the graph is used; None never builds one.
    """

    def __init__(
        self,
        dimensions: int,
        *,
        hnsw_rows: int | None = DEFAULT_HNSW_ROWS,
        background: bool = False,
    ) -> None:
        if dimensions < 1:
            raise ValueError(f"dimensions: must be positive, got {dimensions}")
        self.dimensions = dimensions
        self.hnsw_rows = hnsw_rows
        #: build the graph on a thread while exact search serves (35 s at 100k rows)
        self.background = background
        self._building: threading.Thread | None = None
        self._stop = threading.Event()
        self._keys = GraphKeys()
        self._graph_changed = False  # since it was restored or saved
        #: a graph to start from instead of building one (a side file), if any
        self.seed: Callable[[], tuple[HnswIndex, GraphKeys] | None] | None = None
        self._matrix: Floats = np.zeros((0, dimensions), np.float32)
        self._live: Mask = np.zeros(0, np.bool_)
        self._size = 0
        self._graph: HnswIndex | None = None
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._size

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self._live[: self._size]))

    @property
    def has_graph(self) -> bool:
        return self._graph is not None

    def add(self, rows: Rows, vectors: NDArray[np.floating]) -> None:
        """Store ``vectors`` at ``rows`` (positions at or after every row seen so far)."""
        unit = _unit(vectors, self.dimensions)
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) != len(unit):
            raise ValueError(f"vectors: must hold one vector per row ({len(rows)})")
        if not len(rows):
            return
        with self._lock:
            end = int(rows.max()) + 1
            self._reserve(end)
            self._matrix[rows] = unit
            self._live[rows] = True
            self._size = max(self._size, end)
            if self._graph is not None:
                # a batch is bulk work for every core; one row is not worth a thread pool
                threads = 0 if len(rows) > _BATCH_ROWS else 1
                self._graph.add(self._keys.keys(rows), unit, threads=threads)
                self._graph_changed = True
            elif self.hnsw_rows is not None and self.live_count >= self.hnsw_rows:
                if not self.background:
                    self.build_graph()
                elif self._building is None:
                    self._building = threading.Thread(
                        target=self._build_beside, name="tiermem-graph", daemon=True
                    )
                    self._building.start()

    def _reserve(self, size: int) -> None:
        if size <= len(self._matrix):
            return
        capacity = max(size, 2 * len(self._matrix), 1024)
        matrix = np.zeros((capacity, self.dimensions), np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        live = np.zeros(capacity, np.bool_)
        live[: self._size] = self._live[: self._size]
        self._matrix, self._live = matrix, live

    def delete(self, rows: Rows) -> None:
        """Rows deleted now: no search returns them from this call on."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[rows < self._size]
        with self._lock:
            self._live[rows] = False
            if self._graph is not None and len(rows):
                self._graph.remove(self._keys.keys(rows))
                self._graph_changed = True

    def build_graph(self) -> None:
        """Index every live row in an HNSW graph (f16), replacing any graph there was."""
        with self._lock:
            graph = self._new_graph()
            rows = np.flatnonzero(self._live[: self._size])
            if len(rows):
                graph.add(rows.astype(np.uint64), self._matrix[rows], threads=0)
            self._graph, self._keys = graph, GraphKeys()
            self._graph_changed = True

    def wait_graph(self, timeout: float | None = None) -> bool:
        """Wait for a graph being built in the background; whether one is in use."""
        building = self._building
        if building is not None:
            building.join(timeout)
        return self._graph is not None

    def _new_graph(self) -> HnswIndex:
        from usearch.index import Index

        return Index(
            ndim=self.dimensions, metric="cos", dtype="f16", connectivity=_CONNECTIVITY,
            expansion_add=_EXPANSION_ADD, expansion_search=_EXPANSION_SEARCH, multi=False,
        )  # fmt: skip

    def _build_beside(self) -> None:
        _BUILDING.add(self)
        try:
            start = self.seed() if self.seed is not None else None
            graph, keys, built, changed = self._build(self._snapshot(), start)
            built = self._add_since(graph, keys, built)
            self._swap_in(graph, keys, built, changed)
        except _StoppedError:
            pass
        except Exception as exc:  # exact search goes on serving: slower, still right
            logger.warning("the vector graph could not be built: %s", exc)
        finally:
            _BUILDING.discard(self)

    def _snapshot(self) -> tuple[Floats, Rows]:
        """The matrix and its live rows as of now: rows never change once written, so
        the graph can be built from them without the lock."""
        with self._lock:
            return self._matrix, np.flatnonzero(self._live[: self._size])

    def _build(
        self, snapshot: tuple[Floats, Rows], start: tuple[HnswIndex, GraphKeys] | None = None
    ) -> tuple[HnswIndex, GraphKeys, Rows, bool]:
        """A graph of the snapshot's live rows: ``start`` (a restored graph) with what it
        lacks and without what it should not have, or a new one. Also the rows it holds
        and whether it differs from ``start``."""
        matrix, live = snapshot
        graph, keys = start if start is not None else (self._new_graph(), GraphKeys())
        alive = np.zeros(len(live) and int(live[-1]) + 1, np.bool_)
        alive[live] = True
        restored = keys.saved_rows[keys.saved_rows >= 0]
        restored = restored[restored < len(alive)]
        restored = restored[alive[restored]]
        stray = np.setdiff1d(np.asarray(graph.keys, dtype=np.int64), keys.keys(restored))
        if len(stray):
            graph.remove(stray.astype(np.uint64))
        alive[restored] = False
        rows = np.flatnonzero(alive)
        self._add_in_slices(graph, keys, rows, matrix)
        changed = start is None or bool(len(stray) or len(rows))
        return graph, keys, np.concatenate([restored, rows]), changed

    def _add_in_slices(self, graph: HnswIndex, keys: GraphKeys, rows: Rows, matrix: Floats) -> None:
        # in slices, one thread: the other core keeps serving, and a close need not
        # wait for the whole build (nor may the process exit inside one)
        for first in range(0, len(rows), _BUILD_SLICE):
            if self._stop.is_set():
                raise _StoppedError
            part = rows[first : first + _BUILD_SLICE]
            graph.add(keys.keys(part), matrix[part], threads=1)

    def _not_in(self, built: Rows) -> Rows:
        """Live rows that are not among ``built`` (call with the lock held)."""
        missing = self._live[: self._size].copy()
        missing[built] = False
        return np.flatnonzero(missing)

    def close(self) -> None:
        """Stop a graph being built in the background, waiting at most for one slice."""
        self._stop.set()
        building = self._building
        if building is not None and building.is_alive():
            building.join()

    def _add_since(self, graph: HnswIndex, keys: GraphKeys, built: Rows) -> Rows:
        """Rows written while the graph was built, added outside the lock until few are
        left: the swap adds those under it, and 40k rows there stopped searches for 14 s."""
        while True:
            with self._lock:
                since, matrix = self._not_in(built), self._matrix
            if len(since) <= _BUILD_SLICE:
                return built
            self._add_in_slices(graph, keys, since, matrix)
            built = np.concatenate([built, since])

    def _swap_in(self, graph: HnswIndex, keys: GraphKeys, built: Rows, changed: bool) -> None:
        """Use ``graph`` from now on, with what was written and deleted while it was built."""
        with self._lock:
            gone = built[~self._live[built]]
            if len(gone):
                graph.remove(keys.keys(gone))
            since = self._not_in(built)
            if len(since):
                graph.add(keys.keys(since), self._matrix[since], threads=0)
            self._graph, self._keys = graph, keys
            self._graph_changed = changed or bool(len(gone) or len(since))

    def save_graph(self, folder: Path, ids_of: Callable[[Rows], Sequence[str | None]]) -> bool:
        """Keep the graph in ``folder`` for the next process (see `graph`), unless it is
        unchanged since it was restored from there; whether it was written."""
        with self._lock:
            if self._graph is None or not self._graph_changed:
                return False
            save_graph(folder, self._graph, self._keys, ids_of)
            self._graph_changed = False
            return True

    def distances(self, vector: NDArray[np.floating], rows: Rows) -> Floats:
        """Exact cosine distances from ``vector`` to ``rows``."""
        query = _unit(vector, self.dimensions)[0]
        found = 1.0 - _dot(self._matrix[np.asarray(rows, dtype=np.int64)], query)
        return found.astype(np.float32)

    def search(
        self, vector: NDArray[np.floating], *, limit: int, allowed: Mask | None = None
    ) -> tuple[Rows, Floats]:
        """The ``limit`` live rows nearest ``vector`` within ``allowed``, with cosine distances."""
        query = _unit(vector, self.dimensions)[0]
        with self._lock:
            mask = self._live[: self._size].copy()
            if allowed is not None:
                mask[len(allowed) :] = False
                mask[: len(allowed)] &= allowed[: self._size]
            wanted = int(np.count_nonzero(mask))
            if limit < 1 or wanted == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            if self._graph is not None:
                found = self._graph_search(query, limit, mask, wanted)
                if found is not None:
                    return found
            return self._exact(query, limit, mask, wanted)

    def _exact(self, query: Floats, limit: int, mask: Mask, wanted: int) -> tuple[Rows, Floats]:
        if wanted * 2 >= self._size:
            # most rows: one product over the contiguous matrix beats gathering them
            similarities = _dot(self._matrix[: self._size], query)
            rows = np.flatnonzero(mask)
            return _top(rows, similarities[rows], limit)
        rows = np.flatnonzero(mask)
        return _top(rows, _dot(self._matrix[rows], query), limit)

    def _graph_search(
        self, query: Floats, limit: int, mask: Mask, wanted: int
    ) -> tuple[Rows, Floats] | None:
        """Graph candidates within ``mask``, re-ranked exactly; None when exact is better."""
        assert self._graph is not None
        if self.hnsw_rows is not None and wanted < self.hnsw_rows:
            return None  # a small scope: exact over its own rows is as fast and exact
        share = wanted / max(self.live_count, 1)
        count = math.ceil(limit * _OVERSAMPLE / share)
        if count > _MAX_GRAPH_CANDIDATES:
            return None
        # the stub types this property read-only; usearch defines its setter
        self._graph.expansion_search = max(_EXPANSION_SEARCH, count)  # type: ignore[misc]
        matches = self._graph.search(query, count, threads=1)
        rows = self._keys.rows(np.asarray(matches.keys, dtype=np.uint64))
        rows = rows[(rows >= 0) & (rows < self._size)]
        rows = rows[mask[rows]]
        if len(rows) < min(limit, wanted):
            return None  # the filter left too few: the exact search will not
        return _top(rows, _dot(self._matrix[rows], query), limit)
