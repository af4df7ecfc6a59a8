"""Cross-validation over conversations: tune retrieval on some, score on the others.

A retrieval constant fitted to the five development conversations can look good on
them and earn nothing elsewhere. Every grid point is scored once on every
conversation (a store is ingested once and only query-time settings change); then,
fold by fold, the point with the best recall on the training conversations is picked
and scored on the held-out ones. Each question is scored out of fold exactly once,
so the pooled out-of-fold recall compares with a plain run's.

Import this module from any script in ``benchmarks/``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import locomo
import numpy as np
from numpy.typing import NDArray

from tiermem import MemoryConfig, RetrievalConfig

__all__ = [
    "TUNED",
    "CrossValidation",
    "Fold",
    "GridScores",
    "Point",
    "configured",
    "cross_validate",
    "grid",
    "report",
    "split",
]

Value = float | str

#: The few query-time settings worth tuning, each with its default first: a tie
#: between grid points goes to the earlier one, so a setting that earns nothing stays
#: at its default. ``text_share`` sets text_weight and vector_weight = 1 - it (only
#: their ratio matters). Settings read at ingest (embed_speaker) cannot be swapped on
#: an ingested store and are not here.
TUNED: dict[str, tuple[Value, ...]] = {
    "fusion": ("score", "rrf"),
    "text_share": (0.5, 0.35, 0.65),
    "other_speaker_weight": (0.6, 1.0),
    "recency_weight": (0.02, 0.0),
}

#: A setting at this value does nothing: what the ablation pins it to.
NEUTRAL: dict[str, Value] = {"other_speaker_weight": 1.0, "recency_weight": 0.0}


@dataclass(frozen=True, slots=True)
class Point:
    """One grid point: values of the tuned settings, in `TUNED` order."""

    values: tuple[tuple[str, Value], ...]

    @property
    def label(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.values)

    def get(self, name: str) -> Value:
        return dict(self.values)[name]


def grid(axes: Mapping[str, Sequence[Value]] = TUNED) -> list[Point]:
    """Every combination, the all-defaults point first."""
    names = list(axes)
    return [Point(tuple(zip(names, combo, strict=True)))
            for combo in itertools.product(*(axes[n] for n in names))]  # fmt: skip


def configured(base: MemoryConfig, point: Point) -> MemoryConfig:
    """``base`` with the point's retrieval settings, validated as any config is."""
    overrides: dict[str, Value] = dict(point.values)
    if "text_share" in overrides:
        share = float(overrides.pop("text_share"))
        overrides |= {"text_weight": share, "vector_weight": round(1.0 - share, 6)}
    retrieval = RetrievalConfig(**(base.retrieval.model_dump() | overrides))
    return base.model_copy(update={"retrieval": retrieval})


@dataclass(slots=True)
class GridScores:
    """Per grid point, conversation and budget: each scored question's recall."""

    budgets: list[int]
    points: list[Point] = field(default_factory=list)
    #: conversation -> each scored question's category, in question order
    categories: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    recall: dict[tuple[str, str, int], NDArray[np.float64]] = field(default_factory=dict)

    def add(self, label: str, conversation: str, budget: int, recalls: Sequence[float]) -> None:
        self.recall[label, conversation, budget] = np.asarray(recalls, dtype=np.float64)

    def merge(self, other: GridScores) -> None:
        self.categories.update(other.categories)
        self.recall.update(other.recall)

    @property
    def conversations(self) -> list[str]:
        return list(self.categories)

    def pooled(
        self, label: str, conversations: Sequence[str], budget: int, category: int | None = None
    ) -> float:
        """Mean recall over every question of ``conversations`` (optionally one category)."""
        values = [self._of(label, c, budget, category) for c in conversations]
        return _mean(np.concatenate(values) if values else np.zeros(0))

    def objective(self, label: str, conversations: Sequence[str]) -> float:
        """What tuning maximises: pooled recall averaged over the budgets."""
        return float(np.mean([self.pooled(label, conversations, b) for b in self.budgets]))

    def _of(
        self, label: str, conversation: str, budget: int, category: int | None
    ) -> NDArray[np.float64]:
        values = self.recall[label, conversation, budget]
        if category is None:
            return values
        chosen: NDArray[np.float64] = values[self.categories[conversation] == category]
        return chosen


def _mean(values: NDArray[np.float64]) -> float:
    # a category with no questions in a fold has no recall, not a warning
    return float(values.mean()) if len(values) else float("nan")


def split(conversations: Sequence[str], folds: int) -> list[list[str]]:
    """``folds`` held-out groups, round robin; as many folds as conversations is LOCO."""
    folds = max(1, min(folds, len(conversations)))
    return [list(conversations[i::folds]) for i in range(folds)]


@dataclass(frozen=True, slots=True)
class Fold:
    held_out: list[str]
    chosen: Point
    in_fold: dict[int, float]  # the chosen point on its training conversations
    out_of_fold: dict[int, float]  # the chosen point on the held-out ones


@dataclass(frozen=True, slots=True)
class CrossValidation:
    folds: list[Fold]
    #: every question scored by the point chosen without its conversation, pooled
    pooled: dict[tuple[int, int | None], float]  # (budget, category or None) -> recall


