"""The hot-path floor benchmark runs end to end at a tiny size and prints every row."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_hot_floor_at_a_tiny_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    hot_floor = importlib.import_module("hot_floor")
    out = tmp_path / "floor.json"
    argv = ["--sizes", "600", "--users", "6", "--queries", "12", "--workdir", str(tmp_path),
            "--out", str(out)]  # fmt: skip
    assert hot_floor.main(argv) == 0
    printed = capsys.readouterr().out
    ratio = re.search(r"build_context one scope\s+([\d.]+)\s+\(([\d.]+)x the floor\)", printed)
    assert ratio, printed
    assert float(ratio.group(1)) > 0
    assert float(ratio.group(2)) > 0
    (result,) = json.loads(out.read_text(encoding="utf-8"))
    assert result["size"] == 600
    assert result["build_context one scope"]["p50"] > 0
    assert 0.0 < result["hot vector recall"] <= 1.0
