"""Without the classic extra, the legacy memory class says which extra to install."""

from __future__ import annotations

import subprocess
import sys

_BLOCKED = """
import sys
sys.modules["langchain_classic"] = None  # as if langchain-classic were not installed
import langchain_tiermem
try:
    langchain_tiermem.TiermemMemory
except ImportError as exc:
    print(type(exc).__name__, exc)
"""


def test_legacy_memory_without_the_extra_names_it() -> None:
    done = subprocess.run([sys.executable, "-c", _BLOCKED], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert 'pip install "tiermem[langchain-classic]"' in done.stdout
    assert not done.stdout.startswith("ModuleNotFoundError")
