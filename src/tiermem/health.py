"""Health: what an orchestrator's probe, `tiermem doctor` and a person can act on.

`diagnose` / `adiagnose` measure one open store and this process and judge each
measure against `HealthConfig`; the report's status is its worst check's. Each
check is a small function of its own, so a new one is one more entry in
`_store_checks`, `_hot_checks` (the in-process index) or `_process_checks`.
The store checks are written once, on LanceDB's public sync API through the
store's own connection: `diagnose` runs them directly, `adiagnose` on a worker
thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa

from .callbacks import CallbackHandler
from .config import HealthConfig, MemoryConfig
from .hot.store import HotStore
from .long_term import SCHEMA_VERSION, LanceStore, read_meta
from .metrics import MetricsCallback

__all__ = ["Check", "HealthReport", "Limit", "Status", "adiagnose", "diagnose", "unopened"]

_SCRATCH_PREFIX = "tiermem_health_"
# a scratch table older than this was left by a process that died mid-check
_SCRATCH_STALE_MS = 10 * 60 * 1000
_MB = 1024 * 1024


class Status(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"

    @property
    def rank(self) -> int:
        return (Status.OK, Status.DEGRADED, Status.FAILING).index(self)


@dataclass(frozen=True, slots=True)
class Limit:
    """Where a measure stops being ok: above a maximum, or below a minimum (``below``)."""

    degraded: float | None = None
    failing: float | None = None
    below: bool = False

    def judge(self, value: float) -> Status:
        def past(limit: float | None) -> bool:
            return limit is not None and (value < limit if self.below else value > limit)

        if past(self.failing):
            return Status.FAILING
        return Status.DEGRADED if past(self.degraded) else Status.OK

    def __str__(self) -> str:
        sign = "<" if self.below else ">"
        parts = [f"{name} {sign} {_number(limit)}"
                 for name, limit in (("degraded", self.degraded), ("failing", self.failing))
                 if limit is not None]  # fmt: skip
        return ", ".join(parts) or "none"


@dataclass(frozen=True, slots=True)
class Check:
    """One measure: its value, the limit it was judged by and, when not ok, what to do."""

    name: str
    status: Status
    value: float | str | None
    unit: str = ""
    limit: Limit | None = None
    advice: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        limit = self.limit
        return {
            "name": self.name, "status": self.status.value, "value": self.value,
            "unit": self.unit, "threshold": str(limit) if limit else None,
            "degraded_at": limit.degraded if limit else None,
            "failing_at": limit.failing if limit else None,
            "advice": self.advice, "detail": self.detail,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The overall status (the worst check's) and every check."""

    status: Status
    checks: tuple[Check, ...]
    seconds: float = 0.0
    store: str = ""
    checked_at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def check(self, name: str) -> Check:
        """The check of this name; `KeyError` if the report has none."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value, "store": self.store, "checked_at": self.checked_at,
            "seconds": round(self.seconds, 4), "checks": [c.to_dict() for c in self.checks],
        }  # fmt: skip


def report(checks: Sequence[Check], *, seconds: float = 0.0, store: str = "") -> HealthReport:
    worst = max((c.status for c in checks), key=lambda s: s.rank, default=Status.OK)
    return HealthReport(worst, tuple(checks), seconds, store)


def unopened(uri: str, error: BaseException) -> HealthReport:
    """The report of a store that could not be opened at all."""
    check = Check("store_opens", Status.FAILING, None, advice=_OPEN_ADVICE, detail=str(error))
    return report([check], store=uri)


def diagnose(
    store: LanceStore,
    config: MemoryConfig,
    callbacks: Iterable[CallbackHandler],
    hot: HotStore | None = None,
) -> HealthReport:
    started = time.perf_counter()
    checks = _store_checks(store, config, hot=hot is not None)
    checks += _hot_checks(hot, config.health)
    checks += _process_checks(store, config.health, callbacks)
    return report(checks, seconds=time.perf_counter() - started, store=store.uri)


async def adiagnose(
    store: LanceStore,
    config: MemoryConfig,
    callbacks: Iterable[CallbackHandler],
    hot: HotStore | None = None,
) -> HealthReport:
    started = time.perf_counter()
    # the store checks write and read a scratch table: blocking I/O, off the event loop
    checks = await asyncio.to_thread(_store_checks, store, config, hot=hot is not None)
    # the lag check asks LanceDB for its version: off the event loop
    checks += await asyncio.to_thread(_hot_checks, hot, config.health)
    checks += _process_checks(store, config.health, callbacks)
    return report(checks, seconds=time.perf_counter() - started, store=store.uri)


# --- the store ---------------------------------------------------------------------

_OPEN_ADVICE = "check the URI, its permissions and storage_options; the detail says why"
_WRITE_ADVICE = "the store refused a write: check its permissions, free space and storage_options"
_OPTIMIZE_ADVICE = (
    "run `tiermem optimize` (or mem.optimize()); if it comes back, background upkeep "
    "(long_term.optimize_every) is off or failing"
)


def _store_checks(store: LanceStore, config: MemoryConfig, *, hot: bool) -> list[Check]:
    health = config.health
    probes: list[tuple[tuple[str, ...], Callable[[], list[Check]]]] = [
        (("store_writable",), lambda: _writable(store, health)),
        (("schema_version",), lambda: _schema(store)),
        (("full_text_index", "vector_index"), lambda: _indexes(store, config, hot=hot)),
        (("versions_since_optimize",), lambda: _versions(store, health)),
    ]
    checks: list[Check] = []
    for names, probe in probes:
        try:
            checks += probe()
        except Exception as exc:
            # a broken store fails its checks one by one; the report still comes back
            checks += [Check(name, Status.FAILING, None, advice=_OPEN_ADVICE, detail=str(exc))
                       for name in names]  # fmt: skip
    return checks


def _writable(store: LanceStore, health: HealthConfig) -> list[Check]:
    """A scratch table written, read back and dropped: user tables are never touched."""
    connection = store.connection
    now_ms = int(time.time() * 1000)
    name = f"{_SCRATCH_PREFIX}{now_ms}_{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    table = connection.create_table(name, data=pa.table({"probe": [name]}))
    try:
        rows = table.count_rows()
    finally:
        connection.drop_table(name)
    elapsed_ms = (time.perf_counter() - started) * 1000
    _drop_stale_scratch(connection, now_ms)
    limit = Limit(degraded=health.write_probe_ms_degraded)
    if rows != 1:
        return [Check("store_writable", Status.FAILING, rows, "rows", None, _WRITE_ADVICE,
                      "the scratch row did not read back")]  # fmt: skip
    status = limit.judge(elapsed_ms)
    advice = None if status is Status.OK else "the storage is slow: check its latency and load"
    detail = "scratch table written, read back and dropped"
    return [Check("store_writable", status, round(elapsed_ms, 2), "ms", limit, advice, detail)]


def _drop_stale_scratch(connection: Any, now_ms: int) -> None:
    token = None
    names: list[str] = []
    while True:
        page = connection.list_tables(page_token=token)
        names += page.tables
        token = page.page_token
        if not token:
            break
    for name in names:
        stamp = name.removeprefix(_SCRATCH_PREFIX).partition("_")[0]
        stale = stamp.isdigit() and now_ms - int(stamp) > _SCRATCH_STALE_MS
        if name.startswith(_SCRATCH_PREFIX) and stale:
            connection.drop_table(name)


def _schema(store: LanceStore) -> list[Check]:
    meta = read_meta(store.connection)
    version = int(meta.get("schema_version", "0"))
    if version == SCHEMA_VERSION:
        return [Check("schema_version", Status.OK, version, detail=f"this tiermem reads {version}")]
    advice = "open the store with the tiermem version that wrote it, or export and import it"
    detail = f"this tiermem reads version {SCHEMA_VERSION}"
    return [Check("schema_version", Status.FAILING, version, advice=advice, detail=detail)]


def _indexes(store: LanceStore, config: MemoryConfig, *, hot: bool) -> list[Check]:
    table = store.table
    health = config.health
    limit = Limit(health.unindexed_rows_degraded, health.unindexed_rows_failing)
    indices = table.list_indices()
    by_column = {column: index for index in indices for column in index.columns}
    rows: int = table.count_rows()
    checks = []
    text = by_column.get("text")
    unindexed = rows if text is None else int(text.num_unindexed_rows or 0)
    status = limit.judge(unindexed)
    detail = "no full-text index" if text is None else "searched by a scan until indexed"
    checks.append(Check("full_text_index", status, unindexed, "rows", limit,
                        None if status is Status.OK else _OPTIMIZE_ADVICE, detail))  # fmt: skip
    vector = by_column.get("vector")
    wanted_from = config.long_term.vector_index_rows
    if vector is not None:
        unindexed = int(vector.num_unindexed_rows or 0)
        detail = "searched by a scan until indexed"
    elif hot:
        unindexed, detail = 0, "vectors are searched by the in-process index (the hot path)"
    elif wanted_from is not None and rows >= wanted_from:
        unindexed, detail = rows, f"no vector index yet at {rows} rows (built from {wanted_from})"
    else:
        unindexed, detail = 0, "exact search: the table is below long_term.vector_index_rows"
    status = limit.judge(unindexed)
    checks.append(Check("vector_index", status, unindexed, "rows", limit,
                        None if status is Status.OK else _OPTIMIZE_ADVICE, detail))  # fmt: skip
    return checks


def versions_since_optimize(versions: Sequence[dict[str, Any]]) -> int:
    """Versions after the newest one that optimize left: an index-only commit (its
    metadata equal to its predecessor's) or a compaction (fewer fragments, same rows)."""
    ordered = sorted(versions, key=lambda v: int(v["version"]))
    last_marker = 0
    for i in range(1, len(ordered)):
        before, now = ordered[i - 1].get("metadata", {}), ordered[i].get("metadata", {})
        fewer = int(now.get("total_fragments", 0)) < int(before.get("total_fragments", 0))
        compacted = fewer and now.get("total_rows") == before.get("total_rows")
        if now == before or compacted:
            last_marker = i
    return len(ordered) - 1 - last_marker


def _versions(store: LanceStore, health: HealthConfig) -> list[Check]:
    versions = store.table.list_versions()
    count = versions_since_optimize(versions)
    limit = Limit(health.versions_since_optimize_degraded, health.versions_since_optimize_failing)
    status = limit.judge(count)
    advice = None if status is Status.OK else _OPTIMIZE_ADVICE
    detail = f"{len(versions)} versions kept"
    return [Check("versions_since_optimize", status, count, "versions", limit, advice, detail)]


# --- the in-process index ----------------------------------------------------------

_BACKLOG_ADVICE = (
    "commits to the store fall behind the writes: check the store's disk or object "
    "storage latency; acknowledged writes are safe in the write-ahead log meanwhile"
)
_LAG_ADVICE = (
    "this process has not read since other instances wrote: its next read catches up; "
    "if the lag stays, look for errors in the 'tiermem' logger"
)


def _hot_checks(hot: HotStore | None, health: HealthConfig) -> list[Check]:
    if hot is None:
        return []  # hot.enabled is off: LanceDB serves every operation
    limit = Limit(health.write_backlog_degraded, health.write_backlog_failing)
    status = limit.judge(hot.backlog)
    checks = [Check("write_backlog", status, hot.backlog, "writes", limit,
                    None if status is Status.OK else _BACKLOG_ADVICE,
                    "acknowledged, not yet committed to the store")]  # fmt: skip
    if hot.load_error is not None:
        checks.append(Check("index_lag", Status.DEGRADED, None, advice=(
            "the in-process index could not load, so LanceDB serves every read (slower); "
            "reopen the store to try again"), detail=str(hot.load_error)))  # fmt: skip
        return checks
    lag = hot.lag()
    if lag is None:
        checks.append(Check("index_lag", Status.OK, "loading", detail=(
            "the in-process index is loading; LanceDB serves reads meanwhile")))  # fmt: skip
        return checks
    limit = Limit(health.index_lag_versions_degraded, health.index_lag_versions_failing)
    status = limit.judge(lag)
    checks.append(Check("index_lag", status, lag, "versions", limit,
                        None if status is Status.OK else _LAG_ADVICE,
                        "table versions the in-process index has not taken in"))  # fmt: skip
    return checks


# --- the process -------------------------------------------------------------------


def _process_checks(
    store: LanceStore, health: HealthConfig, callbacks: Iterable[CallbackHandler]
) -> list[Check]:
    checks = []
    disk = _disk_free(store.uri, health)
    if disk is not None:
        checks.append(disk)
    checks.append(_rss(health))
    for handler in callbacks:
        if isinstance(handler, MetricsCallback):
            checks += _latencies(handler, health)
    return checks


def _local_path(uri: str) -> Path | None:
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return None if "://" in uri else Path(uri)


def _disk_free(uri: str, health: HealthConfig) -> Check | None:
    path = _local_path(uri)
    if path is None:
        return None  # memory:// and object storage have no local disk to fill
    while not path.exists() and path != path.parent:
        path = path.parent
    free_mb = shutil.disk_usage(path).free / _MB
    limit = Limit(health.disk_free_mb_degraded, health.disk_free_mb_failing, below=True)
    status = limit.judge(free_mb)
    advice = None if status is Status.OK else "free space on the store's volume, or move the store"
    return Check("disk_free", status, round(free_mb, 1), "MB", limit, advice,
                 "on the volume that holds the store")  # fmt: skip


def process_rss_mb() -> tuple[float, str]:
    """This process's resident memory in MB, and how it was measured."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / _MB, "resident now"
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # kilobytes on Linux, bytes on macOS
        return peak / (_MB if sys.platform == "darwin" else 1024), "peak so far"


def _rss(health: HealthConfig) -> Check:
    rss, how = process_rss_mb()
    limit = Limit(health.rss_mb_degraded, health.rss_mb_failing)
    status = limit.judge(rss)
    advice = None if status is Status.OK else (
        "bound LanceDB's caches (long_term.index_cache_mb, long_term.metadata_cache_mb) "
        "or restart the process"
    )  # fmt: skip
    return Check("process_rss", status, round(rss, 1), "MB", limit, advice, how)


def _latencies(metrics: MetricsCallback, health: HealthConfig) -> list[Check]:
    checks = []
    for operation, stats in sorted(metrics.snapshot()["latency"].items()):
        if stats["count"] < health.latency_min_samples:
            continue
        degraded = health.latency_p95_ms_by_operation.get(operation, health.latency_p95_ms_degraded)
        limit = Limit(degraded, health.latency_p95_ms_failing)
        p95 = float(stats["p95"]) * 1000
        status = limit.judge(p95)
        advice = None if status is Status.OK else (
            "look at the index and version checks and run optimize; for object storage, "
            "check the network; raise the threshold if this is expected"
        )  # fmt: skip
        detail = f"over the last {stats['count']} calls"
        checks.append(Check(f"latency_p95.{operation}", status, round(p95, 2), "ms", limit,
                            advice, detail))  # fmt: skip
    return checks


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
