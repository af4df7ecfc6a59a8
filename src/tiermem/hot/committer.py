"""Group commit: acknowledged writes reach LanceDB in order, many per commit, off the caller.

A LanceDB commit costs milliseconds whatever it holds; writes that arrive while one
is running share the next. The writes were logged (and indexed in process) before
they were queued, so a failure here loses nothing: the batch waits and is tried
again, and `backlog` says how much is waiting (the health report reads it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import StoreError
from ..long_term import Delete, Insert, Operation, Upsert, stamp

__all__ = ["GroupCommit"]

logger = logging.getLogger("tiermem.hot")

#: seconds between tries while the store keeps failing
_RETRY_SECONDS = 0.5


@dataclass(slots=True)
class _Queued:
    op: Operation
    lsn: int  # the write-ahead log's number for it (0: not logged)
    tries: int = 0
    #: set for a call whose caller waits on its result (upkeep), not for a write
    result: Future[Any] | None = field(default=None)


def _rows(op: Operation) -> int:
    return len(op.records) if isinstance(op, Insert | Upsert) else int(isinstance(op, Delete))


def _stamps_of(op: Insert) -> list[int]:
    written = op.written
    if written is None:
        return [stamp()] * len(op.records)
    return [written] * len(op.records) if isinstance(written, int) else list(written)


def _coalesced(batch: list[_Queued]) -> list[_Queued]:
    """Runs of appends as one append: one commit instead of one each."""
    out: list[_Queued] = []
    for item in batch:
        last = out[-1] if out else None
        if (
            last is not None
            and isinstance(item.op, Insert)
            and isinstance(last.op, Insert)
            and not item.tries
            and not last.tries
        ):
            vectors = np.concatenate([last.op.vectors, item.op.vectors])
            # each row keeps its own stamp: a later one would outdate a delete made since
            stamps = [*_stamps_of(last.op), *_stamps_of(item.op)]
            records = [*last.op.records, *item.op.records]
            out[-1] = _Queued(Insert(records, vectors, stamps), item.lsn)
        else:
            out.append(item)
    return out


class GroupCommit:
    """A thread that applies queued writes to the store, in order, in groups.

    Args:
        apply: runs one operation on LanceDB (raises on failure).
        committed: told the log number through which everything is committed.
    """

    def __init__(self, apply: Callable[[Operation], Any], committed: Callable[[int], None]):
        self._apply = apply
        self._committed = committed
        self._queue: list[_Queued] = []
        self._rows = 0
        self._busy = False
        self._closed = False
        self.failure: Exception | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="tiermem-commit", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Rows (and deletes) acknowledged but not yet committed."""
        return self._rows

    def push(self, op: Insert | Upsert | Delete, lsn: int = 0) -> None:
        with self._changed:
            if self._closed:
                raise StoreError("the store is closed")
            self._queue.append(_Queued(op, lsn))
            self._rows += _rows(op)
            self._changed.notify_all()

    def call(self, op: Operation) -> Any:
        """Run ``op`` on the commit thread after what is queued, and return its result.

        Upkeep (compaction, index builds) runs here so that it never races a commit:
        LanceDB's native code has crashed with both at once on one table.
        """
        result: Future[Any] = Future()
        with self._changed:
            if self._closed:
                raise StoreError("the store is closed")
            self._queue.append(_Queued(op, 0, result=result))
            self._changed.notify_all()
        return result.result()

    def flush(self) -> None:
        """Wait until everything queued so far is committed; `StoreError` if it cannot be."""
        with self._changed:
            while self._queue or self._busy:
                if self.failure is not None and not self._busy:
                    raise StoreError(f"writes wait on a failing store: {self.failure}")
                self._changed.wait(0.05)

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    return
                batch, self._queue = _coalesced(self._queue), []
                self._busy = True
            done = self._run(batch)
            with self._changed:
                left = batch[done:]
                self._queue[:0] = left
                self._rows -= sum(_rows(item.op) for item in batch[:done])
                self._busy = False
                self._changed.notify_all()
                closing = self._closed
            if left and not closing:
                threading.Event().wait(_RETRY_SECONDS)
            elif left:
                return  # closing on a failing store: the log keeps what is left

    def _run(self, batch: list[_Queued]) -> int:
        """Apply ``batch`` in order; how many items went through."""
        for done, item in enumerate(batch):
            op = item.op
            if item.tries and isinstance(op, Insert):
                op = Upsert(op.records, op.vectors, op.written)  # it may have landed already
            item.tries += 1
            if item.result is not None:  # a call: its caller handles the outcome
                try:
                    item.result.set_result(self._apply(op))
                except Exception as exc:
                    item.result.set_exception(exc)
                continue
            try:
                self._apply(op)
            except Exception as exc:
                self.failure = exc
                logger.warning("commit to the store failed; it is retried: %s", exc)
                return done
            self.failure = None
            if item.lsn:
                self._committed(item.lsn)
        return len(batch)

    def close(self) -> None:
        """Commit what is queued (as far as the store allows) and stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()