def cross_validate(scores: GridScores, points: Sequence[Point], folds: int) -> CrossValidation:
    """Tune on all but one group, score that group, for every group."""
    everyone = scores.conversations
    out: list[Fold] = []
    held: dict[tuple[int, int | None], list[NDArray[np.float64]]] = defaultdict(list)
    for held_out in split(everyone, folds):
        train = [c for c in everyone if c not in held_out] or held_out
        # max() keeps the first of equals: the earlier point in grid order wins ties
        chosen = max(points, key=lambda p: scores.objective(p.label, train))
        out.append(
            Fold(
                held_out,
                chosen,
                {b: scores.pooled(chosen.label, train, b) for b in scores.budgets},
                {b: scores.pooled(chosen.label, held_out, b) for b in scores.budgets},
            )
        )
        for budget in scores.budgets:
            for category in (None, *locomo.CATEGORIES):
                held[budget, category].extend(
                    scores._of(chosen.label, c, budget, category) for c in held_out
                )
    pooled = {key: _mean(np.concatenate(v)) for key, v in held.items()}
    return CrossValidation(out, pooled)


# --- the report --------------------------------------------------------------------


def _spread(values: Sequence[float]) -> str:
    array = np.asarray(values)
    return f"{array.min():.3f}-{array.max():.3f}, sd {array.std():.3f}"


def _fmt(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"


def _cell(value: float, spread: Sequence[float]) -> str:
    return f"{value:.3f} ({_spread(spread)})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _restricted(points: Sequence[Point], name: str, value: Value) -> list[Point]:
    return [p for p in points if p.get(name) == value]


def report(scores: GridScores, points: Sequence[Point], folds: int) -> list[str]:
    """Markdown: defaults, in fold and out of fold with spread, per category, ablations."""
    budgets = scores.budgets
    everyone = scores.conversations
    default = points[0]
    cv = cross_validate(scores, points, folds)
    columns = ["", *(f"B={b}" for b in budgets)]

    def per_conversation(point: Point, budget: int) -> list[float]:
        return [scores.pooled(point.label, [c], budget) for c in everyone]

    def fixed(point: Point) -> list[str]:
        return [_cell(scores.pooled(point.label, everyone, b), per_conversation(point, b))
                for b in budgets]  # fmt: skip

    def by_category(category: int) -> list[str]:
        return [f"{_fmt(cv.pooled[b, category])} "
                f"({_fmt(scores.pooled(default.label, everyone, b, category))})"
                for b in budgets]  # fmt: skip

    in_fold = [_cell(float(np.mean([f.in_fold[b] for f in cv.folds])),
                     [f.in_fold[b] for f in cv.folds]) for b in budgets]  # fmt: skip
    out_of_fold = [_cell(cv.pooled[b, None], [f.out_of_fold[b] for f in cv.folds])
                   for b in budgets]  # fmt: skip
    rows = [
        ["defaults, every conversation", *fixed(default)],
        ["tuned, in fold (mean over folds)", *in_fold],
        ["tuned, out of fold (pooled)", *out_of_fold],
    ]
    lines = [
        "## In fold and out of fold",
        "",
        f"{len(cv.folds)} folds over {len(everyone)} conversations "
        f"({'leave one conversation out' if len(cv.folds) == len(everyone) else 'round robin'}); "
        f"grid of {len(points)} points over "
        + ", ".join(f"`{n}` {list(v)}" for n, v in TUNED.items())
        + ", picked by recall averaged over the budgets on the training conversations. "
        "Cells: recall (min-max and standard deviation over conversations or folds). "
        "Out of fold pools every question, each scored by the point chosen without "
        "its conversation.",
        "",
        *_table(columns, rows),
        "",
        "Chosen per fold: "
        + "; ".join(f"without {', '.join(f.held_out)}: `{f.chosen.label}`" for f in cv.folds)
        + ".",
        "",
        "### Out of fold per category (defaults in brackets)",
        "",
        *_table(
            ["category", *(f"B={b}" for b in budgets)],
            [[name, *by_category(c)] for c, name in locomo.CATEGORIES.items()],
        ),
    ]
    # a setting earns its keep when tuning it beats pinning it, out of fold
    pins = [(n, v) for n, v in NEUTRAL.items() if n in TUNED]
    pins += [("text_share", TUNED["text_share"][0])]
    pins += [("fusion", value) for value in TUNED["fusion"]]
    ablation = []
    for name, value in pins:
        subset = _restricted(points, name, value)
        pinned = cross_validate(scores, subset, folds)
        full, pin = cv.pooled, pinned.pooled
        cells = [f"{pin[b, None]:.3f} ({full[b, None] - pin[b, None]:+.3f})" for b in budgets]
        ablation.append([f"`{name}={value}`", *cells])
    lines += [
        "",
        "### What each tuned setting earns out of fold",
        "",
        "Out-of-fold recall with one setting pinned and the others still tuned; in brackets "
        "what tuning it as well adds (the full grid's out-of-fold recall minus this).",
        "",
        *_table(["pinned", *(f"B={b}" for b in budgets)], ablation),
    ]
    ranked = sorted(points, key=lambda p: -scores.objective(p.label, everyone))
    lines += [
        "",
        "### Every grid point on every conversation (in fold)",
        "",
        *_table(columns, [[f"`{p.label}`", *fixed(p)] for p in ranked]),
    ]
    return lines
