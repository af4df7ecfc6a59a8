"""What importing tiermem loads: nothing heavy until a name that needs it is used.

Timings live in benchmarks/import_time.py; these tests pin the behaviour behind them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tiermem

HEAVY = ["lancedb", "pyarrow", "numpy", "pydantic", "tiktoken", "lance_namespace"]


def _loaded_after(code: str, *args: str) -> dict[str, bool]:
    probe = f"""
import json, sys
{code}
print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    )
    loaded: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_import_tiermem_loads_nothing_heavy() -> None:
    assert _loaded_after("import tiermem; tiermem.__version__") == dict.fromkeys(HEAVY, False)


def test_errors_load_without_the_store() -> None:
    loaded = _loaded_after("from tiermem import StoreError, TieredMemoryError")
    assert loaded == dict.fromkeys(HEAVY, False)


def test_a_name_that_needs_the_store_loads_it() -> None:
    assert _loaded_after("from tiermem import TieredMemory")["lancedb"]


def test_cli_help_loads_nothing_heavy() -> None:
    code = """
from tiermem.cli import main
try:
    main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
"""
    assert _loaded_after(code, "--help") == dict.fromkeys(HEAVY, False)


def test_unknown_attributes_still_raise() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        tiermem.Nope  # noqa: B018
    assert {"TieredMemory", "MemoryConfig", "__version__"} <= set(dir(tiermem))
