"""Small builders shared by the tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tiermem.records import Kind, MemoryRecord

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def turn(
    seq: int,
    text: str = "hello",
    *,
    role: str = "user",
    tokens: int = 10,
    metadata: dict[str, Any] | None = None,
) -> MemoryRecord:
    return MemoryRecord(
        id=f"t{seq:04d}",
        kind=Kind.TURN,
        text=text,
        timestamp=BASE + timedelta(minutes=seq),
        role=role,
        session_id="s",
        seq=seq,
        tokens=tokens,
        metadata=metadata or {},
    )


def run_examples(
    commands: Mapping[str, Sequence[str]],
    cwd: Path,
    env: Mapping[str, str],
    *,
    quiet: bool = False,
) -> dict[str, str]:
    """Each command's stdout by name, run as ``python *command`` in ``cwd``, all at once.

    Each must exit 0, and with ``quiet`` write nothing on stderr; none may leave a file
    in ``cwd``. All at once: each interpreter spends most of its time importing.
    """
    running = {
        name: subprocess.Popen(
            [sys.executable, *command],
            cwd=cwd,
            env=dict(env),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, command in commands.items()
    }
    results = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, f"{name} failed:\n{stderr}"
        if quiet:
            assert stderr == "", f"{name} wrote on stderr:\n{stderr}"
        results[name] = stdout
    assert list(cwd.iterdir()) == []  # nothing left behind in the working directory
    return results
