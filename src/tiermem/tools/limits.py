"""Per-tool limits shared by threads: a sliding-window rate limiter and a TTL+LRU cache."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["RateLimiter", "TTLCache"]

V = TypeVar("V")


class RateLimiter:
    """At most ``limit`` admissions per ``window`` seconds for each key (sliding window)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._admitted: dict[Hashable, deque[float]] = {}
        self._next_sweep = time.monotonic() + window

    def acquire(self, key: Hashable = None) -> float:
        """Admit one call for ``key`` and return 0.0, or return the seconds until one may be."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            stamps = self._admitted.setdefault(key, deque())
            while stamps and stamps[0] <= now - self.window:
                stamps.popleft()
            if len(stamps) >= self.limit:
                return max(stamps[0] + self.window - now, 0.001)
            stamps.append(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        # per-user keys come and go; drop idle ones once a window so memory stays bounded
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        idle = [k for k, s in self._admitted.items() if not s or s[-1] <= now - self.window]
        for key in idle:
            del self._admitted[key]


class TTLCache(Generic[V]):
    """At most ``size`` entries, least recently used evicted first; each lives ``ttl`` seconds."""

    def __init__(self, size: int, ttl: float | None) -> None:
        self.size = size
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: V) -> None:
        expires = float("inf") if self.ttl is None else time.monotonic() + self.ttl
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
