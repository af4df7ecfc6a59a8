"""A long session, scaled down for CI: tiermem's own memory stays flat.

The 100k-turn figures come from ``benchmarks/long_run.py`` (see the README); this
test feeds a few thousand turns through one session with the default settings
(background compaction included) and checks what would break first at 100k: the
in-memory tiers stay within their budgets, the Python heap that tiermem's own code
holds does not grow with the turns, and every context stays within its budget.
LanceDB's own caches (outside the Python heap) are bounded by their settings (tested
in test_upkeep.py); latency over a long run is measured by the benchmark, never
asserted here.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import random
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tiermem import MemoryConfig, TieredMemory

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _long_run() -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: import it as a script would
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("long_run")
    finally:
        sys.path.remove(str(BENCHMARKS))


long_run = _long_run()


def feed(mem: TieredMemory, turns: Iterator[dict[str, str]], count: int) -> None:
    for _ in range(count // 100):
        mem.add_messages([next(turns) for _ in range(100)], session_id=long_run.SESSION)


def contexts_fit(mem: TieredMemory, rng: random.Random) -> None:
    for _ in range(9):
        query = f"when did {rng.choice(long_run._PEOPLE)} go to {rng.choice(long_run._PLACES)}?"
        ctx = mem.build_context(query, session_id=long_run.SESSION, max_tokens=2_000)
        assert ctx.token_count <= 2_000


# tiermem's own allocations, but for the embedder's chunk cache: bounded by its own
# limit (`static_embedding._CACHE_LIMIT`), it fills with every new word for a while
OWN = [tracemalloc.Filter(True, "*tiermem*"), tracemalloc.Filter(False, "*static_embedding.py")]
#: the in-process index holds every row by design: its bound per row is tested on the
#: index itself (tests/hot/test_hot_memory.py), where no LanceDB thread runs beside
#: tracemalloc (LanceDB's native threads crashed the process beside it now and then)
HOT = (f"*tiermem{os.sep}hot{os.sep}*", f"*tiermem{os.sep}records.py")
#: no background compaction while allocations are traced, for the same reason
QUIET = {"optimize_every": None}


def _heap_growth(store: Path, config: MemoryConfig) -> tuple[int, int, dict[str, int]]:
    """tiermem's heap growth over 2,000 turns of a warm session: outside the in-process
    index, inside it, and the session's window stats at the end."""
    rng = random.Random(11)
    turns = long_run.conversation(rng)
    with TieredMemory(store, config=config) as mem:
        # warm: the window is full, summaries are at their cap, compaction has run
        feed(mem, turns, 800)
        contexts_fit(mem, rng)
        tracemalloc.start()
        try:
            feed(mem, turns, 400)  # what is alive of the warm-up is now traced too
            before = tracemalloc.take_snapshot().filter_traces(OWN)
            feed(mem, turns, 2_000)
            after = tracemalloc.take_snapshot().filter_traces(OWN)
        finally:
            tracemalloc.stop()
        contexts_fit(mem, rng)
        session: dict[str, int] = mem.stats()["sessions"][long_run.SESSION]
    diff = after.compare_to(before, "filename")
    hot = sum(
        s.size_diff
        for s in diff
        if any(fnmatch.fnmatch(s.traceback[0].filename, pattern) for pattern in HOT)
    )
    return sum(s.size_diff for s in diff) - hot, hot, session


def test_a_long_session_keeps_its_memory_flat(tmp_path: Path) -> None:
    # without the in-process index, which keeps every row by design (and with it the
    # numbers each record holds, allocated where the turn was made)
    config = MemoryConfig(hot={"enabled": False}, long_term=QUIET)
    growth, _, session = _heap_growth(tmp_path / "store", config)
    print(f"long session: tiermem's heap grew {growth / 1e3:.1f} KB over 2,000 turns")
    assert session["short_term_tokens"] <= config.short_term.max_tokens
    assert session["summaries"] <= config.medium_term.max_summaries
    assert session["pending_turns"] * 5 < config.medium_term.trigger_tokens  # ~5+ tokens a turn
    # a record kept per turn would be ~1 KB a turn; merged summaries hold a span of
    # turns, not their ids, so nothing of tiermem's grows with the session
    assert growth < 100_000, "tiermem's own heap grows with the turns"


def test_the_long_run_benchmark_runs(tmp_path: Path) -> None:
    argv = ["--turns", "300", "--single", "50", "--batch", "50", "--every", "150",
            "--queries", "2"]  # fmt: skip
    samples = long_run.run(long_run.parse_args(argv), tmp_path / "store")
    assert [s.turns for s in samples] == [0, 150, 300]
    assert all(s.rss_mb > 0 and s.ctx_tokens <= 2_000 for s in samples)


def test_the_long_run_of_single_remember_calls_reports_its_flatness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--turns", "240", "--single", "240", "--every", "120", "--queries", "2",
            "--api", "remember"]  # fmt: skip
    samples = long_run.run(long_run.parse_args(argv), tmp_path / "store")
    assert [s.turns for s in samples] == [0, 120, 240]
    with TieredMemory(tmp_path / "store") as mem:
        assert mem.stats()["memories"] == 240
    assert "context p50 at 240 / at 120 turns" in capsys.readouterr().out
    report = long_run.flatness(samples, [1.0] * 100 + [3.0] * 100, window=100)
    assert "p50 of the last / first 100: 3.00 / 1.00 ms (3.00x)" in report
