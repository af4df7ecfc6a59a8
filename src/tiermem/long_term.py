"""The long-term tier: every record in one LanceDB table, sync and async.

The orchestrator describes what it needs as small operations (`Insert`, `Fetch`,
`TextSearch`, ...); `LanceStore` runs them on `lancedb.connect`, `AsyncLanceStore`
on `lancedb.connect_async`. The logic that builds rows and filters and reads
results back is shared, so the two cannot drift apart.

Scope filters compare SHA-256 digests of the ids, never the ids themselves: an id
holding quotes or filter syntax cannot widen a search, whatever the SQL parser does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .effects import Effect
from .errors import SchemaVersionError, StoreError
from .records import Kind, MemoryRecord, Owner
from .write_behind import WriteBehind

# LanceDB's Rust logger reads this once, as its module loads, and prints warnings with
# its own source paths on stderr: a library stays quiet unless its user asks otherwise
os.environ.setdefault("LANCEDB_LOG", "error")

import lancedb
from lancedb.background_loop import LOOP
from lancedb.index import FTS, Bitmap, BTree, IvfHnswSq
from lancedb.query import MatchQuery

__all__ = [
    "SCHEMA_VERSION",
    "AsyncLanceStore",
    "Changes",
    "Count",
    "Delete",
    "Export",
    "Fetch",
    "Insert",
    "LanceStore",
    "Loaded",
    "Operation",
    "Optimize",
    "Scope",
    "Search",
    "Take",
    "TextSearch",
    "Upsert",
    "VectorSearch",
    "Version",
    "load_all",
    "read_meta",
    "scope_key",
    "stamp",
    "stored_embedder",
]

T = TypeVar("T")

#: Bumped whenever the table layout or its meaning changes; a store of another version
#: is refused, except the older ones listed in `_MIGRATIONS`, which are migrated on open.
#: 2: windows and summaries belong to the whole (user, agent, session) triple.
#: 3: each row says when it was written, and deletions are recorded, so that another
#: process's in-process index can catch up with what changed; memories may expire,
#: and turns may be pinned.
SCHEMA_VERSION = 3
_META_TABLE = "tiermem_meta"
#: ids deleted and when: what other processes' indexes must drop
_DELETED_TABLE = "tiermem_deleted"
_DELETED_SCHEMA = pa.schema(
    [pa.field("id", pa.string(), nullable=False), pa.field("written", pa.int64(), nullable=False)]
)
_READ_COLUMNS = [
    "id", "kind", "text", "role", "session_id", "user_id", "agent_id", "timestamp",
    "seq", "importance", "tags", "metadata", "covers", "tokens", "expires_at", "pinned",
]  # fmt: skip


class _Clock:
    """Microseconds since the epoch, strictly increasing within this process."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(time.time_ns() // 1000, self._last + 1)
            return self._last


#: when a row is written: what another process's index catches up from
stamp = _Clock()


