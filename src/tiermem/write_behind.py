"""Opt-in write-behind: appends acknowledged at once, committed together a moment later.

One LanceDB commit costs milliseconds whatever it holds; turns that arrive within
``delay`` seconds share one. The price is durability: turns acknowledged in the last
``delay`` are lost if the process dies before they are committed, and other instances
see them only once committed. Every other operation of the same store commits the
pending appends first, so this instance always reads its own writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from .errors import StoreError
from .records import MemoryRecord

__all__ = ["WriteBehind"]

logger = logging.getLogger("tiermem.write_behind")

#: appends held while commits keep failing, before new ones are refused
_MAX_PENDING = 100_000

Commit = Callable[[Sequence[MemoryRecord], NDArray[np.float32]], None]


class WriteBehind:
    """Holds appends for up to ``delay`` seconds, then commits them as one."""

    def __init__(self, commit: Commit, delay: float) -> None:
        self._commit = commit
        self._delay = delay
        self._pending: list[tuple[Sequence[MemoryRecord], NDArray[np.float32]]] = []
        self._rows = 0
        self._lock = threading.Lock()  # guards the pending list
        self._committing = threading.Lock()  # one commit at a time, in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._failure: Exception | None = None
        self._thread = threading.Thread(target=self._loop, name="tiermem-write-behind", daemon=True)
        self._thread.start()

    def add(self, records: Sequence[MemoryRecord], vectors: NDArray[np.float32]) -> None:
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._failure is not None and self._rows >= _MAX_PENDING:
                raise StoreError(f"{self._rows} appends wait on a failing store: {self._failure}")
            self._pending.append((records, vectors))
            self._rows += len(records)
        self._wake.set()

    @property
    def idle(self) -> bool:
        """Nothing waits and nothing is being committed."""
        return not self._pending and not self._committing.locked()

    def flush(self) -> None:
        """Commit every append acknowledged so far; raises `StoreError` if that fails."""
        with self._committing:
            with self._lock:
                batch, self._pending = self._pending, []
                self._rows = 0
            if not batch:
                return
            records = [r for part, _ in batch for r in part]
            try:
                self._commit(records, np.concatenate([vectors for _, vectors in batch]))
            except Exception as exc:
                with self._lock:
                    # nothing acknowledged is dropped: the batch waits for the next try
                    self._pending[:0] = batch
                    self._rows += len(records)
                    self._failure = exc
                raise
            with self._lock:
                self._failure = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()  # appends from now on call for the next round
            # let the turns of the next few ms join this commit; close cuts the wait short
            if self._stop.wait(self._delay):
                return  # close commits what is left
            try:
                self.flush()
            except Exception:
                logger.exception("background commit failed; the appends wait for the next one")
                self._stop.wait(self._delay)
                self._wake.set()

    def close(self) -> None:
        """Stop the background thread and commit what is left."""
        with self._lock:
            self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
