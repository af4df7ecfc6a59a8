"""What an operation asks of LanceDB: one generator per operation, shared by both clients.

It yields small requests (`_Read`, `_Append`, ...) and is sent their answers, so filters,
plans and reading results back are written once and the two clients cannot drift apart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
from lancedb.index import FTS
from numpy.typing import NDArray

from ..records import MemoryRecord
from .filter import _ALIVE_CLAUSE, Filter
from .operations import (
    Changes,
    Count,
    Delete,
    Export,
    Fetch,
    Insert,
    Operation,
    Optimize,
    Search,
    Take,
    Upsert,
    Version,
)
from .rows import (
    _DELETED_SCHEMA,
    _READ_COLUMNS,
    _records,
    _scored,
    _scored_with_vectors,
    _search_result,
    _to_table,
    _with_vectors,
    stamp,
)
from .tables import _missing_indexes

if TYPE_CHECKING:
    from .store import LanceStore  # the stores import this module

T = TypeVar("T")

_FTS = FTS(with_position=False, stem=True, remove_stop_words=True, language="English")
#: a filtered vector search over at most this many rows scans them instead of the index
_FLAT_ROWS = 20_000
#: share of the table a filter keeps from which it is applied to the hits, not first
_POSTFILTER_SHARE = 0.5
_SCOPE_ROWS_SECONDS = 60.0
_SCOPE_ROWS_CACHE = 10_000


# Each operation is a generator (`_steps`) that yields these requests and is sent their
# answers; a client answers each in a few lines of its own API (`LanceStore._io`,
# `AsyncLanceStore._io`), so every decision is made once, for both.


@dataclass(frozen=True, slots=True)
class _Read:
    """One query, as data: a scan, a BM25 search (``text``) or a vector search."""

    columns: Sequence[str]
    where: str | None = None
    limit: int | None = None
    offset: int = 0
    text: str | None = None
    vector: NDArray[np.float32] | None = None
    #: filter the hits, not the rows first
    postfilter: bool = False
    #: scan every row that passes the filter instead of using the vector index
    flat: bool = False
    #: on the table of deletions, not of records
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class _Reads:
    """Queries run at once (each waits on I/O and LanceDB's threads in turn): their tables."""

    reads: tuple[_Read, ...]


@dataclass(frozen=True, slots=True)
class _CountRows:
    """Rows a filter selects (None: the table's)."""

    where: str | None = None


@dataclass(frozen=True, slots=True)
class _Indexed:
    """The columns that have an index."""


@dataclass(frozen=True, slots=True)
class _Latest:
    """Catch up with the newest version of a table."""

    deleted: bool = False


@dataclass(frozen=True, slots=True)
class _TableVersion:
    """The version the table handle is on."""


@dataclass(frozen=True, slots=True)
class _Append:
    """Add rows; the answer is the new version."""

    data: pa.Table
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class _Merge:
    """Insert or replace rows by id; the answer is the new version."""

    data: pa.Table


@dataclass(frozen=True, slots=True)
class _DeleteWhere:
    """Delete the rows a filter selects; the answer is the new version."""

    where: str


@dataclass(frozen=True, slots=True)
class _Compact:
    """Compact the files, then drop versions older than ``keep`` (None: LanceDB's default)."""

    keep: timedelta | None


@dataclass(frozen=True, slots=True)
class _CreateIndex:
    """Build one index; ``config`` is one of `lancedb.index`'s."""

    column: str
    config: Any


_Request = (
    _Read | _Reads | _CountRows | _Indexed | _Latest | _TableVersion | _Append | _Merge
    | _DeleteWhere | _Compact | _CreateIndex
)  # fmt: skip
_Steps = Generator[_Request, Any, T]


@dataclass(slots=True)
class _Freshness:
    """How current one client's table handle is: when it last caught up with other
    writers, and how many of this store's writes (by either client) it has seen."""

    checked: float = -math.inf
    writes: int = 0


def _attempt(store: LanceStore, fresh: _Freshness, op: Operation, tries: int) -> _Steps[Any]:
    """One try at ``op``: catch up when reads must see other writers, then run it."""
    interval = store.read_consistency_seconds
    now = time.monotonic()
    may_lag = interval is None or (interval > 0 and now - fresh.checked < interval)
    # a local append commits on top of the newest version whatever this handle has seen
    appending = isinstance(op, Insert) and store.local
    seen = store.writes
    if tries > 1 or not (appending or (may_lag and fresh.writes == seen)):
        yield _Latest()
        fresh.checked, fresh.writes = now, max(fresh.writes, seen)
    result = yield from _steps(store, fresh, op)
    if isinstance(op, Insert | Upsert | Delete | Optimize):
        store.wrote(fresh)
    return result


def _steps(store: LanceStore, fresh: _Freshness, op: Operation) -> _Steps[Any]:
    match op:
        case Insert(records, vectors, written):
            if not records:
                return None
            return (yield _Append(_to_table(records, vectors, store.schema, written)))
        case Upsert(records, vectors, written):
            return (yield _Merge(_to_table(records, vectors, store.schema, written)))
        case Version():
            seen = store.writes
            yield _Latest()
            fresh.checked, fresh.writes = time.monotonic(), max(fresh.writes, seen)
            return int((yield _TableVersion()))
        case Changes(since):
            return (yield from _changes(since))
        case Take(ids):
            table = yield _Read(
                [*_READ_COLUMNS, "vector", "written"], Filter(ids=tuple(ids)).where()
            )
            written = table.column("written").to_pylist()
            return [(r, v, int(w or 0)) for (r, v), w in zip(_with_vectors(table), written,
                                                               strict=True)]  # fmt: skip
        case Fetch(scope, limit):
            return _records((yield _Read(_READ_COLUMNS, scope.where(), limit)))
        case Search(query, vector, scope, limit):
            return (yield from _search(store, query, vector, scope, limit))
        case Delete(scope):
            return (yield from _delete(scope))
        case Count(scope):
            return (yield _CountRows(scope.where()))
        case Optimize(vector_index_rows, keep_versions_seconds):
            # old versions are files that every strong read lists: keep only recent ones
            keep = keep_versions_seconds
            yield _Compact(timedelta(seconds=keep) if keep else None)
            existing = yield _Indexed()
            rows = yield _CountRows()
            for column, config in _missing_indexes(existing, rows, vector_index_rows):
                yield _CreateIndex(column, config)
            return rows
        case Export(offset, limit, alive_at):
            where = Filter(alive_at=alive_at).where()
            return _with_vectors((yield _Read([*_READ_COLUMNS, "vector"], where, limit, offset)))
    raise TypeError(f"unknown operation {op!r}")


def _search(
    store: LanceStore,
    query: str | None,
    vector: NDArray[np.float32] | None,
    scope: Filter,
    limit: int,
) -> _Steps[tuple[list[tuple[MemoryRecord, float]], list[tuple[MemoryRecord, float]]]]:
    where = scope.where()
    plans: list[tuple[_Read, _Read | None]] = []
    if query is not None:
        text = _Read([*_READ_COLUMNS, "vector", "_score"], text=query)
        plans.append((yield from _plan(store, text, where, limit)))
    if vector is not None:
        plans.append((yield from _nearest_plan(store, vector, where, limit)))
    found = yield _Reads(tuple(first for first, _ in plans))
    tables: list[pa.Table] = []
    for (_, fallback), table in zip(plans, found, strict=True):
        if fallback is None:
            tables.append(table)
        else:
            # too few hits passed the filter applied to them: apply it first after all
            tables.append(table.slice(0, limit) if table.num_rows >= limit else (yield fallback))
    text_table = tables.pop(0) if query is not None else None
    return _search_result(
        _scored_with_vectors(text_table, "_score") if text_table is not None else [],
        _scored(tables[0], "_distance") if vector is not None else [],
        vector,
    )


def _nearest_plan(
    store: LanceStore, vector: NDArray[np.float32], where: str | None, limit: int
) -> _Steps[tuple[_Read, _Read | None]]:
    read = _Read([*_READ_COLUMNS, "_distance"], vector=vector)
    indexed = bool(where) and (yield from _vector_indexed(store))
    if indexed and (yield from _rows_within(store, where)) <= _FLAT_ROWS:
        # a user's thousand rows of a million: exact and 3x faster than the index
        return replace(read, where=where, limit=limit, flat=True), None
    return (yield from _plan(store, read, where, limit))


def _plan(
    store: LanceStore, search: _Read, where: str | None, limit: int
) -> _Steps[tuple[_Read, _Read | None]]:
    """The read of the best ``limit`` hits within ``where``, and the one to make if the
    first applied the filter to the hits and too few passed (None: it did not).

    A filter that keeps most rows (a whole agent) costs more to apply first, as a
    mask of every row, than to apply to a few more hits than asked: those are taken
    when enough of them pass, and the filter goes first again when they do not.
    """
    first = replace(search, where=where, limit=limit)
    # a table small enough to have no vector index masks its rows fast: no counting
    if where is None or not (yield from _vector_indexed(store)):
        return first, None
    rows = yield from _rows_within(store, None)
    share = (yield from _rows_within(store, where)) / max(rows, 1)
    if rows > _FLAT_ROWS and share >= _POSTFILTER_SHARE:
        wanted = math.ceil(limit / share * 1.25) + 10
        return replace(first, limit=wanted, postfilter=True), first
    return first, None


def _vector_indexed(store: LanceStore) -> _Steps[bool]:
    """Whether the table has a vector index, looked up at most once a minute."""
    now = time.monotonic()
    known = store.vector_index
    if known is None or now - known[1] >= _SCOPE_ROWS_SECONDS:
        known = store.vector_index = ("vector" in (yield _Indexed()), now)
    return known[0]


def _rows_within(store: LanceStore, where: str | None) -> _Steps[int]:
    """Rows a filter (None: the table) selects, counted at most once a minute."""
    sizes = store.scope_rows
    now = time.monotonic()
    # an estimate: the clock in the expiry clause would make every key new
    key = _ALIVE_CLAUSE.sub("", where) if where else ""
    known = sizes.get(key)
    if known is not None and now - known[1] < _SCOPE_ROWS_SECONDS:
        return known[0]
    rows = int((yield _CountRows(where)))
    if len(sizes) >= _SCOPE_ROWS_CACHE:
        sizes.clear()
    sizes[key] = (rows, now)
    return rows


def _changes(since: int) -> _Steps[tuple[int, list[tuple[str, int]], list[tuple[str, int]]]]:
    version = int((yield _TableVersion()))
    where = f"written >= {int(since)}"
    rows = (yield _Read(["id", "written"], where)).to_pydict()
    yield _Latest(deleted=True)
    gone = (yield _Read(["id", "written"], where, deleted=True)).to_pydict()
    return (
        version,
        list(zip(rows["id"], rows["written"], strict=True)),
        list(zip(gone["id"], gone["written"], strict=True)),
    )


def _delete(scope: Filter) -> _Steps[int]:
    where = scope.where()
    if where is None:
        raise ValueError("refusing to delete without a filter")
    gone = (yield _Read(["id"], where)).column("id")
    if not len(gone):
        return int((yield _TableVersion()))  # nothing to delete: no new version
    version = int((yield _DeleteWhere(where)))
    # recorded after the delete: another index never drops a row still here
    tombstones = pa.table({"id": gone, "written": [stamp()] * len(gone)}, schema=_DELETED_SCHEMA)
    yield _Append(tombstones, deleted=True)
    return version
