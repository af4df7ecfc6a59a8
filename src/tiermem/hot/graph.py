"""The HNSW graph's keys, and the graph kept as a side file between runs.

A graph built in this process keys each row by its position. Positions are this
process's own (rows are numbered in the order they were loaded), so a graph saved by
one process is saved with the record id of every key, and a process that restores it
maps those ids to its own rows; rows it adds later are keyed past the largest saved
key. The graph only proposes candidates: they are re-ranked exactly and filtered by
scope over this process's rows, so a stale graph costs recall, never correctness.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from usearch.index import Index as HnswIndex

__all__ = ["GraphKeys", "load_graph", "save_graph"]

Rows = NDArray[np.int64]
Keys = NDArray[np.uint64]

_FORMAT = 1
_GRAPH = ".usearch"
_IDS = ".ids.json"
_META = "meta.json"


def _no_rows() -> Rows:
    return np.zeros(0, np.int64)


@dataclass(frozen=True, slots=True)
class GraphKeys:
    """Rows to graph keys and back: the identity, unless the graph was restored."""

    #: keys of rows not in the restored graph start here
    offset: int = 0
    #: the restored graph's keys, sorted, and the row of each (-1: no longer here)
    saved: Rows = field(default_factory=_no_rows)
    saved_rows: Rows = field(default_factory=_no_rows)
    #: the restored key of each row when restored (-1: none)
    key_of_row: Rows = field(default_factory=_no_rows)

    def keys(self, rows: Rows) -> Keys:
        """The graph key of each row."""
        keys = rows + self.offset
        inside = rows < len(self.key_of_row)
        if inside.any():
            restored = self.key_of_row[rows[inside]]
            keys[inside] = np.where(restored >= 0, restored, keys[inside])
        return keys.astype(np.uint64)

    def rows(self, keys: Keys) -> Rows:
        """The row of each graph key (-1: a key whose record is gone)."""
        signed: Rows = np.asarray(keys, dtype=np.int64)
        rows = signed - self.offset
        old = signed < self.offset
        if old.any() and len(self.saved):
            at = np.minimum(np.searchsorted(self.saved, signed[old]), len(self.saved) - 1)
            rows[old] = np.where(self.saved[at] == signed[old], self.saved_rows[at], -1)
        elif old.any():
            rows[old] = -1
        return rows


def save_graph(
    folder: Path, graph: HnswIndex, keys: GraphKeys, ids_of: Callable[[Rows], Sequence[str | None]]
) -> None:
    """Write ``graph`` and the record id of each of its keys into ``folder``.

    Each save writes new files and then points ``meta.json`` at them in one atomic
    replace, so processes saving at once never mix one's graph with another's ids.
    """
    all_keys = np.asarray(graph.keys, dtype=np.uint64)
    rows = keys.rows(all_keys)
    ids = ids_of(np.maximum(rows, 0))
    pairs = [[int(k), i] for k, r, i in zip(all_keys, rows, ids, strict=True) if r >= 0 and i]
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    graph.save(str(folder / f"{token}{_GRAPH}"))
    (folder / f"{token}{_IDS}").write_text(json.dumps(pairs), encoding="utf-8")
    meta = {"format": _FORMAT, "dimensions": int(graph.ndim), "keys": len(pairs), "token": token}
    staged = folder / f"{token}{_META}"
    staged.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(staged, folder / _META)
    for stale in folder.iterdir():
        if stale.name != _META and not stale.name.startswith(token):
            stale.unlink(missing_ok=True)


def load_graph(
    folder: Path, dimensions: int, row_of: Callable[[str], int | None], rows: int
) -> tuple[HnswIndex, GraphKeys] | None:
    """The graph saved in ``folder`` with its keys mapped to this process's ``rows``;
    None when there is none, or it was saved for other vectors or another format."""
    from usearch.index import Index

    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT or meta.get("dimensions") != dimensions:
            return None
        token = str(meta["token"])
        pairs = json.loads((folder / f"{token}{_IDS}").read_text(encoding="utf-8"))
        graph = Index.restore(str(folder / f"{token}{_GRAPH}"))
    except (OSError, ValueError, KeyError, RuntimeError):
        return None  # missing, torn or unreadable: build anew
    if graph is None or graph.ndim != dimensions:
        return None
    saved = np.asarray([k for k, _ in pairs], dtype=np.int64)
    found = [row_of(i) for _, i in pairs]
    saved_rows = np.asarray([-1 if r is None else r for r in found], dtype=np.int64)
    order = np.argsort(saved, kind="stable")
    saved, saved_rows = saved[order], saved_rows[order]
    graph_keys = np.asarray(graph.keys, dtype=np.int64)
    offset = int(max(graph_keys.max(initial=-1), saved.max(initial=-1))) + 1
    key_of_row = np.full(max(rows, int(saved_rows.max(initial=-1)) + 1), -1, np.int64)
    here = saved_rows >= 0
    key_of_row[saved_rows[here]] = saved[here]
    return graph, GraphKeys(offset, saved, saved_rows, key_of_row)
