"""A long conversation through one session: is memory bounded and latency flat?

Feeds ``--turns`` turns into one session of one `TieredMemory` (default settings, so
background compaction and index building run as they would in production): the
first ``--single`` one by one with `add_message`, the rest with `add_messages` in
batches of ``--batch``. Every ``--every`` turns it samples the process's resident
memory (VmRSS from /proc/self/status) and times ``--queries`` calls of
`build_context`, then prints one table row.

    python benchmarks/long_run.py [--turns 100000] [--single 5000] [--batch 100]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tiermem import MemoryConfig, TieredMemory

__all__ = ["main", "parse_args", "run"]

SESSION = "long-run"
_PEOPLE = ["Ana", "Bruno", "Carla", "Diogo", "Eva", "Filipe", "Guida", "Hugo"]
_PLACES = ["Lisbon", "Porto", "Braga", "Faro", "Coimbra", "Evora", "Sintra", "Aveiro"]
_THINGS = ["ferry", "train", "parcel", "concert", "dentist", "invoice", "garden", "guitar"]
_VERBS = ["booked", "moved", "cancelled", "found", "paid", "planned", "missed", "fixed"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000, help="turns in all")
    parser.add_argument("--single", type=int, default=5_000, help="first turns one by one")
    parser.add_argument("--batch", type=int, default=100, help="turns per add_messages call")
    parser.add_argument("--every", type=int, default=5_000, help="turns between samples")
    parser.add_argument("--queries", type=int, default=20, help="build_context calls a sample")
    parser.add_argument("--max-tokens", type=int, default=2_000, help="context budget")
    parser.add_argument("--store", type=Path, default=None, help="store folder (default: temp)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api", choices=("add_message", "remember"), default="add_message",
                        help="the call that adds the one-by-one turns")  # fmt: skip
    return parser.parse_args(argv)


def rss_mb() -> float:
    """Resident memory of this process, from the kernel (no psutil needed)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def conversation(rng: random.Random) -> Iterator[dict[str, str]]:
    """Endless plausible turns with names, places and numbers for BM25 to tell apart."""
    n = 0
    while True:
        who, where, what, did = (rng.choice(x) for x in (_PEOPLE, _PLACES, _THINGS, _VERBS))
        if n % 2 == 0:
            text = f"{who} {did} the {what} in {where} on day {n // 2} at {rng.randint(1, 23)}h."
            yield {"role": "user", "content": text}
        else:
            yield {"role": "assistant", "content": f"Noted: {who}, {what}, {where} (#{n})."}
        n += 1


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


@dataclass
class Sample:
    turns: int
    rss_mb: float
    add_p50_ms: float
    batch_p50_ms: float
    ctx_p50_ms: float
    ctx_p95_ms: float
    ctx_tokens: int
    upkeep_failures: int
    elapsed_s: float


