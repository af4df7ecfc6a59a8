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
    """The rows of the Markdown table under ``## title`` (or ``###``), header first, stripped."""
    lines = report.split(f"## {title}\n", 1)[1].split("\n#", 1)[0].splitlines()
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


def _two_conversations() -> list[dict[str, Any]]:
    """The sample, and a second conversation with other words: enough for two folds."""
    first = _sample()[0]
    second = json.loads(
        json.dumps(first)
        .replace("corgi", "beagle")
        .replace("Lisbon", "Porto")
        .replace("conv-test", "conv-other")
    )
    return [first, second]


def test_the_fold_path_tunes_on_one_conversation_and_scores_the_other(
    quality: ModuleType, tmp_path: Path
) -> None:
    data = tmp_path / "tiny-locomo.json"
    data.write_text(json.dumps(_two_conversations()), encoding="utf-8")
    out = tmp_path / "quality.md"

    code = quality.main([str(data), "--budgets", "200", "--out", str(out), "--misses", "0"])

    assert code == 0
    report = out.read_text(encoding="utf-8")
    table = _section(report, "In fold and out of fold")
    assert table[0] == ["", "B=200"]
    assert [row[0] for row in table[1:]] == [
        "defaults, every conversation",
        "tuned, in fold (mean over folds)",
        "tuned, out of fold (pooled)",
    ]
    for row in table[1:]:
        # "recall (min-max, sd spread)"
        assert re.fullmatch(r"\d\.\d{3} \(\d\.\d{3}-\d\.\d{3}, sd \d\.\d{3}\)", row[1])
    assert "2 folds over 2 conversations (leave one conversation out)" in report
    assert report.count("without conv-") == 2
    per_category = _section(report, "Out of fold per category (defaults in brackets)")
    assert [row[0] for row in per_category[1:]] == ["multi-hop", "temporal", "open-domain",
                                                    "single-hop"]  # fmt: skip
    ablation = _section(report, "What each tuned setting earns out of fold")
    assert [row[0] for row in ablation[1:]] == [
        "`other_speaker_weight=1.0`", "`recency_weight=0.0`", "`text_share=0.5`",
        "`fusion=score`", "`fusion=rrf`",
    ]  # fmt: skip
    folds = importlib.import_module("folds")
    assert len(_section(report, "Every grid point on every conversation (in fold)")) == 1 + len(
        folds.grid()
    )


def test_out_of_fold_scores_each_conversation_with_what_the_others_chose() -> None:
    import numpy as np

    folds = importlib.import_module("folds")
    points = folds.grid({"recency_weight": (0.02, 0.0)})
    keep, drop = points
    scores = folds.GridScores([500], points)
    # "drop" is better on a and b but worse on c: tuned without c, c pays for it;
    # tuned without a (or b), c outweighs the other and "keep" is chosen
    table = {("a", keep): 0.5, ("a", drop): 0.9, ("b", keep): 0.5, ("b", drop): 0.9,
             ("c", keep): 0.8, ("c", drop): 0.2}  # fmt: skip
    for (conversation, point), recall in table.items():
        scores.categories[conversation] = np.array([4, 4])
        scores.add(point.label, conversation, 500, [recall, recall])

    cv = folds.cross_validate(scores, points, 3)

    chosen = {tuple(f.held_out): f.chosen for f in cv.folds}
    assert chosen == {("a",): keep, ("b",): keep, ("c",): drop}
    assert cv.pooled[500, None] == pytest.approx((0.5 + 0.5 + 0.2) / 3)
    assert cv.folds[2].in_fold[500] == pytest.approx(0.9)
    # a tie goes to the first point: the default
    even = folds.GridScores([500], points)
    for point in points:
        for conversation in "ab":
            even.categories[conversation] = np.array([1])
            even.add(point.label, conversation, 500, [0.5])
    assert {f.chosen for f in folds.cross_validate(even, points, 2).folds} == {keep}
