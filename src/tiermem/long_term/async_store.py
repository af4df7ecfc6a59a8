"""`AsyncLanceStore`: the store answered through LanceDB's public async API."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import lancedb
import pyarrow as pa

from ..effects import adrive
from .operations import Insert, Operation
from .plan import (
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
from .rows import _DELETED_TABLE
from .tables import _aretrying, _failed, _indexed_columns, _match

if TYPE_CHECKING:
    from .store import LanceStore  # the stores import this module


T = TypeVar("T")


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
        return await adrive(steps, self._io)

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
