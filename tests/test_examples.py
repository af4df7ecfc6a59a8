"""Every example runs offline as written, in a fresh interpreter, and prints what it claims."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import run_examples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ["quickstart", "budget_and_explain", "scopes", "tools", "metrics"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:tiermem"}
    commands = {name: [str(EXAMPLES / f"{name}.py")] for name in NAMES}
    return run_examples(commands, tmp_path_factory.mktemp("examples"), env)


def test_examples_are_short() -> None:
    for name in NAMES:
        assert len((EXAMPLES / f"{name}.py").read_text().splitlines()) <= 40


def test_quickstart(outputs: dict[str, str]) -> None:
    out = outputs["quickstart"]
    assert "records: 3" in out
    assert "top hit" in out
    assert "Lisbon" in out
    assert "memory: Prefers answers in Portuguese" in out
    assert "user: I moved to Lisbon in May." in out


def test_budget_and_explain(outputs: dict[str, str]) -> None:
    out = outputs["budget_and_explain"]
    for budget in (400, 120, 50):
        assert f"budget {budget:>3}:" in out
    assert "context: " in out
    assert "/120 tokens" in out
    assert "KEPT long_term" in out
    assert "married on 14 June" in out
    assert "LEFT" in out
    assert "over budget" in out


def test_scopes(outputs: dict[str, str]) -> None:
    out = outputs["scopes"]
    alice = next(line for line in out.splitlines() if line.startswith("alice finds"))
    bob = next(line for line in out.splitlines() if line.startswith("bob finds"))
    assert "peanuts" in alice
    assert "Miso" in alice
    assert "shellfish" not in alice
    assert "Rex" not in alice
    assert "shellfish" in bob
    assert "Rex" in bob
    assert "peanuts" not in bob
    assert "Miso" not in bob
    assert "no record crossed" in out


def test_tools(outputs: dict[str, str]) -> None:
    out = outputs["tools"]
    assert "'name': 'weather'" in out
    assert "ValidationError" in out
    assert out.count("sunny, 21 C in") == 3
    assert "RateLimited" in out
    assert "search_memory: Prefers green tea to coffee" in out
    assert "tool calls: 7 (2 failed)" in out


def test_metrics(outputs: dict[str, str]) -> None:
    out = outputs["metrics"]
    assert '"turns_added": 30.0' in out
    assert "add_message: p50" in out
    assert "over 30 calls" in out
    assert "# TYPE tiermem_turns_added_total counter" in out
    assert 'tiermem_build_context_seconds{quantile="0.99"}' in out
    assert "tiermem_add_message_seconds_count 30" in out
