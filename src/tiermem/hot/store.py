"""`HotStore`: the store's operations answered in process, LanceDB behind them.

Reads (`Fetch`, `Count`, `Search`) are served by the `HotIndex`. A write goes to the
write-ahead log (a local store), then to the index, and is acknowledged; a thread
commits it to LanceDB with the writes around it (`GroupCommit`). `Export` and
`Optimize` wait for those commits, then run on LanceDB.

Until the index holds the table (loaded in the background for a large store),
LanceDB serves every operation, and the writes it takes are replayed into the
index once it has loaded, in their order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import StoreError
from ..long_term import (
    AsyncLanceStore,
    Changes,
    Count,
    Delete,
    Export,
    Fetch,
    Filter,
    Insert,
    LanceStore,
    Operation,
    Optimize,
    Search,
    Take,
    Upsert,
    Version,
    load_all,
    stamp,
)
from ..records import MemoryRecord
from .columns import ScopeFilter
from .committer import GroupCommit
from .graph import GraphKeys, load_graph
from .index import HotIndex
from .wal import Added, Deleted, WriteAheadLog, read_from

if TYPE_CHECKING:
    from usearch.index import Index as HnswIndex

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per store, no log sharing
    fcntl = None  # type: ignore[assignment]

__all__ = ["WAL_FOLDER", "HotStore"]

logger = logging.getLogger("tiermem.hot")

#: the write-ahead logs of a local store live in this folder inside it
WAL_FOLDER = "_tiermem_wal"
#: side files of the in-process index (the vector graph), rebuilt when missing
SIDE_FOLDER = "_tiermem_hot"
#: ids per delete when a log is replayed (a filter naming every id of a user is long)
_REPLAY_IDS = 500
#: a log holding this many bytes is cut back to what is not committed yet
_CUT_BYTES = 4 << 20
#: how far before the newest stamp seen a catch-up looks again: a write stamped when it
#: was acknowledged may reach the table that much later than one stamped after it
_CATCH_UP_MARGIN_US = 10_000_000
#: a folder's mtime this long past proves nothing was added since (file times come
#: from the kernel's coarse clock: two changes within a tick can share one mtime)
_SETTLED_NS = 1_000_000_000

Pairs = list[tuple[MemoryRecord, float]]


def local_folder(uri: str) -> Path | None:
    """The folder of a store on this machine's disk; None for memory or object storage."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" in uri:
        return None
    return Path(uri)


class _Folder:
    """A folder that other processes add files to, looked at with one stat.

    Adding or removing a file changes a folder's mtime, so an mtime that was already
    settled when last seen and has not changed means no file came or went since.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._settled: int | None = None

    def mtime(self) -> int | None:
        """The folder's mtime now (None: no folder to watch, or it cannot be read)."""
        if self._path is None:
            return None
        try:
            return self._path.stat().st_mtime_ns
        except OSError:
            return None

    def unchanged(self, mtime: int | None) -> bool:
        """Whether ``mtime`` shows no file came or went since `seen` last settled."""
        return mtime is not None and mtime == self._settled

    def seen(self, mtime: int | None) -> None:
        """Everything in the folder as of ``mtime`` has been taken in."""
        settled = mtime is not None and time.time_ns() - mtime > _SETTLED_NS
        self._settled = mtime if settled else None


