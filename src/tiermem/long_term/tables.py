"""The store's tables: their meta row, migrations, indexes, and errors and retries."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import lancedb
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.index import Bitmap, BTree, IvfHnswSq
from lancedb.query import MatchQuery

from ..errors import SchemaVersionError, StoreError
from .operations import Insert, Operation
from .rows import _META_TABLE, SCHEMA_VERSION

T = TypeVar("T")


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


def _pause(attempt: int) -> float:
    """Seconds before try ``attempt + 2``: doubling, jittered so racing writers part."""
    return 0.02 * 2.0**attempt * (1 + random.random())


def _retrying(action: Callable[[int], T], op: Operation | None = None) -> T:
    """``action(tries)`` until it succeeds or fails for good."""
    for attempt in range(_RETRIES):
        try:
            return action(attempt + 1)
        except Exception as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc, op):
                raise
            time.sleep(_pause(attempt))
    raise AssertionError("unreachable")


async def _aretrying(action: Callable[[int], Awaitable[T]], op: Operation) -> T:
    for attempt in range(_RETRIES):
        try:
            return await action(attempt + 1)
        except Exception as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc, op):
                raise
            await asyncio.sleep(_pause(attempt))
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
