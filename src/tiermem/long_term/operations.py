"""The operations the orchestrator and the hot index ask of the store (each an `Effect`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..effects import Effect
from ..records import MemoryRecord
from .filter import Filter


@dataclass(frozen=True, slots=True)
class Insert(Effect[int | None]):
    """Append rows; ``written`` stamps them, one for all or one each (default: when
    they are committed)."""

    records: Sequence[MemoryRecord]
    vectors: NDArray[np.float32]
    written: int | Sequence[int] | None = None


@dataclass(frozen=True, slots=True)
class Upsert(Effect[int | None]):
    """Insert or replace rows by id; ``written`` as for `Insert`."""

    records: Sequence[MemoryRecord]
    vectors: NDArray[np.float32]
    written: int | Sequence[int] | None = None


@dataclass(frozen=True, slots=True)
class Version(Effect[int]):
    """The newest version of the table (what another writer may have moved)."""


@dataclass(frozen=True, slots=True)
class Changes(Effect[Any]):
    """(id, written) of the rows and of the deletions written at or after ``since``,
    and the version they were read at: how an index catches up with other writers."""

    since: int


@dataclass(frozen=True, slots=True)
class Take(Effect[list[tuple[MemoryRecord, NDArray[np.float32], int]]]):
    """Rows by id, each as (record, vector, written)."""

    ids: Sequence[str]


@dataclass(frozen=True, slots=True)
class Fetch(Effect[list[MemoryRecord]]):
    scope: Filter
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Search(Effect[tuple[list[tuple[MemoryRecord, float]], list[tuple[MemoryRecord, float]]]]):
    """A full-text (BM25) and a vector search of one scope, run side by side.

    Either half is skipped when its input is None. The result is a pair of lists:
    (record, BM25) best first, and (record, cosine distance) for the vector hits and
    then every text hit the vector half did not return (fusion scores both parts of
    every candidate), as `retrieval.fuse` takes them.
    """

    query: str | None
    vector: NDArray[np.float32] | None
    scope: Filter
    limit: int


@dataclass(frozen=True, slots=True)
class Delete(Effect[int | None]):
    scope: Filter


@dataclass(frozen=True, slots=True)
class Count(Effect[int]):
    scope: Filter


@dataclass(frozen=True, slots=True)
class Optimize(Effect[int]):
    """Compact, refresh indexes, build the ones the table has grown into, drop old versions.

    The result is the number of rows in the table.
    """

    vector_index_rows: int | None = None
    keep_versions_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Export(Effect[list[tuple[MemoryRecord, NDArray[np.float32]]]]):
    """One page of every record with its vector, for a lossless export; with
    ``alive_at``, of the records not expired by then."""

    offset: int
    limit: int
    alive_at: int | None = None


Operation = (
    Insert | Upsert | Fetch | Search | Delete | Count | Optimize | Export | Version | Changes | Take
)
