"""Smoke test of benchmarks/speed.py: a tiny store, tiermem and one cheap peer."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SIZE = 300
# rows of the tiermem table whose every number must be positive
POSITIVE_ROWS = (
    "rows in the store",
    "bulk `add_messages`, full batches, fresh store (turns/s)",
    "store build: `add_messages` per user (turns/s)",
    "`add_message` one by one (turns/s)",
    "`add_message` p50 / p95 (ms)",
    "`add_message` p50 / p95, opt-in write-behind of 20 ms (ms)",
    "`optimize()` after ingest (s)",
    "`search`, by user: p50 / p95 / p99 (ms)",
    "`search`, one scope: p50 / p95 / p99 (ms)",
    "`build_context`, by user: p50 / p95 / p99 (ms)",
    "`build_context`, one scope: p50 / p95 / p99 (ms)",
    "context built (tokens, items kept)",
    "peak RSS, building and querying (MB)",
    "peak RSS, a fresh process serving the store (MB)",
    "cold start: import / open / first context (s)",
    "cold start: whole process (s)",
)


@pytest.fixture
def speed(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    pytest.importorskip("langchain_classic")
    # benchmarks/ is a folder of scripts, not a package: import it as a script would
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("speed")


def _section(report: str, title: str) -> list[list[str]]:
    """The rows of the Markdown table under ``## title``, header first, cells stripped."""
    lines = report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [line for line in lines if line.startswith("|") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _numbers(cell: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", cell)]


def test_speed_benchmark_at_a_tiny_size(speed: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "results" / "speed.md"
    argv = ["--sizes", str(SIZE), "--users", "30", "--singles", "60", "--queries", "12",
            "--batch", "50", "--probe-batches", "2", "--peers", "lc-vector",
            "--peer-sizes", str(SIZE),
            "--out", str(out)]  # fmt: skip

    assert speed.main(argv) == 0

    report = out.read_text(encoding="utf-8")
    assert "Reproduce: `python benchmarks/speed.py --sizes 300" in report
    assert re.search(r"Machine: \d+ cores, Python 3\.\d+", report)

    targets = _section(report, "Targets (issue 15)")
    assert targets[0] == ["target", "measured", "met"]
    assert [row[0] for row in targets[1:]] == list(speed.TARGETS)
    assert all(row[2] in {"yes", "no", "-"} for row in targets[1:])
    measured = {row[0]: row[1] for row in targets[1:]}
    # measured at any size: add_message against the fsync'd line, and both ingest rates
    for target in speed.TARGETS[5:8]:
        assert f"at {SIZE}" in measured[target], (target, measured[target])

    table = _section(report, "tiermem by store size")
    assert table[0] == ["metric", str(SIZE)]
    cells = {row[0]: row[1] for row in table[1:]}
    assert set(POSITIVE_ROWS) <= set(cells)
    assert _numbers(cells["rows in the store"]) == [SIZE]
    for label in POSITIVE_ROWS:
        numbers = _numbers(cells[label])
        assert numbers, label
        assert all(n > 0 for n in numbers), (label, cells[label])

    peers = _section(report, f"Peers at {SIZE} turns")
    assert len(peers[0]) == 10
    assert [row[0] for row in peers[1:]] == ["tiermem", "LangChain VectorStoreRetrieverMemory"]
    for row in peers[1:]:
        assert row[-1] == "", row  # no error, no timeout
        for cell in row[1:7]:
            assert all(n > 0 for n in _numbers(cell)), row
            assert _numbers(cell), row
