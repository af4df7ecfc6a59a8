"""The README's quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    block = re.search(r"## Quick start\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    script = tmp_path / "quick_start.py"
    script.write_text(block.group(1))
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "I moved to Lisbon in May." in out.stdout
    assert "context: " in out.stdout
    assert "/1000 tokens" in out.stdout
    assert (tmp_path / "memory").is_dir()


def test_lifecycle_example_runs_as_written(tmp_path: Path) -> None:
    block = re.search(r"## Lifecycle\n\n.*?```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    script = tmp_path / "lifecycle.py"
    script.write_text(block.group(1))
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    searched, merges, forgotten, pinned = out.stdout.splitlines()
    assert "7741" not in searched
    assert "Prefers tea" in merges
    assert "same text" in merges
    assert forgotten.startswith("0 ")
    assert "pinned by user" in pinned
    assert out.stderr == ""
