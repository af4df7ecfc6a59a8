"""Store upkeep off the hot path: compaction and index refresh in a background thread.

Every write adds a small fragment to the LanceDB table, and unindexed rows are
searched by a flat scan; both slow searches down as they pile up (at 500 one-row
writes, `build_context` went from 17 ms to 180 ms). After every `optimize_every`
written rows, one background thread compacts the table and updates its indexes,
while calls go on.

Compaction rewrites every fragment smaller than a million rows, so a fixed cadence
would rewrite a growing table again and again (building a million rows at every 20k:
23 GB written); a round is also due only once the table grew by a tenth since the last.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Maintainer"]

logger = logging.getLogger("tiermem.maintenance")


class Maintainer:
    """Runs ``optimize`` in the background once enough rows were written."""

    def __init__(self, optimize: Callable[[], int], every: int | None) -> None:
        self._optimize = optimize  # returns the rows in the table
        self._every = every
        self._pending = 0
        self._rows = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def note_writes(self, rows: int) -> None:
        if self._every is None:
            return
        with self._lock:
            self._pending += rows
            if self._pending < max(self._every, self._rows // 10) or self._running():
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
            rows = self._optimize()
            with self._lock:
                self._rows = rows
        except Exception:
            # upkeep must never break the caller; the next round tries again
            logger.exception("background optimize failed")

    def wait(self, timeout: float | None = None) -> None:
        """Block until a running upkeep round is done (used by close)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