class _Log:
    """This process's write-ahead log in a store's folder, and the logs of dead ones.

    Each process writes its own log and holds a lock on a file beside it while it
    lives; a log whose lock can be taken was left by a process that died, and what
    it holds is committed by whoever opens the store next.
    """

    def __init__(self, folder: Path, *, fsync: bool) -> None:
        self.folder = folder
        self.fsync = fsync
        self._wal: WriteAheadLog | None = None
        self._lock_fd = -1
        self._name = ""
        self._watch = _Folder(folder)
        self._others: list[Path] = []

    def others(self) -> list[Path]:
        """The logs of the other processes writing to this store now (or lately)."""
        mtime = self._watch.mtime()
        if mtime is None:
            return []
        if not self._watch.unchanged(mtime):
            self._others = [p for p in self.folder.glob("*.wal") if p.stem != self._name]
            self._watch.seen(mtime)
        return self._others

    def orphans(self) -> Iterable[tuple[Path, int]]:
        """(log, its lock's descriptor) of every log whose process is gone, locked now."""
        if fcntl is None or not self.folder.is_dir():
            return
        for lock in sorted(self.folder.glob("*.lock")):
            if lock.stem == self._name:
                continue
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:
                continue  # replayed and removed by another process just now
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)  # its process is alive and commits its own log
                continue
            yield lock.with_suffix(".wal"), fd

    def open(self) -> WriteAheadLog:
        """This process's log, created on the first write (a read-only store never needs one)."""
        if self._wal is None:
            self.folder.mkdir(exist_ok=True)
            self._name = uuid.uuid4().hex
            lock = self.folder / f"{self._name}.lock"
            self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._wal = WriteAheadLog(self.folder / f"{self._name}.wal", fsync=self.fsync)
        return self._wal

    def committed(self, lsn: int) -> None:
        # cut in bulk, not per commit: a cut rewrites what is left while appends wait, so
        # it waits until what it drops outweighs that (each byte is rewritten about once);
        # committed entries left in the log are replayed as upserts, harmless
        if self._wal is None or self._wal.size <= _CUT_BYTES:
            return
        done = self._wal.bytes_through(lsn)
        if done >= self._wal.size - done:
            self._wal.truncate(lsn)

    def close(self, *, clean: bool) -> None:
        """Close the log; remove it when everything in it was committed (``clean``)."""
        if self._wal is None:
            return
        self._wal.close()
        if clean:
            self._wal.path.unlink(missing_ok=True)
            (self.folder / f"{self._name}.lock").unlink(missing_ok=True)
        os.close(self._lock_fd)
        self._wal = None


