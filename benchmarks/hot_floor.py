"""The hot index beside LanceDB and beside the floor, on the same rows (issue 15).

For each size, synthetic chat turns (the generator of ``speed.py``; many users, every
turn in one agent's scope) are embedded with the default `StaticEmbedder` and loaded
both into a LanceDB store through tiermem's `LanceStore` (then optimized, as a
long-lived store is) and into a `HotIndex`. Then, one query at a time in that one
scope: the top 160 by full text, by vector, both at once, and an add of one row;
then `build_context` in that scope on a store of the same turns, through the public API.

The floor is the issue's: one bm25s query (top 160) + one numpy product over the same
vectors (top 160) + one exact count of a context-sized text with the real tokenizer.

    python benchmarks/hot_floor.py [--sizes 20000 100000] [--queries 100]

Figures come from one run on whatever else the machine is doing: compare the ratios
within a run, not absolute milliseconds across runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]

_LIMIT = 160  # what build_context asks of each index at the default 4,000-token budget
_CONTEXT_TOKENS = 4_000
_WARMUP = 5
_ADDS = 300


def _ms(seconds: Sequence[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(seconds) * 1_000, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "mean": float(np.mean(seconds) * 1_000)}


def _time(calls: Sequence[Callable[[], Any]], *, warmup: int = _WARMUP) -> dict[str, float]:
    for call in calls[:warmup]:
        call()
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return _ms(times)


def _rows(size: int, users: int, seed: int) -> tuple[list[Any], np.ndarray]:
    import speed

    from tiermem.records import Kind, MemoryRecord
    from tiermem.static_embedding import StaticEmbedder
    from tiermem.tokens import TiktokenCounter

    counter = TiktokenCounter("cl100k_base")
    records = []
    for user, count in enumerate(speed.per_user_counts(size, users)):
        for seq, turn in enumerate(speed.user_turns(seed, user, count)):
            records.append(
                MemoryRecord(
                    id=f"{user:05d}{seq:07d}",
                    kind=Kind.TURN,
                    text=turn.text,
                    timestamp=datetime.fromtimestamp(turn.timestamp, UTC),
                    role=turn.role,
                    session_id=speed.session_id(user),
                    user_id=speed.user_id(user),
                    agent_id=speed.AGENT,
                    seq=seq,
                    tokens=counter.count_message(turn.role, turn.text),
                )
            )
    vectors = np.asarray(StaticEmbedder().embed([r.text for r in records]), np.float32)
    return records, vectors


def _new_rows(records: Sequence[Any], count: int, prefix: str) -> list[Any]:
    import dataclasses

    last = records[-1]
    return [dataclasses.replace(last, id=f"{prefix}{i:08d}", seq=last.seq + 1 + i)
            for i in range(count)]  # fmt: skip


def _hot(
    records: list[Any], vectors: np.ndarray, queries: list[str], qvecs: np.ndarray,
    out: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    from speed import AGENT

    from tiermem.hot.columns import ScopeFilter
    from tiermem.hot.index import HotIndex
    from tiermem.hot.wal import WriteAheadLog

    started = time.perf_counter()
    index = HotIndex(vectors.shape[1])
    for start in range(0, len(records), 5_000):
        index.add(records[start : start + 5_000], vectors[start : start + 5_000])
    index.commit()
    out["hot build (s)"] = time.perf_counter() - started
    out["hot uses a graph"] = index.vectors.has_graph
    scope = ScopeFilter(agent_id=AGENT)
    n = range(len(queries))
    out["hot text"] = _time([lambda i=i: index.search(queries[i], None, scope, _LIMIT) for i in n])
    out["hot vector"] = _time([lambda i=i: index.search(None, qvecs[i], scope, _LIMIT) for i in n])
    out["hot both"] = _time(
        [lambda i=i: index.search(queries[i], qvecs[i], scope, _LIMIT) for i in n]
    )
    truth = [set(np.argsort(-(vectors @ q), kind="stable")[:_LIMIT].tolist()) for q in qvecs]
    found = [index.search(None, q, scope, _LIMIT).vector_rows.tolist() for q in qvecs]
    out["hot vector recall"] = float(np.mean(
        [len(t & set(f)) / _LIMIT for t, f in zip(truth, found, strict=True)]))  # fmt: skip
    text = [[records[r].id for r in index.search(q, None, scope, _LIMIT).text_rows]
            for q in queries]  # fmt: skip
    extra = _new_rows(records, _ADDS, "hot")
    out["hot add one row"] = _time(
        [lambda i=i: index.add([extra[i]], vectors[i % len(vectors)][None, :])
         for i in range(_ADDS)], warmup=0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        log = WriteAheadLog(Path(folder) / "wal")
        out["log append, fsync'd"] = _time(
            [lambda i=i: log.add([extra[i]], vectors[i][None, :]) for i in range(_ADDS)],
            warmup=0,
        )
        log.close()
    return {"text": text}


def _lance(
    records: list[Any], vectors: np.ndarray, queries: list[str], qvecs: np.ndarray,
    folder: Path, out: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    from speed import AGENT

    from tiermem.config import LongTermConfig
    from tiermem.long_term import (
        Filter,
        Insert,
        LanceStore,
        Optimize,
        Search,
    )

    started = time.perf_counter()
    store = LanceStore(str(folder), table="records", embedder="static", dimensions=vectors.shape[1])
    for start in range(0, len(records), 5_000):
        store.run(Insert(records[start : start + 5_000], vectors[start : start + 5_000]))
    store.run(Optimize(vector_index_rows=LongTermConfig().vector_index_rows))
    out["LanceDB build + optimize (s)"] = time.perf_counter() - started
    scope = Filter(agent_id=AGENT)
    n = range(len(queries))
    out["LanceDB text"] = _time([lambda i=i: store.run(Search(queries[i], None, scope, _LIMIT))
                                 for i in n])  # fmt: skip
    out["LanceDB vector"] = _time([lambda i=i: store.run(Search(None, qvecs[i], scope, _LIMIT))
                                   for i in n])  # fmt: skip
    out["LanceDB both"] = _time(
        [lambda i=i: store.run(Search(queries[i], qvecs[i], scope, _LIMIT)) for i in n]
    )
    extra = _new_rows(records, 40, "lance")
    out["LanceDB add one row"] = _time(
        [lambda i=i: store.run(Insert([extra[i]], vectors[i][None, :])) for i in range(40)],
        warmup=0,
    )
    text = [[r.id for r, _ in store.run(Search(q, None, scope, _LIMIT))[0]] for q in queries]
    store.close()
    return {"text": text}


def _context(records: list[Any], queries: list[str], folder: Path, out: dict[str, Any]) -> None:
    """`build_context` in the one scope over the same turns, as a user runs it."""
    from speed import AGENT

    from tiermem import MemoryConfig, TieredMemory, TiktokenCounter
    from tiermem.static_embedding import StaticEmbedder

    config = MemoryConfig(tokenizer="cl100k_base")
    mem = TieredMemory(folder, config=config, embedder=StaticEmbedder(),
                       token_counter=TiktokenCounter("cl100k_base"))  # fmt: skip
    started = time.perf_counter()
    for start in range(0, len(records), 500):
        chunk = records[start : start + 500]
        by_session: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in chunk:
            by_session.setdefault((r.user_id, r.session_id), []).append(
                {"role": r.role, "content": r.text, "timestamp": r.timestamp}
            )
        for (user, session), messages in by_session.items():
            mem.add_messages(messages, session_id=session, user_id=user, agent_id=AGENT)
    assert mem._hot is not None  # the default: the hot path is what is measured
    mem._hot.flush()
    mem._hot.index.vectors.wait_graph()  # a graph, if the scope is large enough for one
    out["context build (s)"] = time.perf_counter() - started
    sessions = [r.session_id for r in records[:: max(1, len(records) // len(queries))]]
    out["build_context one scope"] = _time(
        [lambda i=i: mem.build_context(queries[i], session_id=sessions[i % len(sessions)],
                                       agent_id=AGENT) for i in range(len(queries))]
    )  # fmt: skip
    mem.close()


def _floor(
    records: list[Any], vectors: np.ndarray, queries: list[str], qvecs: np.ndarray,
    out: dict[str, Any],
) -> None:  # fmt: skip
    import bm25s  # type: ignore[import-untyped]
    import Stemmer

    from tiermem.tokens import TiktokenCounter

    stemmer = Stemmer.Stemmer("english")
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize([r.text for r in records], stopwords="en", stemmer=stemmer,
                              show_progress=False), show_progress=False)  # fmt: skip
    counter = TiktokenCounter("cl100k_base")
    # a context-sized text to count: the turns a 4,000-token budget would hold
    context, used = [], 0
    for record in records:
        if used + record.tokens > _CONTEXT_TOKENS:
            break
        context.append(f"{record.role}: {record.text}")
        used += record.tokens
    text = "\n".join(context)

    def once(i: int) -> None:
        tokens = bm25s.tokenize([queries[i]], stopwords="en", stemmer=stemmer,
                                show_progress=False)  # fmt: skip
        bm25.retrieve(tokens, k=min(_LIMIT, len(records)), show_progress=False, n_threads=1)
        # one thread, as the hot index computes it (see hot/vectors.py `_dot`)
        similarity = np.einsum("ij,j->i", vectors, qvecs[i])
        np.argpartition(-similarity, _LIMIT)[:_LIMIT]
        counter.count(text)

    out["floor"] = _time([lambda i=i: once(i) for i in range(len(queries))])
    out["fsync'd JSON line"] = _json_line_append()


def _json_line_append() -> dict[str, float]:
    import speed

    with tempfile.TemporaryDirectory() as folder:
        return _ms(speed.fsync_lines(Path(folder), _ADDS))


def _overlap(a: list[list[str]], b: list[list[str]]) -> float:
    shares = [len(set(x) & set(y)) / max(len(y), 1) for x, y in zip(a, b, strict=True)]
    return float(np.mean(shares))


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    import speed

    from tiermem.static_embedding import StaticEmbedder

    users = max(1, min(args.users, size // 100))
    records, vectors = _rows(size, users, args.seed)
    plan = speed.query_plan(args.seed, users, args.queries)
    queries = [q for _, q in plan]
    qvecs = np.asarray(StaticEmbedder().embed(queries), np.float32)
    out: dict[str, Any] = {"size": size, "users": users}
    hot = _hot(records, vectors, queries, qvecs, out)
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        lance = _lance(records, vectors, queries, qvecs, Path(folder), out)
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        _context(records, queries, Path(folder), out)
    _floor(records, vectors, queries, qvecs, out)
    out["text top-160 overlap, hot vs LanceDB"] = _overlap(hot["text"], lance["text"])
    return out


def _table(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        lines += [
            "",
            f"{r['size']:,} turns in one scope ({r['users']} sessions); p50 ms, one run",
            f"{'operation':34s} {'hot':>8s} {'LanceDB':>9s} {'LanceDB/hot':>12s}",
        ]
        rows = (("text top-160", "text"), ("vector top-160", "vector"),
                ("text + vector top-160", "both"), ("add one row", "add one row"))  # fmt: skip
        for label, key in rows:
            hot, lance = r[f"hot {key}"]["p50"], r[f"LanceDB {key}"]["p50"]
            lines.append(f"{label:34s} {hot:8.2f} {lance:9.2f} {lance / hot:11.1f}x")
        floor = r["floor"]["p50"]
        both = r["hot both"]["p50"]
        log = r["log append, fsync'd"]["p50"]
        line = r["fsync'd JSON line"]["p50"]
        lines += [
            f"{'floor (bm25s + numpy + count)':34s} {floor:8.2f}",
            f"{'hot text + vector / floor':34s} {both / floor:8.2f}x"
            f"   (LanceDB {r['LanceDB both']['p50'] / floor:.1f}x)",
            f"{'build_context one scope':34s} {r['build_context one scope']['p50']:8.2f}"
            f"   ({r['build_context one scope']['p50'] / floor:.1f}x the floor)",
            f"{'log append (fsync) + hot add':34s} {log + r['hot add one row']['p50']:8.2f}"
            f"   ({(log + r['hot add one row']['p50']) / line:.1f}x an fsync'd JSON line,"
            f" {line:.2f} ms)",
            f"hot add one row: mean {r['hot add one row']['mean']:.2f} ms (commits amortised),"
            f" p95 {r['hot add one row']['p95']:.2f} ms",
            f"vector recall of the exact top 160: {r['hot vector recall']:.3f}"
            f" (graph: {r['hot uses a graph']}); text top-160 overlap with LanceDB:"
            f" {r['text top-160 overlap, hot vs LanceDB']:.3f}",
            f"builds: hot {r['hot build (s)']:.1f} s, LanceDB + optimize"
            f" {r['LanceDB build + optimize (s)']:.1f} s",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hot_floor.py", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=None, help="LanceDB stores go here")
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    results = []
    for size in args.sizes:
        results.append(measure(size, args))
        print(f"measured {size:,}", file=sys.stderr, flush=True)
    print(_table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
