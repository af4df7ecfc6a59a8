"""The table's rows: its schema, and records to Arrow and back."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ..records import Kind, MemoryRecord

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


# --- records to Arrow and back ----------------------------------------------------


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


def _meta_rows(embedder: str, dimensions: int) -> pa.Table:
    values = {"schema_version": str(SCHEMA_VERSION), "embedder": embedder,
              "dimensions": str(dimensions)}  # fmt: skip
    return pa.table({"key": list(values), "value": list(values.values())})