class HotStore:
    """Runs the memory's operations on a `HotIndex`, committing writes to ``lance``.

    Args:
        lance: the store of record.
        dimensions: the embedder's vector length.
        fsync: flush the log to disk before a write is acknowledged.
        wal: keep a write-ahead log in a local store's folder (without one, writes
            acknowledged but not yet committed are lost if the process dies).
        background_rows: a table larger than this loads in the background, with
            LanceDB serving reads until it has.
        hnsw_rows: rows in a scope from which vectors are searched by graph.
        rows: the table's rows, if the caller has just counted them.
    """

    def __init__(
        self,
        lance: LanceStore,
        *,
        dimensions: int,
        fsync: bool = True,
        wal: bool = True,
        background_rows: int = 20_000,
        hnsw_rows: int | None = 50_000,
        rows: int | None = None,
    ) -> None:
        self._lance = lance
        self._alance = AsyncLanceStore(lance)
        self.index = HotIndex(dimensions, hnsw_rows=hnsw_rows, background_graph=True)
        local = local_folder(lance.uri)
        #: where the vector graph is kept between runs (a local store only)
        self._graph_folder = (
            local / SIDE_FOLDER / f"{lance.table_name}.graph" if local is not None else None
        )
        if self._graph_folder is not None:
            self.index.vectors.seed = self._restore_graph
        folder = local if wal else None
        self._log = _Log(folder / WAL_FOLDER, fsync=fsync) if folder is not None else None
        #: object storage: other instances see a write once committed, so commit first
        self._remote = local is None and not lance.uri.startswith("memory://")
        self._lock = threading.RLock()
        self._warm = threading.Event()
        self._during: list[Insert | Upsert | Delete] = []  # writes while loading
        self._closed = False
        self.load_error: Exception | None = None
        #: when each record this index holds was written, by id: the newer write wins
        self._written: dict[str, int] = {}
        #: the table version this index reflects, and the newest stamp it has seen
        self._version = -1
        self._versions = threading.Lock()
        self._watermark = 0
        #: how far this index has read each other process's log: name -> (inode, offset)
        self._tails: dict[str, tuple[int, int]] = {}
        #: a local table's versions folder: a commit adds a file there, so one stat
        #: tells whether the version round trip is needed
        self._table_versions = _Folder(
            local / f"{lance.table_name}.lance" / "_versions" if local is not None else None
        )
        self._commits = GroupCommit(self._commit, self._committed)
        if self._log is not None:
            self._replay_orphans()
        if rows is None:
            rows = int(lance.run(Count(Filter())))
        if rows <= background_rows:
            self._load()
        else:
            threading.Thread(target=self._load, name="tiermem-load", daemon=True).start()

    # --- loading ------------------------------------------------------------------

    def _replay_orphans(self) -> None:
        """Commit what dead processes acknowledged and never committed, then drop their logs."""
        assert self._log is not None
        for path, fd in self._log.orphans():
            try:
                with WriteAheadLog(path, fsync=False) as log:
                    for entry in log.replay():
                        self._replay(entry)
                path.unlink(missing_ok=True)
                path.with_suffix(".lock").unlink(missing_ok=True)
            finally:
                os.close(fd)

    def _replay(self, entry: Added | Deleted) -> None:
        if isinstance(entry, Added):
            # by id: the entry may have been committed before its process died
            self._lance.run(Upsert(entry.records, entry.vectors))
            return
        for start in range(0, len(entry.ids), _REPLAY_IDS):
            self._lance.run(Delete(Filter(ids=entry.ids[start : start + _REPLAY_IDS])))

    def _load(self) -> None:
        try:
            version, slices = load_all(self._lance)
            stamps: dict[str, int] = {}
            for loaded in slices:
                if loaded.records:
                    self.index.add(loaded.records, loaded.vectors)
                stamps.update(zip((r.id for r in loaded.records), loaded.written, strict=True))
            self.index.commit()
            with self._lock:
                self._version = version
                self._written.update(stamps)
                self._watermark = max(stamps.values(), default=0)
                for op in self._during:
                    self._apply(op)
                self._during.clear()
                self._warm.set()
        except Exception as exc:  # LanceDB keeps serving: slower, still correct
            self.load_error = exc
            logger.warning("the in-process index could not load; LanceDB serves reads: %s", exc)

    @property
    def warm(self) -> bool:
        """Whether the in-process index serves reads (else LanceDB does)."""
        return self._warm.is_set()

    def wait_warm(self, timeout: float | None = None) -> bool:
        return self._warm.wait(timeout)

    def lag(self) -> int | None:
        """Table versions committed since the one this index reflects (None: loading)."""
        if not self.warm:
            return None
        newest: int = self._lance.run(Version())
        with self._versions:
            return max(newest - self._version, 0)

    @property
    def backlog(self) -> int:
        """Writes acknowledged and not yet committed to LanceDB."""
        return self._commits.backlog

    # --- operations -----------------------------------------------------------------

    def run(self, op: Operation) -> Any:
        if self._closed:
            raise StoreError(f"the store at {self._lance.uri!r} is closed")
        if isinstance(op, Insert | Upsert | Delete):
            return self._write(op, self._lance.run)
        if not self.warm:
            return self._lance.run(op)
        if isinstance(op, Optimize):
            return self._commits.call(op)
        if isinstance(op, Export):
            self._commits.flush()
            return self._lance.run(op)
        self._catch_up()
        return self._read(op)

    async def arun(self, op: Operation) -> Any:
        if self._closed:
            raise StoreError(f"the store at {self._lance.uri!r} is closed")
        if isinstance(op, Insert | Upsert | Delete):
            if self.warm:
                # the log's fsync is disk I/O: not on the event loop
                return await asyncio.to_thread(self._write, op, self._lance.run)
            return await self._alance.run(op)
        if not self.warm:
            return await self._alance.run(op)
        if isinstance(op, Optimize):
            return await asyncio.to_thread(self._commits.call, op)
        if isinstance(op, Export):
            await asyncio.to_thread(self._commits.flush)
            return await self._alance.run(op)
        if self._may_lag():
            await asyncio.to_thread(self._catch_up)
        return self._read(op)

    def _write(self, op: Insert | Upsert | Delete, direct: Callable[[Operation], Any]) -> None:
        with self._lock:
            if not self.warm:
                # LanceDB takes it now; the index replays it once loaded
                direct(op)
                self._during.append(op)
                return
            written = stamp()  # as acknowledged: a catch-up never takes an older copy over it
            if not isinstance(op, Delete):
                op = type(op)(op.records, op.vectors, written)
            ids = self._ids(op.scope) if isinstance(op, Delete) else [r.id for r in op.records]
            if not ids and isinstance(op, Delete) and op.scope.expired_at is not None:
                return  # a purge of what expired: the index holds every row it could find
            lsn = 0
            if self._remote:
                # no log other instances could read: acknowledged once committed
                self._commits.call(op)
            elif self._log is not None and ids:
                record = (lambda log: log.delete(ids)) if isinstance(op, Delete) else (
                    lambda log: log.add(op.records, op.vectors))  # fmt: skip
                lsn = self._logged(record)
            if isinstance(op, Delete):
                self.index.delete(ids)
            else:
                self.index.add(op.records, op.vectors)
            for record_id in ids:
                # a deleted id too: a catch-up that still finds its row in the table (the
                # delete not yet committed) does not bring it back
                self._written[record_id] = written
            if not self._remote:
                self._commits.push(op, lsn)

    def _logged(self, append: Callable[[WriteAheadLog], int]) -> int:
        assert self._log is not None
        try:
            return append(self._log.open())
        except OSError as exc:
            from ..long_term import store_error

            raise store_error(f"cannot write to the store at {self._lance.uri!r}", exc) from exc

    def _apply(self, op: Insert | Upsert | Delete) -> None:
        if isinstance(op, Delete):
            self.index.delete(self._ids(op.scope))
        else:
            self.index.add(op.records, op.vectors)

    def _commit(self, op: Operation) -> Any:
        result = self._lance.run(op)
        if isinstance(op, Insert | Upsert | Delete):
            # not the index's lock: a write may hold it while it waits for this commit
            with self._versions:
                if result == self._version + 1:
                    self._version = result  # our own commit, nothing between: no catch-up
        return result

    # --- other writers ----------------------------------------------------------------

    def _may_lag(self) -> bool:
        interval = self._lance.read_consistency_seconds
        if interval is None:
            return False
        return interval == 0 or time.monotonic() - self._lance.checked >= interval

    def _catch_up(self) -> None:
        """Take in what other processes wrote or deleted since this index last looked."""
        if not self._may_lag():
            return
        with self._lock:
            if self._log is not None:
                self._read_logs()
            mtime = self._table_versions.mtime()
            if self._table_versions.unchanged(mtime):
                return
            self._catch_up_with_table()
            self._table_versions.seen(mtime)

    def _catch_up_with_table(self) -> None:
        """Rows and deletions newer than this index's watermark, if the table moved."""
        version: int = self._lance.run(Version())
        with self._versions:
            if version == self._version:
                return
        since = max(self._watermark - _CATCH_UP_MARGIN_US, 0)
        version, rows, gone = self._lance.run(Changes(since))
        newer = [i for i, w in rows if w > self._written.get(i, -1)]
        if newer:
            for record, vector, written in self._lance.run(Take(newer)):
                if written > self._written.get(record.id, -1):
                    self.index.add([record], vector[None, :])
                    self._written[record.id] = written
        dropped = [i for i, w in gone if w >= self._written.get(i, w)]
        if dropped:
            self.index.delete(dropped)
            for record_id, written in gone:
                self._written[record_id] = max(written, self._written.get(record_id, 0))
        stamps = [w for _, w in rows] + [w for _, w in gone]
        self._watermark = max([self._watermark, *stamps])
        with self._versions:
            self._version = version

    def _committed(self, lsn: int) -> None:
        if self._log is not None:
            self._log.committed(lsn)

    def _read(self, op: Operation) -> Any:
        match op:
            case Fetch(scope, limit):
                rows = self._rows(scope)
                if limit is not None:
                    rows = rows[:limit]
                return self.index.records(rows)
            case Count(scope):
                return len(self._rows(scope))
            case Search(query, vector, scope, limit):
                return self._search(query, vector, scope, limit)
        raise TypeError(f"unknown operation {op!r}")

    def _search(
        self, query: str | None, vector: NDArray[np.float32] | None, scope: Filter, limit: int
    ) -> tuple[Pairs, Pairs]:
        extra = None
        if scope != _filtered_only(scope, self.index.columns.may_expire):
            extra = np.zeros(len(self.index.columns), np.bool_)
            extra[self._rows(scope)] = True
        found = self.index.search(query, vector, _filter(scope), limit, extra=extra)
        return found.text_hits, found.vector_hits

    def _read_logs(self) -> None:
        """What other processes on this machine acknowledged and have not committed yet:
        a write is seen by every process at once, not once its commit lands."""
        assert self._log is not None
        for path in self._log.others():
            try:
                status = path.stat()
                inode = status.st_ino
                known, offset = self._tails.get(path.stem, (inode, 0))
                if status.st_size == offset and known == inode:
                    continue  # nothing appended since
                if known != inode or status.st_size < offset:
                    offset = 0  # rewritten after a commit: what it dropped is in the table
                entries, offset = read_from(path, offset)
            except FileNotFoundError:
                self._tails.pop(path.stem, None)  # closed: all of it is in the table
                continue
            self._tails[path.stem] = (inode, offset)
            for entry in entries:
                seen = stamp()  # after the writer's own stamp: its commit is no newer
                if isinstance(entry, Added):
                    self.index.add(entry.records, entry.vectors)
                    ids = [r.id for r in entry.records]
                else:
                    self.index.delete(entry.ids)
                    ids = list(entry.ids)
                for record_id in ids:
                    self._written[record_id] = seen

    # --- scopes over the columns --------------------------------------------------------

    def _rows(self, scope: Filter) -> NDArray[np.int64]:
        """The live rows ``scope`` selects, in row order (the order they were written)."""
        columns = self.index.columns
        if scope.pinned and not columns.may_pin:
            return np.zeros(0, np.int64)
        mask = columns.scope_mask(_filter(scope))
        if scope.kinds:
            mask &= columns.kinds_mask(scope.kinds)
        if scope.after_seq is not None:
            mask &= columns.seq_above(scope.after_seq)
        if scope.alive_at is not None and columns.may_expire:
            mask &= columns.alive_at(scope.alive_at)
        if scope.expired_at is not None:
            mask &= columns.expired_at(scope.expired_at)
        if scope.before is not None:
            mask &= columns.before(scope.before)
        if scope.pinned is not None:
            mask &= columns.pinned(scope.pinned)
        if scope.ids or scope.turns_at:
            wanted = np.zeros_like(mask)
            for record_id in scope.ids:
                row = columns.row_of(record_id)
                if row is not None:
                    wanted[row] = True
            for (user, agent, session), seq in scope.turns_at:
                row = columns.turn_at(user, agent, session, seq)
                if row is not None:
                    wanted[row] = True
            mask &= wanted
        rows = np.flatnonzero(mask)
        if scope.tags:
            tags = set(scope.tags)
            records = self.index.records(rows)
            rows = rows[[bool(tags.intersection(r.tags)) for r in records]]
        return rows

    def _ids(self, scope: Filter) -> list[str]:
        return [r.id for r in self.index.records(self._rows(scope))]

    # --- lifecycle -------------------------------------------------------------------

    def flush(self) -> None:
        """Wait until every acknowledged write is committed to LanceDB."""
        self._commits.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.index.close()
        self._commits.close()
        self._save_graph()
        if self._log is not None:
            self._log.close(clean=self._commits.backlog == 0)

    def _restore_graph(self) -> tuple[HnswIndex, GraphKeys] | None:
        assert self._graph_folder is not None
        index = self.index
        return load_graph(self._graph_folder, index.vectors.dimensions, index.columns.row_of,
                          len(index.vectors))  # fmt: skip

    def _save_graph(self) -> None:
        """Keep the vector graph for the next process: building it anew takes minutes."""
        if self._graph_folder is None:
            return
        try:
            self.index.vectors.save_graph(self._graph_folder, self.index.ids)
        except OSError as exc:  # a read-only or full disk: the next process builds it
            logger.warning("the vector graph could not be saved: %s", exc)


def _filtered_only(scope: Filter, may_expire: bool) -> Filter:
    """``scope`` with only the owner ids (and its expiry clock, when nothing expires):
    what the index's search filters by itself."""
    alive_at = None if may_expire else scope.alive_at
    return Filter(scope.user_id, scope.agent_id, scope.session_id, exact=scope.exact,
                 alive_at=alive_at)  # fmt: skip


def _filter(scope: Filter) -> ScopeFilter:
    return ScopeFilter(scope.user_id, scope.agent_id, scope.session_id, exact=scope.exact)