def scope_key(value: str) -> str:
    """The digest stored beside an id and compared in filters."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def table_schema(dimensions: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("role", pa.string()),
            pa.field("session_id", pa.string()),
            pa.field("user_id", pa.string()),
            pa.field("agent_id", pa.string()),
            pa.field("session_key", pa.string()),
            pa.field("user_key", pa.string()),
            pa.field("agent_key", pa.string()),
            pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("importance", pa.float32(), nullable=False),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("tag_keys", pa.list_(pa.string())),
            pa.field("metadata", pa.string()),
            pa.field("covers", pa.list_(pa.string())),
            pa.field("tokens", pa.int32(), nullable=False),
            # microseconds since the epoch when the row was acknowledged (0: before schema 3)
            pa.field("written", pa.int64()),
            # when a record stops being seen (NULL: never)
            pa.field("expires_at", pa.timestamp("us", tz="UTC")),
            pa.field("pinned", pa.bool_()),
            pa.field("vector", pa.list_(pa.float32(), dimensions)),
        ]
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """Which records an operation may see. None means "not restricted on this id",
    unless ``exact``: then None matches only records without that id, as a window's
    scope must (an anonymous session is not everyone's session)."""

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    kinds: tuple[Kind, ...] = ()
    tags: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    after_seq: int | None = None
    turns_at: tuple[tuple[Owner, int], ...] = ()  # (owner, seq) of turns
    exact: bool = False
    #: microseconds since the epoch: only records not expired by then
    alive_at: int | None = None
    #: microseconds since the epoch: only records expired by then
    expired_at: int | None = None
    #: microseconds since the epoch: only records whose timestamp is earlier
    before: int | None = None
    pinned: bool | None = None

    @classmethod
    def of(cls, owner: Owner, **more: Any) -> Scope:
        """Exactly one owner's records: what a window and its summaries are built from."""
        user_id, agent_id, session_id = owner
        return cls(user_id=user_id, agent_id=agent_id, session_id=session_id, exact=True, **more)

    def owns(self, record: MemoryRecord) -> bool:
        """Whether ``record`` belongs to this scope's user, agent and session."""
        return self.holds(record.owner)

    def holds(self, owner: Owner) -> bool:
        """Whether what ``owner`` wrote (a record, a window) is inside this scope."""
        return all(
            actual == wanted if wanted is not None or self.exact else True
            for wanted, actual in zip(self.owner, owner, strict=True)
        )

    @property
    def owner(self) -> Owner:
        return (self.user_id, self.agent_id, self.session_id)

    def where(self) -> str | None:
        clauses = []
        if self.turns_at:
            by_owner: dict[Owner, list[int]] = {}
            for owner, seq in self.turns_at:
                by_owner.setdefault(owner, []).append(int(seq))
            either = " OR ".join(
                f"({' AND '.join(_owner_clauses(owner, exact=True))}"
                f" AND seq IN ({', '.join(map(str, seqs))}))"
                for owner, seqs in by_owner.items()
            )
            clauses.append(f"kind = 'turn' AND ({either})")
        if self.after_seq is not None:
            clauses.append(f"seq > {int(self.after_seq)}")
        if self.alive_at is not None:
            clauses.append(_ALIVE.format(_sql_time(self.alive_at)))
        if self.expired_at is not None:
            clauses.append(f"expires_at <= {_sql_time(self.expired_at)}")
        if self.before is not None:
            clauses.append(f"timestamp < {_sql_time(self.before)}")
        if self.pinned is not None:
            clauses.append("pinned = true" if self.pinned else "pinned IS NOT TRUE")
        clauses += _owner_clauses(self.owner, exact=self.exact)
        if self.kinds:
            kinds = ", ".join(f"'{Kind(k).value}'" for k in self.kinds)
            clauses.append(f"kind IN ({kinds})")
        if self.tags:
            keys = ", ".join(f"'{scope_key(t)}'" for t in self.tags)
            clauses.append(f"array_has_any(tag_keys, [{keys}])")
        if self.ids:
            # record ids are ours (hex); anything else cannot match and is dropped
            ids = ", ".join(f"'{i}'" for i in self.ids if i.isalnum() and i.isascii())
            clauses.append(f"id IN ({ids})" if ids else "false")
        return " AND ".join(clauses) if clauses else None


_ALIVE = "(expires_at IS NULL OR expires_at > {})"
_UTC_MICROS = "'Timestamp(Microsecond, Some(\"UTC\"))'"
#: the expiry clause, whose time changes with every read: left out of size estimates
_ALIVE_CLAUSE = re.compile(
    re.escape(_ALIVE.format(f"arrow_cast(0, {_UTC_MICROS})")).replace("0", r"-?\d+", 1)
)


def _sql_time(micros: int) -> str:
    """A UTC timestamp literal from microseconds (an int: nothing of the caller's is parsed)."""
    return f"arrow_cast({int(micros)}, {_UTC_MICROS})"


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _owner_clauses(owner: Owner, *, exact: bool) -> list[str]:
    """Filters on the digests of an owner's ids; with ``exact``, None must be NULL."""
    clauses = []
    for column, value in zip(("user_key", "agent_key", "session_key"), owner, strict=True):
        if value is not None:
            clauses.append(f"{column} = '{scope_key(value)}'")
        elif exact:
            clauses.append(f"{column} IS NULL")
    return clauses


# --- operations -----------------------------------------------------------------


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
    scope: Scope
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class TextSearch(Effect[Any]):
    """BM25 hits, each with its stored vector so fusion can score both parts."""

    query: str
    scope: Scope
    limit: int


@dataclass(frozen=True, slots=True)
class VectorSearch(Effect[Any]):
    vector: NDArray[np.float32]
    scope: Scope
    limit: int


@dataclass(frozen=True, slots=True)
class Search(Effect[tuple[list[tuple[MemoryRecord, float]], list[tuple[MemoryRecord, float]]]]):
    """A `TextSearch` and a `VectorSearch` of one scope, run side by side in one trip.

    Either half is skipped when its input is None. The result is a pair of lists:
    (record, BM25) best first, and (record, cosine distance) for the vector hits and
    then every text hit the vector half did not return (fusion scores both parts of
    every candidate), as `retrieval.fuse` takes them.
    """

    query: str | None
    vector: NDArray[np.float32] | None
    scope: Scope
    limit: int


@dataclass(frozen=True, slots=True)
class Delete(Effect[int | None]):
    scope: Scope


@dataclass(frozen=True, slots=True)
class Count(Effect[int]):
    scope: Scope


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
    Insert
    | Upsert
    | Fetch
    | TextSearch
    | VectorSearch
    | Search
    | Delete
    | Count
    | Optimize
    | Export
    | Version
    | Changes
    | Take
)


