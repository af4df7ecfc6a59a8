"""`LanceStore`: the store answered through LanceDB's public sync API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.query import LanceQueryBuilder
from numpy.typing import NDArray

from ..effects import drive
from ..errors import SchemaVersionError, StoreError
from ..records import MemoryRecord
from ..write_behind import WriteBehind
from .async_store import _AsyncTables
from .operations import Insert, Operation
from .plan import (
    _FTS,
    _Append,
    _attempt,
    _Compact,
    _CountRows,
    _CreateIndex,
    _DeleteWhere,
    _Freshness,
    _Indexed,
    _Latest,
    _Merge,
    _Read,
    _Reads,
    _Request,
    _Steps,
    _TableVersion,
)
from .rows import (
    _DELETED_SCHEMA,
    _DELETED_TABLE,
    _META_TABLE,
    _READ_COLUMNS,
    SCHEMA_VERSION,
    _matrix,
    _meta_rows,
    _records,
    table_schema,
)
from .tables import (
    _MIGRATIONS,
    _check_meta,
    _failed,
    _indexed_columns,
    _match,
    _retrying,
    _table_names,
    store_error,
)

T = TypeVar("T")


def _session(index_cache_mb: int | None, metadata_cache_mb: int | None) -> lancedb.Session:
    """LanceDB's caches, bounded if asked (by default they grow with every version a
    long run writes). One per store, as LanceDB does by default: a session also holds
    the ``memory://`` object store, which must not be shared between stores.
    """
    mb = 1024 * 1024
    return lancedb.Session(
        index_cache_size_bytes=index_cache_mb * mb if index_cache_mb else None,
        metadata_cache_size_bytes=metadata_cache_mb * mb if metadata_cache_mb else None,
    )


def _sync_read(table: Any, read: _Read) -> pa.Table:
    """A `_Read` through the sync query builder.

    Every call of the sync client is a round trip to LanceDB's loop thread. Built by
    `LanceQueryBuilder.create` rather than `Table.search`, which looks the schema up to
    infer the vector column, and asked for row ids, as otherwise it looks the schema
    up twice more to find blob columns, a query makes three trips instead of six.
    """
    q: Any  # the builder's class depends on the query
    if read.text is not None:
        q = LanceQueryBuilder.create(table, _match(read.text), "fts", "vector")
    elif read.vector is not None:
        q = LanceQueryBuilder.create(table, read.vector, "vector", "vector")
        q = q.distance_type("cosine")
        q = q.bypass_vector_index() if read.flat else q
    else:
        q = LanceQueryBuilder.create(table, None, "auto", "vector")
    q = q.select(list(read.columns)).with_row_id(True)
    q = q.where(read.where, prefilter=not read.postfilter) if read.where else q
    q = q.offset(read.offset) if read.offset else q
    q = q.limit(read.limit)
    # a full-text query has no batches to read; the others' to_arrow would look blob
    # columns up in the schema once more
    return q.to_arrow() if read.text is not None else q.to_batches().read_all()


class LanceStore:
    """Runs operations on a LanceDB table through the synchronous client."""

    def __init__(
        self,
        uri: str,
        *,
        table: str,
        embedder: str,
        dimensions: int,
        storage_options: dict[str, str] | None = None,
        read_consistency_seconds: float | None = 0.0,
        write_behind_seconds: float | None = None,
        index_cache_mb: int | None = None,
        metadata_cache_mb: int | None = None,
    ) -> None:
        self._schema = table_schema(dimensions)
        self.uri = uri
        self.table_name = table
        self.storage_options = storage_options or None
        #: seconds a read may lag other writers; 0: never, None: unbounded
        self.read_consistency_seconds = read_consistency_seconds
        #: appends may commit from a stale version: a local commit cannot overwrite
        #: another (LanceDB renames without replacing); on object storage, catch up first
        self.local = "://" not in uri or uri.startswith(("memory://", "file://"))
        #: rows each scope filter selected, and when that was counted (a size estimate)
        self.scope_rows: dict[str, tuple[int, float]] = {}
        self.vector_index: tuple[bool, float] | None = None
        #: writes this store made through either client: a handle that has seen fewer
        #: catches up before it reads (read your own writes across sync and async calls)
        self.writes = 0
        self._counter = iter(range(1, 2**62))
        self._fresh = _Freshness()
        self._deleted: Any = None
        #: the async client's connection and tables, opened on its first operation
        self.aio = _AsyncTables()
        #: runs the second of two queries asked at once (`_Reads`)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tiermem-read")
        #: LanceDB's caches, shared by the sync and async clients of this store
        self.session = _session(index_cache_mb, metadata_cache_mb)
        try:
            # LanceDB's own interval 0 looks for new versions before every query, three
            # per context; `_attempt` looks once per operation, for the same guarantee
            self._db = lancedb.connect(uri, storage_options=self.storage_options,
                                       session=self.session)  # fmt: skip
            self._table = _retrying(lambda _: self._open(table, embedder, dimensions))
        except (SchemaVersionError, StoreError):
            raise
        except Exception as exc:
            raise store_error(f"cannot open the store at {uri!r}", exc) from exc
        #: opt-in: appends acknowledged at once and committed together (see write_behind)
        self.behind = (
            WriteBehind(self._commit_now, write_behind_seconds) if write_behind_seconds else None
        )

    def _open(self, table: str, embedder: str, dimensions: int) -> Any:
        existing = _table_names(self._db)
        if table in existing and _META_TABLE not in existing:
            # meta is always created first: records without it were written by something else
            raise SchemaVersionError(
                f"the store has a {table!r} table but no {_META_TABLE!r}: it was not written "
                "by this tiermem (or predates schema versions); refusing to mix with it"
            )
        meta = self._db.create_table(
            _META_TABLE, data=_meta_rows(embedder, dimensions), exist_ok=True
        )
        version = _check_meta(meta.search().limit(None).to_arrow().to_pylist(), embedder,
                              dimensions)  # fmt: skip
        opened = (
            self._db.open_table(table)
            if table in existing
            else self._db.create_table(table, schema=self._schema, exist_ok=True)
        )
        missing = set(self._schema.names) - set(opened.schema.names)
        if version == SCHEMA_VERSION and missing:
            raise StoreError(
                f"the {table!r} table has another layout than this tiermem's schema (no "
                f"{', '.join(sorted(missing))}): refusing to write to it"
            )
        if _DELETED_TABLE not in existing:
            self._db.create_table(_DELETED_TABLE, schema=_DELETED_SCHEMA, exist_ok=True)
        if not any(i.index_type == "FTS" for i in opened.list_indices()):
            opened.create_index("text", config=_FTS)
        if version != SCHEMA_VERSION:
            for step in range(version, SCHEMA_VERSION):
                _MIGRATIONS[step](self._db, opened)
            # recorded last: a migration cut short runs again on the next open
            meta.update(where="key = 'schema_version'", values={"value": str(SCHEMA_VERSION)})
        return opened

    def _commit_now(self, records: Sequence[MemoryRecord], vectors: NDArray[np.float32]) -> None:
        self._execute(Insert(records, vectors))

    def run(self, op: Operation) -> Any:
        if self.behind is not None:
            if isinstance(op, Insert):
                self.behind.add(op.records, op.vectors)
                return None
            self.behind.flush()  # read your own writes
        return self._execute(op)

    def _execute(self, op: Operation) -> Any:
        try:
            return _retrying(lambda tries: self._drive(_attempt(self, self._fresh, op, tries)), op)
        except Exception as exc:
            raise _failed(op, self.uri, exc) from exc

    def _drive(self, steps: _Steps[T]) -> T:
        return drive(steps, self._io)

    def _io(self, request: _Request) -> Any:
        t = self.table
        match request:
            case _Read(deleted=deleted):
                return _sync_read(self._deletions() if deleted else t, request)
            case _Reads((first, *rest)):
                others = [self._pool.submit(self._io, read) for read in rest]
                return [self._io(first), *(other.result() for other in others)]
            case _Reads(()):
                return []
            case _CountRows(where):
                return t.count_rows(where)
            case _Indexed():
                return _indexed_columns(t.list_indices())
            case _Latest(deleted):
                (self._deletions() if deleted else t).checkout_latest()
            case _TableVersion():
                return t.version
            case _Append(data, deleted):
                return (self._deletions() if deleted else t).add(data).version
            case _Merge(data):
                merge = t.merge_insert("id").when_matched_update_all()
                return merge.when_not_matched_insert_all().execute(data).version
            case _DeleteWhere(where):
                return t.delete(where).version
            case _Compact(keep):
                t.optimize(cleanup_older_than=keep)
            case _CreateIndex(column, config):
                t.create_index(column, config=config)
        return None

    def _deletions(self) -> Any:
        if self._deleted is None:
            self._deleted = self._db.open_table(_DELETED_TABLE)
        return self._deleted

    def wrote(self, fresh: _Freshness) -> None:
        """Count a write made through the handle ``fresh`` describes, which has seen it."""
        current = fresh.writes == self.writes
        self.writes = next(self._counter)  # atomic under the GIL, unlike += 1
        if current:
            fresh.writes = self.writes

    @property
    def checked(self) -> float:
        """When the sync table last caught up with the newest version (monotonic seconds)."""
        return self._fresh.checked

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def table(self) -> Any:
        """The records table (`lancedb.table.Table`)."""
        if self._table is None:
            # the sync client has no close of its own: its handles are dropped instead
            raise StoreError(f"the store at {self.uri!r} is closed: open a new TieredMemory")
        return self._table

    @property
    def connection(self) -> Any:
        """The store's connection (`lancedb.DBConnection`)."""
        return self._db

    def close(self) -> None:
        if self.behind is not None:
            self.behind.close()
        self._pool.shutdown()
        self.aio.close()
        self._table = self._deleted = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """A slice of the table as an index loads it: records, their vectors (one matrix)
    and when each was written."""

    records: list[MemoryRecord]
    vectors: NDArray[np.float32]
    written: list[int]


def load_all(store: LanceStore, *, slice_rows: int = 20_000) -> tuple[int, Iterator[Loaded]]:
    """The table's version and every row, in slices: records are made a slice at a time,
    so loading never holds the whole table twice over."""
    table = store.table
    table.checkout_latest()
    version = int(table.version)
    columns = [*_READ_COLUMNS, "vector", "written"]
    rows = table.search().select(columns).limit(None).to_arrow()

    def slices() -> Iterator[Loaded]:
        for start in range(0, rows.num_rows, slice_rows):
            part = rows.slice(start, slice_rows)
            written = [int(w or 0) for w in part.column("written").to_pylist()]
            yield Loaded(_records(part), _matrix(part), written)

    return version, slices()


def read_meta(connection: Any) -> dict[str, str]:
    """The store's meta rows (schema version, embedder), read through a sync connection."""
    rows = connection.open_table(_META_TABLE).search().limit(None).to_arrow().to_pylist()
    return {str(row["key"]): str(row["value"]) for row in rows}
