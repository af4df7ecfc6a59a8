"""Store upkeep off the hot path: compaction and index refresh in a background thread.

Every write adds a small fragment to the LanceDB table, and unindexed rows are
searched by a flat scan; both slow searches down as they pile up (at 500 one-row
writes, `build_context` went from 17 ms to 180 ms). After every `optimize_every`
written rows, one background thread compacts the table and updates its indexes,
while calls go on.

Rounds never overlap: while one runs, writes only add to the next one's count.
Compaction rewrites fragments until they reach a million rows, so at that scale a
round costs tens of seconds of one core; spacing rounds further apart is no cure,
as every small fragment left meanwhile slows each search (240 one-row fragments on
a 10k table: full-text search 4 ms -> 40 ms).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Maintainer"]

logger = logging.getLogger("tiermem.maintenance")


class Maintainer:
    """Runs ``optimize`` in the background once enough rows were written."""

    def __init__(self, optimize: Callable[[], object], every: int | None) -> None:
        self._optimize = optimize
        self._every = every
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def note_writes(self, rows: int) -> None:
        if self._every is None:
            return
        with self._lock:
            self._pending += rows
            if self._pending < self._every or self._running():
                return
            self._pending = 0
            self._thread = threading.Thread(
                target=self._run, name="tiermem-maintenance", daemon=True
            )
            self._thread.start()

    def _running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._optimize()
        except Exception:
            # upkeep must never break the caller; the next round tries again
            logger.exception("background optimize failed")

    def wait(self, timeout: float | None = None) -> None:
        """Block until a running upkeep round is done (used by close)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