# --- shared pure logic ----------------------------------------------------------


def _stamps(written: int | Sequence[int] | None, rows: int) -> list[int]:
    if written is None:
        return [stamp()] * rows
    return [written] * rows if isinstance(written, int) else list(written)


def _to_table(
    records: Sequence[MemoryRecord],
    vectors: NDArray[np.float32],
    schema: pa.Schema,
    written: int | Sequence[int] | None = None,
) -> pa.Table:
    def keys(values: Sequence[str | None]) -> list[str | None]:
        return [None if v is None else scope_key(v) for v in values]

    sessions = [r.session_id for r in records]
    users = [r.user_id for r in records]
    agents = [r.agent_id for r in records]
    dim = schema.field("vector").type.list_size
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    columns = {
        "id": [r.id for r in records],
        "kind": [r.kind.value for r in records],
        "text": [r.text for r in records],
        "role": [r.role for r in records],
        "session_id": sessions,
        "user_id": users,
        "agent_id": agents,
        "session_key": keys(sessions),
        "user_key": keys(users),
        "agent_key": keys(agents),
        "timestamp": [r.timestamp for r in records],
        "seq": [r.seq for r in records],
        "importance": [r.importance for r in records],
        "tags": [list(r.tags) for r in records],
        "tag_keys": [[scope_key(t) for t in r.tags] for r in records],
        "metadata": [json.dumps(r.metadata, ensure_ascii=False) for r in records],
        "covers": [list(r.covers) for r in records],
        "tokens": [r.tokens for r in records],
        "written": _stamps(written, len(records)),
        "expires_at": [r.expires_at for r in records],
        "pinned": [r.pinned for r in records],
    }
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema if f.name != "vector"]
    arrays.append(pa.FixedSizeListArray.from_arrays(flat, dim))
    return pa.Table.from_arrays(arrays, schema=schema)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KINDS = {kind.value: kind for kind in Kind}


def _records(table: pa.Table) -> list[MemoryRecord]:
    """Rows as records, column by column: pyarrow's own datetimes cost 10 us a row."""
    skip = ("timestamp", "expires_at")
    c = {name: table.column(name).to_pylist() for name in _READ_COLUMNS if name not in skip}
    c["expires_at"] = _readable_micros(table.column("expires_at")).to_pylist()
    stamps = _readable_micros(table.column("timestamp")).to_pylist()
    return [_record(c, i, stamps[i]) for i in range(table.num_rows)]


# what Python's datetime can hold, in the column's microseconds since the epoch
_TIME_RANGE = (-62_135_596_800 * 10**6, 253_402_300_800 * 10**6 - 1)


