"""The MCP adapter's surface, and `tiermem mcp`'s errors: one line, exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import mcp_tiermem
from tiermem.cli import app

runner = CliRunner()


def test_exported_names_are_pinned() -> None:
    assert mcp_tiermem.__all__ == ["McpScope", "create_server", "serve"]
    assert (Path(mcp_tiermem.__file__).parent / "py.typed").is_file()


def test_help_names_the_tools() -> None:
    result = runner.invoke(app, ["mcp", "--help"])
    assert result.exit_code == 0
    assert "remember, search, build_context, update, forget" in " ".join(result.output.split())


def test_a_server_needs_a_scope(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mcp", "--store", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "scope: name a user or an agent" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s").exists()  # refused before anything was created


def test_an_unknown_transport_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mcp", "--user", "u1", "--transport", "sse"])
    assert result.exit_code == 1
    assert "--transport: must be 'stdio' or 'streamable-http', got 'sse'" in result.output
