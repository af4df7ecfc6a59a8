"""`examples/langchain_agent.py` runs offline as written, in a fresh interpreter.

The same interpreter first checks what imports pull in (imports are slow, so one
process serves both): the core no framework, the adapter neither
langchain-classic (until `TiermemMemory` is asked for) nor transformers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import langchain_tiermem

EXAMPLE = Path(__file__).parents[2] / "examples" / "langchain_agent.py"

PRELUDE = """
import runpy, sys
import tiermem, tiermem.tools
frameworks = {"langchain", "langchain_core", "langgraph", "langchain_classic", "langchain_tiermem"}
leaked = sorted(m for m in sys.modules if m.split(".")[0] in frameworks)
assert not leaked, f"the core imported {leaked}"
import langchain_tiermem
assert "langchain_classic" not in sys.modules, "langchain-classic imported eagerly"
from langchain_tiermem import TiermemMemory
assert "langchain_classic" in sys.modules
runpy.run_path(sys.argv[1], run_name="__main__")
assert "transformers" not in sys.modules, "something fell back to the GPT-2 tokenizer"
"""


def test_example_runs_offline_and_imports_stay_apart() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    adapter = str(Path(langchain_tiermem.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [adapter, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "assistant: Your gym locker code is 4417." in out
    assert "the locker code reached the model through tiermem's memory section: True" in out
    tokens = int(out.split("last model call: ")[1].split(" messages, ")[1].split(" tokens")[0])
    assert tokens <= 600
    assert "[memory] Ana prefers window seats on trains" in out
    assert "tool calls: 2" in out
