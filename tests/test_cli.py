"""The command line, through typer's test runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tiermem import TieredMemory
from tiermem.cli import app

runner = CliRunner()


def test_demo_ingests_the_sample_and_explains_a_budgeted_context(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--store", str(tmp_path / "demo"), "--max-tokens", "250"])
    assert result.exit_code == 0, result.output
    assert "Stored 23 turns" in result.output
    assert "allowed lateness of 24 hours" in result.output  # retrieved from March
    assert "context: " in result.output
    assert "/250 tokens" in result.output
    with TieredMemory(tmp_path / "demo") as mem:
        assert mem.stats()["turns"] == 23


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