def _readable_micros(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Microseconds clamped to years 1..9999: a row stored out of range fails no read.

    Earlier releases let an aware time outside that range in UTC through validation.
    """
    low, high = _TIME_RANGE
    ints = column.cast(pa.int64())
    return pc.max_element_wise(pc.min_element_wise(ints, high, skip_nulls=False), low,
                               skip_nulls=False)  # fmt: skip


def _record(c: dict[str, list[Any]], i: int, micros: int) -> MemoryRecord:
    return MemoryRecord(
        id=c["id"][i], kind=_KINDS[c["kind"][i]], text=c["text"][i], role=c["role"][i],
        session_id=c["session_id"][i], user_id=c["user_id"][i], agent_id=c["agent_id"][i],
        timestamp=_EPOCH + timedelta(microseconds=micros), seq=int(c["seq"][i]),
        importance=float(c["importance"][i]), tags=tuple(c["tags"][i] or ()),
        metadata=_metadata(c["metadata"][i]), covers=tuple(c["covers"][i] or ()),
        tokens=int(c["tokens"][i]), pinned=bool(c["pinned"][i]),
        expires_at=None if (e := c["expires_at"][i]) is None
        else _EPOCH + timedelta(microseconds=e),
    )  # fmt: skip


def _metadata(text: str | None) -> dict[str, Any]:
    if not text or text == "{}":
        return {}
    found: dict[str, Any] = json.loads(text)
    return found


def _matrix(table: pa.Table) -> NDArray[np.float32]:
    """The vector column as one (rows, dimensions) matrix."""
    dim = table.schema.field("vector").type.list_size
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(-1, dim)


def _with_vectors(table: pa.Table) -> list[tuple[MemoryRecord, NDArray[np.float32]]]:
    return list(zip(_records(table), _matrix(table), strict=True))


def _scored_with_vectors(
    table: pa.Table, column: str
) -> list[tuple[MemoryRecord, float, NDArray[np.float32]]]:
    scores = (float(s) for s in table.column(column).to_pylist())
    return [(r, s, vec) for (r, vec), s in zip(_with_vectors(table), scores, strict=True)]


def _scored(table: pa.Table, column: str) -> list[tuple[MemoryRecord, float]]:
    scores = table.column(column).to_pylist()
    return list(zip(_records(table), (float(s) for s in scores), strict=True))


def _search_result(
    text_found: list[tuple[MemoryRecord, float, NDArray[np.float32]]],
    vector_hits: list[tuple[MemoryRecord, float]],
    vector: NDArray[np.float32] | None,
) -> tuple[list[tuple[MemoryRecord, float]], list[tuple[MemoryRecord, float]]]:
    """`Search`'s result: a text hit outside the vector top-k still has a similarity."""
    if vector is not None:
        seen = {r.id for r, _ in vector_hits}
        query = vector / (float(np.linalg.norm(vector)) or 1.0)
        for record, _, stored in text_found:
            if record.id not in seen:
                norm = float(np.linalg.norm(stored)) or 1.0
                vector_hits.append((record, 1.0 - float(stored @ query) / norm))
    return [(r, bm25) for r, bm25, _ in text_found], vector_hits


def _check_meta(rows: list[dict[str, Any]], embedder: str, dimensions: int) -> int:
    """The store's schema version, if this tiermem can open it (maybe after migrating)."""
    meta = {r["key"]: r["value"] for r in rows}
    version = int(meta.get("schema_version", "0"))
    if version != SCHEMA_VERSION and version not in _MIGRATIONS:
        newer = "newer" if version > SCHEMA_VERSION else "older"
        raise SchemaVersionError(
            f"store schema version {version} is {newer} than this tiermem's "
            f"({SCHEMA_VERSION}); open it with a matching tiermem version"
        )
    if meta.get("embedder") != embedder or meta.get("dimensions") != str(dimensions):
        raise StoreError(
            f"store was embedded with {meta.get('embedder')!r} ({meta.get('dimensions')} dims); "
            f"this memory uses {embedder!r} ({dimensions} dims): pass the same embedder"
        )
    return version


def _drop_mixed_summaries(table: Any) -> None:
    """Schema 1 -> 2: delete the summaries of sessions that more than one owner wrote to.

    Version 1 kept one window per session id, so two users sharing a session id had
    their turns folded into the same summaries. A summary is derived data: the verbatim
    turns stay, and each owner's window and summaries are rebuilt from its own turns.
    Sessions with a single owner keep their summaries (they may be an LLM's work).
    """
    turns = (
        table.search().where("kind = 'turn'")
        .select(["session_key", "user_key", "agent_key"]).limit(None).to_arrow()
    )  # fmt: skip
    owner = pc.binary_join_element_wise(
        pc.fill_null(turns.column("user_key"), "-"),
        pc.fill_null(turns.column("agent_key"), "-"),
        "|",
    )
    owners = pa.table({"session_key": turns.column("session_key"), "owner": owner})
    counted = owners.group_by("session_key").aggregate([("owner", "count_distinct")])
    mixed = pc.filter(counted.column("session_key"), pc.greater(counted.column(1), 1))
    keys = [k for k in mixed.to_pylist() if k is not None]
    for start in range(0, len(keys), 1_000):
        listed = ", ".join(f"'{k}'" for k in keys[start : start + 1_000])
        table.delete(f"kind = 'summary' AND session_key IN ({listed})")


#: what brings a store of an older schema version to this one, run once on open
def _record_writes(db: Any, table: Any) -> None:
    """Schema 2 -> 3: rows say when they were written (0: before this version), when
    they expire (never, for rows written before) and whether they are pinned (no)."""
    names = table.schema.names
    if "written" not in names:
        table.add_columns({"written": "cast(0 as bigint)"})
    if "expires_at" not in names:
        table.add_columns(pa.field("expires_at", pa.timestamp("us", tz="UTC")))
    if "pinned" not in names:
        table.add_columns(pa.field("pinned", pa.bool_()))  # NULL reads as not pinned


_MIGRATIONS: dict[int, Callable[[Any, Any], None]] = {
    1: lambda db, table: _drop_mixed_summaries(table),
    2: _record_writes,
}


def stored_embedder(uri: str, storage_options: dict[str, str] | None = None) -> str | None:
    """The name of the embedder a store was created with; None if there is no store."""
    if "://" not in uri and not Path(uri).is_dir():
        return None  # connecting would create the folder
    try:
        meta = lancedb.connect(uri, storage_options=storage_options or None).open_table(_META_TABLE)
        rows = meta.search().limit(None).to_arrow().to_pylist()
    except Exception:
        return None  # no tiermem store there yet; opening it says what is wrong, if anything
    name = {row["key"]: row["value"] for row in rows}.get("embedder")
    return name if isinstance(name, str) else None


def _meta_rows(embedder: str, dimensions: int) -> pa.Table:
    values = {"schema_version": str(SCHEMA_VERSION), "embedder": embedder,
              "dimensions": str(dimensions)}  # fmt: skip
    return pa.table({"key": list(values), "value": list(values.values())})


def _match(query: str) -> MatchQuery:
    # a match query is never parsed: quotes or operators in user text stay plain words
    return MatchQuery(query, "text")  # type: ignore[call-arg]


def _missing_indexes(
    existing: set[str], rows: int, vector_index_rows: int | None
) -> list[tuple[str, Any]]:
    """Scalar indexes for scope filters once there are rows; ANN once flat scans get slow."""
    wanted: list[tuple[str, Any]] = []
    if rows:
        # id: get, update and forget look one record up; seq: the neighbour fetch
        wanted += [(c, BTree()) for c in ("user_key", "session_key", "agent_key", "id", "seq")]
        wanted.append(("kind", Bitmap()))
    if vector_index_rows is not None and rows >= vector_index_rows:
        wanted.append(("vector", IvfHnswSq(distance_type="cosine")))
    return [(column, config) for column, config in wanted if column not in existing]


def _indexed_columns(indices: Iterable[Any]) -> set[str]:
    return {column for index in indices for column in index.columns}


_RETRIES = 6

# what the user can do about LanceDB's and the OS's failures, by a phrase of the cause
_CAUSES = (
    (("Read-only file system", "Permission denied", "ermission"),
     "it is read-only here: open it with write access, or copy it somewhere writable"),
    (("File exists", "Not a directory"), "that path is a file: pass a folder for the store"),
    (("No space left",), "the disk is full: free space, then retry"),
    (("is closed",), "it was closed: open a new TieredMemory"),
)  # fmt: skip
# a Rust source location, e.g. ", /root/.cargo/registry/.../lance-0.40/src/io.rs:123:45"
_SOURCE_PATH = re.compile(r",?\s*(?:[\w./~-]+/)?[\w-]+\.rs:\d+(?::\d+)?")


def store_error(what: str, exc: BaseException) -> StoreError:
    """One line that names the store and what to do: no dependency internals."""
    text = str(exc)
    for phrases, advice in _CAUSES:
        if any(p in text for p in phrases):
            return StoreError(f"{what}: {advice}")
    first = _SOURCE_PATH.sub("", text.strip().splitlines()[0] if text.strip() else "")
    return StoreError(f"{what}: {first or type(exc).__name__}")


class _StaleReadError(Exception):
    """A read found its version gone: caught up and run again, it will not be."""


def _retryable(exc: BaseException) -> bool:
    # writers racing on one table: LanceDB asks the loser to retry its commit
    text = str(exc)
    racing = "etryable" in text or "onflict" in text or "preempted" in text
    return racing or isinstance(exc, _StaleReadError)


def _retrying(action: Callable[[], T]) -> T:
    for attempt in range(_RETRIES):
        try:
            return action()
        except Exception as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc):
                raise
            time.sleep(0.02 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


async def _aretrying(action: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(_RETRIES):
        try:
            return await action()
        except Exception as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc):
                raise
            await asyncio.sleep(0.02 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


def _table_names(db: Any) -> set[str]:
    names: set[str] = set()
    token = None
    while True:
        page = db.list_tables(page_token=token)
        names.update(page.tables)
        token = page.page_token
        if not token:
            return names


_FTS = FTS(with_position=False, stem=True, remove_stop_words=True, language="English")
#: a filtered vector search over at most this many rows scans them instead of the index
_FLAT_ROWS = 20_000
#: share of the table a filter keeps from which it is applied to the hits, not first
_POSTFILTER_SHARE = 0.5
_SCOPE_ROWS_SECONDS = 60.0
_SCOPE_ROWS_CACHE = 10_000


# --- sync ------------------------------------------------------------------------


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
        #: seconds a read may lag other writers; 0: never, None: unbounded
        self.read_consistency_seconds = read_consistency_seconds
        #: when the table last caught up with the newest version (monotonic seconds)
        self.checked = -math.inf
        #: appends may commit from a stale version: a local commit cannot overwrite
        #: another (LanceDB renames without replacing); on object storage, catch up first
        self.local = "://" not in uri or uri.startswith(("memory://", "file://"))
        #: rows each scope filter selected, and when that was counted (a size estimate)
        self.scope_rows: dict[str, tuple[int, float]] = {}
        self.vector_index: tuple[bool, float] | None = None
        #: the async table of deletions, opened on first use
        self.deleted: Any = None
        #: LanceDB's caches, shared by the sync and async clients of this store
        self.session = _session(index_cache_mb, metadata_cache_mb)
        try:
            # LanceDB's own interval 0 looks for new versions before every query, three
            # per context; `AsyncLanceStore` looks once per operation, for the same guarantee
            self._db = lancedb.connect(
                uri, storage_options=storage_options or None, session=self.session
            )
            self._table = _retrying(lambda: self._open(table, embedder, dimensions))
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
        commit = AsyncLanceStore(self).run(Insert(records, vectors), now=True)
        LOOP.run(commit)  # type: ignore[no-untyped-call]

    def run(self, op: Operation) -> Any:
        if self.behind is not None and not isinstance(op, Insert):
            self.behind.flush()  # read your own writes
        # LanceDB's sync client runs each coroutine on its background loop and makes
        # about six such trips per query; handing it the whole operation makes one
        return LOOP.run(AsyncLanceStore(self).run(op))  # type: ignore[no-untyped-call]

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def async_table(self) -> Any:
        """The `lancedb.AsyncTable` the sync table wraps (lancedb < 0.41 keeps it here)."""
        inner = getattr(self._table, "_table", None)
        if inner is None or not hasattr(inner, "query"):
            raise StoreError("this lancedb version does not expose the async table")
        return inner

    @property
    def async_connection(self) -> Any:
        """The `lancedb.AsyncConnection` the sync connection wraps (lancedb < 0.41)."""
        inner = getattr(self._db, "_conn", None)
        if inner is None or not hasattr(inner, "create_table"):
            raise StoreError("this lancedb version does not expose the async connection")
        return inner

    def close(self) -> None:
        if self.behind is not None:
            self.behind.close()
        self.async_table.close()


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

    async def read() -> tuple[int, pa.Table]:
        table = store.async_table
        await table.checkout_latest()
        version = int(await table.version())
        columns = [*_READ_COLUMNS, "vector", "written"]
        return version, await table.query().select(columns).to_arrow()

    version, table = LOOP.run(read())  # type: ignore[no-untyped-call]

    def slices() -> Iterator[Loaded]:
        for start in range(0, table.num_rows, slice_rows):
            part = table.slice(start, slice_rows)
            written = [int(w or 0) for w in part.column("written").to_pylist()]
            yield Loaded(_records(part), _matrix(part), written)

    return version, slices()


async def read_meta(connection: Any) -> dict[str, str]:
    """The store's meta rows (schema version, embedder), read through an async connection."""
    table = await connection.open_table(_META_TABLE)
    try:
        rows = (await table.query().to_arrow()).to_pylist()
    finally:
        table.close()
    return {str(row["key"]): str(row["value"]) for row in rows}


# --- async -----------------------------------------------------------------------


class AsyncLanceStore:
    """Runs the same operations natively on the async table behind a `LanceStore`.

    Sharing the sync store's table keeps one connection, so ``memory://`` stores
    and read-your-writes hold across sync and async calls.
    """

    def __init__(self, store: LanceStore) -> None:
        self._store = store
        self._table = store.async_table
        self._schema = store.schema

    async def run(self, op: Operation, *, now: bool = False) -> Any:
        behind = self._store.behind
        if behind is not None and not now:
            if isinstance(op, Insert):
                behind.add(op.records, op.vectors)
                return None
            if not behind.idle:
                # a commit is plain blocking work for a thread, not for the event loop
                await asyncio.to_thread(behind.flush)
        tries = 0

        async def attempt() -> Any:
            nonlocal tries
            tries += 1
            # a local append commits on top of the newest version whatever this table has
            # seen; every other operation reads, so it first catches up with other writers
            if not (isinstance(op, Insert) and self._store.local) or tries > 1:
                await self._catch_up(force=tries > 1)
            try:
                return await self._run(op)
            except Exception as exc:
                if isinstance(op, Insert) or "Not found" not in str(exc):
                    raise
                # another instance's upkeep dropped the version this read was on
                raise _StaleReadError(str(exc)) from exc

        try:
            return await _aretrying(attempt)
        except Exception as exc:
            raise store_error(
                f"{type(op).__name__} failed on the store at {self._store.uri!r}", exc
            ) from exc

    async def _catch_up(self, *, force: bool = False) -> None:
        interval = self._store.read_consistency_seconds
        now = time.monotonic()
        may_lag = interval is None or (interval > 0 and now - self._store.checked < interval)
        if may_lag and not force:
            return
        await self._table.checkout_latest()
        self._store.checked = now

    async def _run(self, op: Operation) -> Any:
        t = self._table
        match op:
            case Insert(records, vectors, written):
                if not records:
                    return None
                added = await t.add(_to_table(records, vectors, self._schema, written))
                return int(added.version)
            case Upsert(records, vectors, written):
                data = _to_table(records, vectors, self._schema, written)
                merged = await (
                    t.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(data)
                )
                return int(merged.version)
            case Version():
                await t.checkout_latest()
                self._store.checked = time.monotonic()
                return int(await t.version())
            case Changes(since):
                return await self._changes(since)
            case Take(ids):
                return await self._take(ids)
            case Fetch(scope, limit):
                q = t.query().select(_READ_COLUMNS)
                where = scope.where()
                q = q.where(where) if where else q
                q = q.limit(limit) if limit is not None else q
                return _records(await q.to_arrow())
            case TextSearch(query, scope, limit):
                return _scored_with_vectors(await self._text(query, scope, limit), "_score")
            case VectorSearch(vector, scope, limit):
                return _scored(await self._nearest(vector, scope, limit), "_distance")
            case Search(query, vector, scope, limit):
                where = scope.where()
                if where and await self._vector_indexed():
                    # counted once for both halves, which would each miss the cache at once
                    await self._rows_within(where)
                # both halves at once: each waits on I/O and LanceDB's threads in turn
                text, nearest = await asyncio.gather(
                    self._text(query, scope, limit) if query is not None else _none(),
                    self._nearest(vector, scope, limit) if vector is not None else _none(),
                )
                return _search_result(
                    _scored_with_vectors(text, "_score") if text is not None else [],
                    _scored(nearest, "_distance") if nearest is not None else [],
                    vector,
                )
            case Delete(scope):
                where = scope.where()
                if where is None:
                    raise ValueError("refusing to delete without a filter")
                gone = (await t.query().where(where).select(["id"]).to_arrow()).column("id")
                if not len(gone):
                    return int(await t.version())  # nothing to delete: no new version
                deleted = await t.delete(where)
                if len(gone):
                    # recorded after the delete: another index never drops a row still here
                    tombstones = pa.table({"id": gone, "written": [stamp()] * len(gone)},
                                          schema=_DELETED_SCHEMA)  # fmt: skip
                    await (await self._deleted()).add(tombstones)
                return int(deleted.version)
            case Count(scope):
                return await t.count_rows(scope.where())
            case Optimize(vector_index_rows, keep_versions_seconds):
                # old versions are files that every strong read lists: keep only recent ones
                keep = keep_versions_seconds
                await t.optimize(cleanup_older_than=timedelta(seconds=keep) if keep else None)
                existing = _indexed_columns(await t.list_indices())
                rows = await t.count_rows()
                for column, config in _missing_indexes(existing, rows, vector_index_rows):
                    await t.create_index(column, config=config)
                return rows
            case Export(offset, limit, alive_at):
                q = t.query().select([*_READ_COLUMNS, "vector"])
                where = Scope(alive_at=alive_at).where()
                q = (q.where(where) if where else q).offset(offset).limit(limit)
                return _with_vectors(await q.to_arrow())
        raise TypeError(f"unknown operation {op!r}")

    async def _deleted(self) -> Any:
        if self._store.deleted is None:
            self._store.deleted = await self._store.async_connection.open_table(_DELETED_TABLE)
        return self._store.deleted

    async def _changes(
        self, since: int
    ) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
        t = self._table
        version = int(await t.version())
        q = t.query().where(f"written >= {int(since)}").select(["id", "written"])
        rows = (await q.to_arrow()).to_pydict()
        deleted = await self._deleted()
        await deleted.checkout_latest()
        q = deleted.query().where(f"written >= {int(since)}").select(["id", "written"])
        gone = (await q.to_arrow()).to_pydict()
        return (
            version,
            list(zip(rows["id"], rows["written"], strict=True)),
            list(zip(gone["id"], gone["written"], strict=True)),
        )

    async def _take(
        self, ids: Sequence[str]
    ) -> list[tuple[MemoryRecord, NDArray[np.float32], int]]:
        where = Scope(ids=tuple(ids)).where()
        q = self._table.query().where(where).select([*_READ_COLUMNS, "vector", "written"])
        table = await q.to_arrow()
        written = table.column("written").to_pylist()
        return [(r, v, int(w or 0)) for (r, v), w in zip(_with_vectors(table), written,
                                                           strict=True)]  # fmt: skip

    async def _text(self, query: str, scope: Scope, limit: int) -> pa.Table:
        def search() -> Any:
            q = self._table.query().nearest_to_text(_match(query))
            return q.select([*_READ_COLUMNS, "vector", "_score"])

        return await self._filtered(search, scope.where(), limit)

    async def _nearest(self, vector: NDArray[np.float32], scope: Scope, limit: int) -> pa.Table:
        def search() -> Any:
            q = self._table.query().nearest_to(vector).distance_type("cosine")
            return q.select([*_READ_COLUMNS, "_distance"])

        where = scope.where()
        if where and await self._vector_indexed() and await self._rows_within(where) <= _FLAT_ROWS:
            # a user's thousand rows of a million: exact and 3x faster than the index
            return await search().where(where).bypass_vector_index().limit(limit).to_arrow()
        return await self._filtered(search, where, limit)

    async def _filtered(self, search: Callable[[], Any], where: str | None, limit: int) -> Any:
        """The best ``limit`` hits of ``search`` within ``where``, filtered first or after.

        A filter that keeps most rows (a whole agent) costs more to apply first, as a
        mask of every row, than to apply to a few more hits than asked: those are taken
        when enough of them pass, and the filter goes first again when they do not.
        """
        if where is None:
            return await search().limit(limit).to_arrow()
        # a table small enough to have no vector index masks its rows fast: no counting
        if not await self._vector_indexed():
            return await search().where(where).limit(limit).to_arrow()
        rows = await self._rows_within(None)
        share = await self._rows_within(where) / max(rows, 1)
        if rows > _FLAT_ROWS and share >= _POSTFILTER_SHARE:
            wanted = math.ceil(limit / share * 1.25) + 10
            found = await search().where(where).postfilter().limit(wanted).to_arrow()
            if found.num_rows >= limit:
                return found.slice(0, limit)
        return await search().where(where).limit(limit).to_arrow()

    async def _vector_indexed(self) -> bool:
        """Whether the table has a vector index, looked up at most once a minute."""
        now = time.monotonic()
        known = self._store.vector_index
        if known is None or now - known[1] >= _SCOPE_ROWS_SECONDS:
            known = self._store.vector_index = (
                "vector" in _indexed_columns(await self._table.list_indices()),
                now,
            )
        return known[0]

    async def _rows_within(self, where: str | None) -> int:
        """Rows a filter (None: the table) selects, counted at most once a minute."""
        sizes = self._store.scope_rows
        now = time.monotonic()
        # an estimate: the clock in the expiry clause would make every key new
        key = _ALIVE_CLAUSE.sub("", where) if where else ""
        known = sizes.get(key)
        if known is not None and now - known[1] < _SCOPE_ROWS_SECONDS:
            return known[0]
        rows: int = await self._table.count_rows(where)
        if len(sizes) >= _SCOPE_ROWS_CACHE:
            sizes.clear()
        sizes[key] = (rows, now)
        return rows


async def _none() -> None:
    return None
