"""The `tiermem` command line."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .config import MemoryConfig
from .errors import TieredMemoryError
from .memory import TieredMemory

app = typer.Typer(
    name="tiermem",
    help="Tiered memory and token-budgeted context for LLM agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


@app.callback()
def _root() -> None:
    """Tiered memory and token-budgeted context for LLM agents."""


_DEMO_QUESTION = "What allowed lateness did we discuss for the late Antwerp events?"


def load_sample() -> dict[str, Any]:
    """The demo conversation shipped in the package (written for tiermem, CC0)."""
    text = resources.files("tiermem").joinpath("data/sample_conversation.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@app.command()
def demo(
    store: Annotated[
        Path | None, typer.Option(help="LanceDB folder to write (default: a new temp folder)")
    ] = None,
    query: Annotated[str, typer.Option(help="What to build the context for")] = _DEMO_QUESTION,
    max_tokens: Annotated[int, typer.Option(help="Token budget of the context")] = 300,
) -> None:
    """Ingest a sample conversation, then print a budgeted context and its explanation."""
    sample = load_sample()
    folder = store or Path(tempfile.mkdtemp(prefix="tiermem-demo-"))
    config = MemoryConfig(tokenizer="cl100k_base", short_term={"max_tokens": 250})
    user = sample["user_id"]
    with TieredMemory(folder, config=config) as mem:
        started = time.perf_counter()
        turns = 0
        for session in sample["sessions"]:
            when = datetime.fromisoformat(session["start"])
            for i, turn in enumerate(session["turns"]):
                mem.add_message(
                    turn["role"], turn["content"], session_id=session["session_id"],
                    user_id=user, timestamp=when + timedelta(minutes=i),
                )  # fmt: skip
                turns += 1
        elapsed = time.perf_counter() - started
        mem.remember("Maya is vegetarian and allergic to peanuts.", user_id=user,
                     importance=0.9, tags=["health"])  # fmt: skip
        last = sample["sessions"][-1]["session_id"]
        context = mem.build_context(query, session_id=last, user_id=user, max_tokens=max_tokens)
    console.print(f"[bold]Stored[/] {turns} turns in {folder} ({turns / elapsed:.0f} turns/s)")
    console.print(f"[bold]Question:[/] {query}\n")
    for message in context.messages:
        console.print(f"[bold cyan]{message['role']}[/]: {message['content']}", markup=True,
                      highlight=False)  # fmt: skip
    console.print()
    console.print(context.explain(), highlight=False, markup=False, soft_wrap=True)


def main() -> None:
    """Entry point: user mistakes print one line and exit non-zero, never a traceback."""
    try:
        app()
    except TieredMemoryError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise SystemExit(2) from None
