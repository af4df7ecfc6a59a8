"""The README's quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _run_block(pattern: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run the README's code block that ``pattern`` captures, as written, in ``folder``."""
    block = re.search(pattern, README.read_text(), re.S)
    assert block is not None
    script = folder / "example.py"
    script.write_text(block.group(1))
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, check=True
    )


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    out = _run_block(r"## Quick start\n\n```python\n(.*?)```", tmp_path)
    assert "I moved to Lisbon in May." in out.stdout
    assert "context: " in out.stdout
    assert "/1000 tokens" in out.stdout
    assert (tmp_path / "memory").is_dir()


def test_lifecycle_example_runs_as_written(tmp_path: Path) -> None:
    out = _run_block(r"## Lifecycle\n\n.*?```python\n(.*?)```", tmp_path)
    searched, merges, forgotten, pinned = out.stdout.splitlines()
    assert "7741" not in searched
    assert "Prefers tea" in merges
    assert "same text" in merges
    assert forgotten.startswith("0 ")
    assert "pinned by user" in pinned
    assert out.stderr == ""
