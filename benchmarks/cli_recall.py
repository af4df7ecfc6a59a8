"""LoCoMo evidence recall through the command line: `tiermem ingest`, then `tiermem context`.

`quality.py` calls the library with a fresh store per conversation; a user of the
command line ingests the whole file into one store, where every conversation is a
user and its sessions are ``session_N``, and asks `tiermem context` per question.
This script does exactly that through the CLI's own commands (typer's runner, in
process, so that 3,000 contexts do not pay 3,000 interpreter starts), and reports
the share of evidence kept per budget, and how much of each context summaries took.

    python benchmarks/cli_recall.py path/to/locomo-dev.json [--budgets 500 1000 2000 4000]

The LoCoMo data is not in this repository; see ``locomo.DOWNLOAD``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import locomo
from typer.testing import CliRunner

from tiermem.cli import app

__all__ = ["main", "parse_args", "run"]

_TOKENIZER = "cl100k_base"  # the tokenizer of quality.py's figures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = locomo.parser(
        "cli_recall.py",
        "Evidence recall of `tiermem context` after `tiermem ingest` of a LoCoMo file.",
    )
    parser.add_argument(
        "--store", type=Path, default=None,
        help="store folder to ingest into (default: a temporary folder)",
    )  # fmt: skip
    return locomo.parse_args(parser, argv)


def _invoke(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--tokenizer", _TOKENIZER, "--json"])
    if result.exit_code != 0:
        raise SystemExit(f"tiermem {args[0]} failed: {result.output}")
    return json.loads(result.stdout)


def run(args: argparse.Namespace, store: Path) -> dict[int, dict[str, float]]:
    """Per budget: recall, questions, and the mean tokens and count of kept summaries."""
    dataset = locomo.load(args.data)
    runner = CliRunner()
    ingested = _invoke(runner, "ingest", str(args.data), "--store", str(store))
    print(f"ingested {ingested['messages']} messages in {ingested['seconds']} s")
    totals: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for conversation in dataset.conversations:
        started = time.perf_counter()
        questions = conversation.questions[: args.questions]
        for question in questions:
            for budget in args.budgets:
                built = _invoke(
                    runner, "context", question.question, "--store", str(store),
                    "--user", conversation.sample_id, "--max-tokens", str(budget),
                )  # fmt: skip
                text = "\n\n".join(f"{m['role']}: {m['content']}" for m in built["messages"])
                found = locomo.evidence_found(question, text)
                summaries = [
                    d for d in built["decisions"]
                    if d["kept"] and d["preview"].startswith("summary:")
                ]  # fmt: skip
                row = totals[budget]
                row["recall"] += found / len(question.evidence)
                row["questions"] += 1
                row["summaries"] += len(summaries)
                row["summary_tokens"] += sum(d["tokens"] for d in summaries)
        print(
            f"{conversation.sample_id}: {len(questions)} questions x {len(args.budgets)} "
            f"budgets in {time.perf_counter() - started:.0f} s"
        )
    return {
        budget: {
            "recall": row["recall"] / row["questions"],
            "questions": row["questions"],
            "summaries_per_context": row["summaries"] / row["questions"],
            "summary_tokens_per_context": row["summary_tokens"] / row["questions"],
        }
        for budget, row in sorted(totals.items())
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tiermem-cli-recall-") as folder:
        store = args.store or Path(folder) / "store"
        figures = run(args, store)
    print("\n| budget | evidence recall | summaries kept per context | their tokens |")
    print("|---|---|---|---|")
    for budget, row in figures.items():
        print(
            f"| {budget} | {row['recall']:.3f} | {row['summaries_per_context']:.2f} | "
            f"{row['summary_tokens_per_context']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
