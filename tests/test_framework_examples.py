"""The MCP, OpenAI Agents and pydantic-ai examples run offline as written, in fresh
interpreters, and say what they claim; importing the core pulls in none of them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from helpers import run_examples

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAMES = ["mcp_server", "openai_agents_session", "pydantic_ai_agent"]
ADAPTERS = [ROOT / "integrations" / d for d in ("mcp", "openai_agents", "pydantic_ai")]

PRELUDE = """
import runpy, sys
import tiermem, tiermem.tools, tiermem.cli
frameworks = {"mcp", "agents", "openai", "pydantic_ai", "mcp_tiermem", "openai_agents_tiermem",
              "pydantic_ai_tiermem"}
leaked = sorted(m for m in sys.modules if m.split(".")[0] in frameworks)
assert not leaked, f"the core imported {leaked}"
runpy.run_path(sys.argv[1], run_name="__main__")
"""


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, ADAPTERS), env.get("PYTHONPATH", "")])
    env["LANCEDB_LOG"] = "error"
    commands = {name: ["-c", PRELUDE, str(EXAMPLES / f"{name}.py")] for name in NAMES}
    return run_examples(commands, tmp_path_factory.mktemp("framework-examples"), env, quiet=True)


def _tokens(out: str, label: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(label + r": (\d+)/(\d+) tokens", out)]


def test_mcp_server(outputs: dict[str, str]) -> None:
    out = outputs["mcp_server"]
    assert "tools: build_context, forget, remember, search, update" in out
    assert "hit: I'm Ana; my gym locker code is 4417." in out
    assert "hit: Ana prefers window seats." in out
    assert "9001" not in out  # Bob's memory is outside the server's scope
    assert [used <= budget for used, budget in _tokens(out, "context")] == [True]


def test_openai_agents_session(outputs: dict[str, str]) -> None:
    out = outputs["openai_agents_session"]
    assert out.count("assistant: It is 18 degrees and sunny in Porto.") == 2
    assert "'function_call', 'function_call_output', 'message', 'message', 'function_call'" in out
    assert "last 3, whole turns: ['function_call', 'function_call_output', 'message']" in out
    assert [used <= budget for used, budget in _tokens(out, "budgeted context")] == [True]


def test_pydantic_ai_agent(outputs: dict[str, str]) -> None:
    out = outputs["pydantic_ai_agent"]
    assert "assistant: It is 18 degrees in Porto." in out
    assert "assistant: It is 4417." in out  # the remembered code reached the model
    budgets = _tokens(out, "context")
    assert len(budgets) == 2
    assert all(used <= budget for used, budget in budgets)
    assert "stored turns: ['user', 'assistant', 'tool', 'assistant', 'user', 'assistant']" in out
