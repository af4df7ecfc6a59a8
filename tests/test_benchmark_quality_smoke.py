"""Smoke test of benchmarks/quality.py on a tiny LoCoMo-format file written here."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SYSTEM_LABELS = ["tiermem", "most recent turns", "BM25 over turns", "dense over turns"]


def _turn(speaker: str, dia_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text, **extra}


def _sample() -> list[dict[str, Any]]:
    session_1 = [
        _turn("Alice", "D1:1", "Hi Bob! How was your week?"),
        _turn("Bob", "D1:2", "Busy, but good. I started training for a marathon."),
        _turn("Alice", "D1:3", "My dog Biscuit is a corgi, and he loves chasing seagulls."),
        _turn("Bob", "D1:4", "Ha, a corgi! That must be fun at the beach."),
        _turn(
            "Alice", "D1:5", "I also signed up for pottery classes on Thursdays.",
            img_url=["https://example.invalid/x.jpg"], blip_caption="a photo of a clay bowl",
        ),
    ]  # fmt: skip
    session_2 = [
        _turn("Bob", "D2:1", "Hey Alice, long time no see!"),
        _turn("Bob", "D2:2", "I ran the Lisbon marathon last Sunday, finished in four hours."),
        _turn("Alice", "D2:3", "Congratulations! That is a great time."),
        _turn("Alice", "D2:4", "My pottery teacher says my bowls are getting better."),
        _turn("Bob", "D2:5", "You should sell them at the Saturday market."),
    ]
    return [
        {
            "sample_id": "conv-test",
            "conversation": {
                "speaker_a": "Alice",
                "speaker_b": "Bob",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": session_1,
                "session_2_date_time": "10:05 am on 20 June, 2023",
                "session_2": session_2,
            },
            "qa": [
                {"question": "What breed is Alice's dog Biscuit?", "answer": "corgi",
                 "evidence": ["D1:3"], "category": 4},
                {"question": "When did Bob run the Lisbon marathon?", "answer": "June 2023",
                 "evidence": ["D2:2"], "category": 2},
                # a readable but malformed list, and one id that points at no turn
                {"question": "What does Alice make in her pottery classes?", "answer": "bowls",
                 "evidence": ["D1:5; D2:04", "D9:9"], "category": 1},
                {"question": "What will Bob do?", "adversarial_answer": "x",
                 "evidence": ["D1:2"], "category": 5},
            ],
            # a memory system must never read these digests
            "session_summary": {"session_1_summary": "Alice's dog Biscuit is a corgi."},
            "event_summary": {},
            "observation": {},
        }
    ]  # fmt: skip


@pytest.fixture
def quality(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: import it as a script would
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("quality")


def _section(report: str, title: str) -> list[list[str]]:
    """The rows of the Markdown table under ``## title``, header first, cells stripped."""
    lines = report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [line for line in lines if line.startswith("|") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_quality_benchmark_on_a_tiny_file(quality: ModuleType, tmp_path: Path) -> None:
    data = tmp_path / "tiny-locomo.json"
    data.write_text(json.dumps(_sample()), encoding="utf-8")
    out = tmp_path / "results" / "quality.md"

    code = quality.main([str(data), "--budgets", "200", "500", "--out", str(out)])

    assert code == 0
    report = out.read_text(encoding="utf-8")
    assert "snap-research/LoCoMo" in report
    assert "Evidence ids dropped (unreadable or no such turn): 1 (conv-test:D9:9)" in report
    assert "3 scored questions" in report

    recall = _section(report, "Evidence recall (categories 1-4)")
    assert recall[0] == ["system", "B=200", "B=500"]
    assert [row[0] for row in recall[1:]] == SYSTEM_LABELS
    for budget in (200, 500):
        per_category = _section(report, f"Recall per category at B={budget}")
        assert per_category[0][0] == "system"
        assert per_category[0][-1] == "overall"
        assert len(per_category[0]) == 6
        assert [row[0] for row in per_category[1:]] == SYSTEM_LABELS
        header = per_category[0]
        single_hop = next(i for i, name in enumerate(header) if name.startswith("single-hop"))
        # the easy question shares rare words with its one evidence turn
        assert per_category[1][single_hop] == "1.000"
        for row in per_category[1:]:
            values = [cell for cell in row[1:] if cell != "-"]
            assert all(0.0 <= float(v) <= 1.0 for v in values)
    for title in (
        "Evidence recall (categories 1-4)",
        "Questions with all their evidence in the context",
    ):
        for row in _section(report, title)[1:]:
            assert all(0.0 <= float(v) <= 1.0 for v in row[1:])
    tokens = _section(report, "Mean context tokens")
    for row in tokens[1:]:
        assert int(row[1]) <= 200
        assert int(row[2]) <= 500
    assert re.search(r"tiermem ingest: \d+ turns/s \(10 turns", report)


def test_evidence_ids_are_normalised(quality: ModuleType) -> None:
    locomo = importlib.import_module("locomo")
    ids, unreadable = locomo.normalise_evidence(["D8:6; D9:17", "D:11:26", "D30:05 D1:2", "D"])
    assert ids == ["D8:6", "D9:17", "D11:26", "D30:5", "D1:2"]
    assert unreadable == ["D"]
    assert quality.SYSTEMS["tiermem"] == "tiermem"