class _UpkeepFailures(logging.Handler):
    """Counts background optimize rounds that failed (logged, never raised)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        exc = record.exc_info[1] if record.exc_info else None
        self.last = f"{type(exc).__name__}: {exc}" if exc else record.getMessage()


HEADER = (
    f"{'turns':>8} {'RSS MB':>8} {'add p50 ms':>11} {'batch p50 ms':>13} "
    f"{'ctx p50 ms':>11} {'ctx p95 ms':>11} {'ctx tok':>8} {'upkeep fail':>12} {'elapsed s':>10}"
)


def row(s: Sample) -> str:
    return (
        f"{s.turns:>8} {s.rss_mb:>8.0f} {s.add_p50_ms:>11.2f} {s.batch_p50_ms:>13.1f} "
        f"{s.ctx_p50_ms:>11.1f} {s.ctx_p95_ms:>11.1f} {s.ctx_tokens:>8} "
        f"{s.upkeep_failures:>12} {s.elapsed_s:>10.0f}"
    )


def _sample(
    mem: TieredMemory,
    args: argparse.Namespace,
    rng: random.Random,
    done: int,
    add_ms: list[float],
    batch_ms: list[float],
    failures: _UpkeepFailures,
    started: float,
) -> Sample:
    """Time ``--queries`` contexts, read RSS, print and return the row."""
    ctx_ms: list[float] = []
    tokens = 0
    for _ in range(args.queries):
        query = f"when did {rng.choice(_PEOPLE)} go to {rng.choice(_PLACES)}?"
        t0 = time.perf_counter()
        ctx = mem.build_context(query, session_id=SESSION, max_tokens=args.max_tokens)
        ctx_ms.append((time.perf_counter() - t0) * 1000)
        tokens = max(tokens, ctx.token_count)
    sample = Sample(
        turns=done, rss_mb=rss_mb(),
        add_p50_ms=statistics.median(add_ms) if add_ms else float("nan"),
        batch_p50_ms=statistics.median(batch_ms) if batch_ms else float("nan"),
        ctx_p50_ms=percentile(ctx_ms, 0.5), ctx_p95_ms=percentile(ctx_ms, 0.95),
        ctx_tokens=tokens, upkeep_failures=failures.count,
        elapsed_s=time.perf_counter() - started,
    )  # fmt: skip
    print(row(sample), flush=True)
    return sample


def run(args: argparse.Namespace, store: Path) -> list[Sample]:
    rng = random.Random(args.seed)
    turns = conversation(rng)
    failures = _UpkeepFailures()
    # every background failure: upkeep, group commits, the graph build
    logging.getLogger("tiermem").addHandler(failures)
    samples: list[Sample] = []
    started = time.perf_counter()
    print(HEADER, flush=True)
    with TieredMemory(store, config=MemoryConfig()) as mem:
        done = 0
        # the baseline: an open store, every module and model loaded, no turn yet
        samples.append(_sample(mem, args, rng, done, [], [], failures, started))
        add_ms: list[float] = []  # per turn, amortised over a batch
        singles: list[float] = []  # every one-by-one call, for the first-vs-last check
        batch_ms: list[float] = []
        while done < args.turns:
            if done < args.single:
                message = next(turns)
                t0 = time.perf_counter()
                if args.api == "remember":
                    mem.remember(message["content"], session_id=SESSION)
                else:
                    mem.add_message(message["role"], message["content"], session_id=SESSION)
                add_ms.append((time.perf_counter() - t0) * 1000)
                singles.append(add_ms[-1])
                done += 1
            else:
                size = min(args.batch, args.turns - done, args.every - done % args.every)
                batch = [next(turns) for _ in range(size)]
                t0 = time.perf_counter()
                mem.add_messages(batch, session_id=SESSION)
                elapsed = (time.perf_counter() - t0) * 1000
                batch_ms.append(elapsed)
                add_ms.append(elapsed / size)
                done += size
            if done % args.every == 0 or done == args.turns:
                samples.append(_sample(mem, args, rng, done, add_ms, batch_ms, failures, started))
                add_ms, batch_ms = [], []
        stats = mem.stats()
    print(
        f"\nrecords: {stats['records']} (turns {stats['turns']}, summaries {stats['summaries']});"
        f" short-term of the session: {stats['sessions'][SESSION]}"
    )
    if failures.count:
        print(f"background work failed {failures.count} times; last: {failures.last}")
    print(flatness(samples, singles))
    return samples


def flatness(samples: Sequence[Sample], singles: Sequence[float], window: int = 1_000) -> str:
    """The end against the first sample with turns in: context p50, RSS, per-call p50."""
    lines = []
    first = next((s for s in samples if s.turns), None)
    last = samples[-1]
    if first is not None and first is not last:
        lines.append(
            f"context p50 at {last.turns:,} / at {first.turns:,} turns: {last.ctx_p50_ms:.1f} / "
            f"{first.ctx_p50_ms:.1f} ms ({last.ctx_p50_ms / first.ctx_p50_ms:.2f}x); RSS "
            f"{last.rss_mb:.0f} / {first.rss_mb:.0f} MB ({last.rss_mb / first.rss_mb:.2f}x)"
        )
    if len(singles) >= 2 * window:
        head, tail = statistics.median(singles[:window]), statistics.median(singles[-window:])
        lines.append(
            f"one-by-one calls, p50 of the last / first {window:,}: {tail:.2f} / {head:.2f} ms "
            f"({tail / head:.2f}x)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.store is not None:
        run(args, args.store)
        return 0
    with tempfile.TemporaryDirectory(prefix="tiermem-long-run-") as tmp:
        run(args, Path(tmp) / "store")
    return 0


if __name__ == "__main__":
    sys.exit(main())
