"""The long-term tier: every record in one LanceDB table, sync and async.

The orchestrator describes what it needs as small operations (`Insert`, `Fetch`,
`Search`, ...). Each operation is carried out by one generator, shared by both
clients, that yields the LanceDB calls it needs as small requests (`_Read`,
`_Append`, ...) and is sent their answers: `LanceStore` answers them through
LanceDB's public sync API (`lancedb.connect`, `Table`), `AsyncLanceStore` through
its public async API (`lancedb.connect_async`, `AsyncTable`). Filters, plans and
reading results back are written once, so the two clients cannot drift apart.

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
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
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
from lancedb.index import FTS, Bitmap, BTree, IvfHnswSq
from lancedb.query import LanceQueryBuilder, MatchQuery

__all__ = [
    "SCHEMA_VERSION",
    "AsyncLanceStore",
    "Changes",
    "Count",
    "Delete",
    "Export",
    "Fetch",
    "Filter",
    "Insert",
    "LanceStore",
    "Loaded",
    "Operation",
    "Optimize",
    "Search",
    "Take",
    "Upsert",
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
class Filter:
    """Which records a store operation may see: an owner (as a public `Scope` names one)
    narrowed by kinds, tags, ids and times. None means "not restricted on this id",
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
    def of(cls, owner: Owner, **more: Any) -> Filter:
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


def _failed(op: Operation, uri: str, exc: BaseException) -> StoreError:
    return store_error(f"{type(op).__name__} failed on the store at {uri!r}", exc)


def _retryable(exc: BaseException, op: Operation | None) -> bool:
    # writers racing on one table: LanceDB asks the loser to retry its commit
    text = str(exc)
    racing = "etryable" in text or "onflict" in text or "preempted" in text
    # a read whose version another instance's upkeep dropped: caught up, it is not
    stale = op is not None and not isinstance(op, Insert) and "Not found" in text
    return racing or stale


def _retrying(action: Callable[[int], T], op: Operation | None = None) -> T:
    """``action(tries)`` until it succeeds or fails for good."""
    for attempt in range(_RETRIES):
        try:
            return action(attempt + 1)
        except Exception as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc, op):
                raise
            time.sleep(0.02 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


async def _aretrying(action: Callable[[int], Awaitable[T]], op: Operation) -> T:
    for attempt in range(_RETRIES):
        try:
            return await action(attempt + 1)
        except Exception as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc, op):
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


# --- what an operation asks of LanceDB --------------------------------------------
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
        answer: Any = None
        while True:
            try:
                request = steps.send(answer)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            answer = self._io(request)

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


# --- async -----------------------------------------------------------------------


class _AsyncTables:
    """The async client's connection and tables, shared by every `AsyncLanceStore` of
    one `LanceStore`; opened on first use, as opening is a coroutine."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.table: Any = None
        self.deleted: Any = None
        self.fresh = _Freshness()

    def close(self) -> None:
        for handle in (self.deleted, self.table, self.connection):
            if handle is not None:
                handle.close()


async def _connect_async(store: LanceStore) -> Any:
    """A native async connection to the sync client's store, with the same caches.

    ``region=None``, which ``connect_async``'s annotation does not list: the sync
    client connects without a region, and an async connection sees the same
    ``memory://`` tables only when configured alike (with the default region it is an
    empty store of its own; on ``s3://`` it could be another region).
    """
    return await lancedb.connect_async(
        store.uri,
        storage_options=store.storage_options,
        session=store.session,
        region=None,  # type: ignore[arg-type]  # as the sync client: see above
    )


async def _async_read(table: Any, read: _Read) -> pa.Table:
    """A `_Read` through the async query builder (`AsyncTable.query`)."""
    q = table.query()
    if read.text is not None:
        q = q.nearest_to_text(_match(read.text))
    elif read.vector is not None:
        q = q.nearest_to(read.vector).distance_type("cosine")
        q = q.bypass_vector_index() if read.flat else q
    q = q.select(list(read.columns))
    q = q.where(read.where) if read.where else q
    q = q.postfilter() if read.postfilter else q
    q = q.offset(read.offset) if read.offset else q
    q = q.limit(read.limit) if read.limit is not None else q
    return await q.to_arrow()


class AsyncLanceStore:
    """Runs the same operations natively on LanceDB's async client, on the same store
    (and caches) as a `LanceStore`; writes through either are read by both."""

    def __init__(self, store: LanceStore) -> None:
        self._store = store
        self._aio = store.aio

    async def run(self, op: Operation) -> Any:
        behind = self._store.behind
        if behind is not None:
            if isinstance(op, Insert):
                behind.add(op.records, op.vectors)
                return None
            if not behind.idle:
                # a commit is plain blocking work for a thread, not for the event loop
                await asyncio.to_thread(behind.flush)
        try:
            await self._opened()
            return await _aretrying(
                lambda tries: self._drive(_attempt(self._store, self._aio.fresh, op, tries)), op
            )
        except Exception as exc:
            raise _failed(op, self._store.uri, exc) from exc

    async def _opened(self) -> None:
        aio = self._aio
        if aio.table is not None:
            return
        connection = await _connect_async(self._store)
        table = await connection.open_table(self._store.table_name)
        if aio.table is None:  # another task may have opened them meanwhile
            aio.connection, aio.table = connection, table
        else:
            table.close()
            connection.close()

    async def _drive(self, steps: _Steps[T]) -> T:
        answer: Any = None
        while True:
            try:
                request = steps.send(answer)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            answer = await self._io(request)

    async def _io(self, request: _Request) -> Any:
        t = self._aio.table
        match request:
            case _Read(deleted=deleted):
                return await _async_read(await self._deletions() if deleted else t, request)
            case _Reads(reads):
                return list(await asyncio.gather(*(self._io(read) for read in reads)))
            case _CountRows(where):
                return await t.count_rows(where)
            case _Indexed():
                return _indexed_columns(await t.list_indices())
            case _Latest(deleted):
                await (await self._deletions() if deleted else t).checkout_latest()
            case _TableVersion():
                return await t.version()
            case _Append(data, deleted):
                return (await (await self._deletions() if deleted else t).add(data)).version
            case _Merge(data):
                merge = t.merge_insert("id").when_matched_update_all()
                return (await merge.when_not_matched_insert_all().execute(data)).version
            case _DeleteWhere(where):
                return (await t.delete(where)).version
            case _Compact(keep):
                await t.optimize(cleanup_older_than=keep)
            case _CreateIndex(column, config):
                await t.create_index(column, config=config)
        return None

    async def _deletions(self) -> Any:
        if self._aio.deleted is None:
            self._aio.deleted = await self._aio.connection.open_table(_DELETED_TABLE)
        return self._aio.deleted
