"""The namespace package: its layout, its exports, and what it must not drag in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import llama_index.memory.tiermem as adapter
import pytest

import tiermem

ROOT = Path(__file__).resolve().parents[2]
PORTION = ROOT / "integrations" / "llama_index"
PACKAGE = PORTION / "llama_index" / "memory" / "tiermem"


# each check runs in a fresh interpreter; they start together, as imports dominate their time
SCRIPTS = {
    "no_llama_index": """
        import sys
        sys.modules["llama_index"] = None  # importing llama_index now raises ImportError
        import tiermem
        import tiermem.tools
        with tiermem.TieredMemory("memory://") as mem:
            mem.add_message("user", "I moved to Lisbon in May.", session_id="s")
            context = mem.build_context("where do I live?", session_id="s", max_tokens=200)
        print(context.messages[-1]["content"])
        assert not [m for m in sys.modules if m.startswith("llama_index") and sys.modules[m]]
    """,
    # the example, with LangChain made unimportable: the adapter must not need it
    "example": """
        import runpy, sys
        for name in ("langchain", "langchain_core", "langchain_classic", "langgraph"):
            sys.modules[name] = None  # importing any of them now raises ImportError
        runpy.run_path("examples/llama_index_agent.py", run_name="__main__")
        loaded = [m for m in sys.modules if m.startswith("lang") and sys.modules[m]]
        print("langchain modules loaded:", loaded)
    """,
}


@pytest.fixture(scope="module")
def launched() -> Iterator[dict[str, subprocess.Popen[str]]]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # the example: offline
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PORTION), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for name, code in SCRIPTS.items()
    }
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


def _result(launched: dict[str, subprocess.Popen[str]], name: str) -> str:
    stdout, stderr = launched[name].communicate(timeout=180)
    assert launched[name].returncode == 0, stderr
    return stdout


def test_no_init_in_the_shared_namespace_levels() -> None:
    # an __init__.py here would hide llama_index.core (or be hidden by it)
    assert not (PORTION / "llama_index" / "__init__.py").exists()
    assert not (PORTION / "llama_index" / "memory" / "__init__.py").exists()
    assert (PACKAGE / "__init__.py").exists()
    assert (PACKAGE / "py.typed").exists()


def test_core_and_adapter_import_side_by_side() -> None:
    import llama_index.core

    import llama_index

    assert Path(adapter.__file__).parent == PACKAGE
    assert Path(llama_index.core.__file__).parent.parent != PACKAGE.parent.parent
    assert len(list(llama_index.__path__)) >= 2  # a namespace spread over both portions


def test_exports_are_pinned_and_sorted() -> None:
    assert adapter.__all__ == [
        "LLMCalled",
        "LLMSummarizer",
        "LlamaIndexEmbedder",
        "RegistryFunctionTool",
        "TieredLongTermBlock",
        "TieredSummaryBlock",
        "TiermemEventHandler",
        "TiermemMemory",
        "instrument",
        "memory_tools",
        "to_function_tool",
        "to_function_tools",
    ]
    assert all(hasattr(adapter, name) for name in adapter.__all__)


def test_old_memory_name_warns_and_is_the_new_class() -> None:
    with pytest.warns(DeprecationWarning, match="TiermemMemory"):
        old = adapter.TieredMemory
    assert old is adapter.TiermemMemory
    assert adapter.TiermemMemory.class_name() == "TiermemMemory"


def test_star_import_leaves_the_core_memory_alone() -> None:
    names: dict[str, object] = {}
    exec("from tiermem import *\nfrom llama_index.memory.tiermem import *", names)
    assert names["TieredMemory"] is tiermem.TieredMemory


def test_adapter_works_without_langchain(launched: dict[str, subprocess.Popen[str]]) -> None:
    assert "langchain modules loaded: []" in _result(launched, "example")


def test_core_works_without_llama_index(launched: dict[str, subprocess.Popen[str]]) -> None:
    assert _result(launched, "no_llama_index").strip() == "I moved to Lisbon in May."


def test_example_runs_offline(launched: dict[str, subprocess.Popen[str]]) -> None:
    stdout = _result(launched, "example")
    assert "agent: Here is what I found: Porto: sunny, 24 C" in stdout
    assert "tiermem holds 12 turns of this session" in stdout
    assert "tool calls: 3;" in stdout
