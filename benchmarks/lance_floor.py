"""What LanceDB itself costs under tiermem's queries: the floor ``speed.py`` cannot beat.

Builds (or reuses) a store of synthetic turns with tiermem's bulk path, then times raw
LanceDB queries on its table with the async client, one at a time: full-text search,
vector search flat and through vector indexes (recall against the flat result), each
unfiltered, filtered by one user and filtered by the scope that holds every row, plus
the neighbour fetch, one-row appends and the cost of ``read_consistency_interval=0``.

    python benchmarks/lance_floor.py --size 100000 --workdir /tmp/floor [--indexes hnsw pq]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]

_WARMUP = 5
_LIMIT = 160  # what build_context asks of each index at the default 4,000-token budget
_COLUMNS = ["id", "kind", "text", "role", "session_id", "user_id", "agent_id", "timestamp",
            "seq", "importance", "tags", "metadata", "covers", "tokens"]  # fmt: skip
Call = Callable[[], Awaitable[Any]]


def _ms(times: Sequence[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(np.asarray(times) * 1_000, [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}


async def _time(calls: Sequence[Call]) -> tuple[dict[str, float], list[Any]]:
    for call in calls[:_WARMUP]:
        await call()
    times, out = [], []
    for call in calls:
        started = time.perf_counter()
        out.append(await call())
        times.append(time.perf_counter() - started)
    return _ms(times), out


def build(store: Path, size: int, users: int, seed: int) -> None:
    """Bulk-load ``size`` turns over ``users`` with tiermem, then optimize once."""
    import lancedb
    import speed

    from tiermem import MemoryConfig, TieredMemory

    config = MemoryConfig(
        tokenizer="cl100k_base", long_term={"optimize_every": 20_000, "vector_index_rows": None}
    )
    started = time.perf_counter()
    with TieredMemory(store, config=config) as mem:
        for user, count in enumerate(speed.per_user_counts(size, users)):
            turns = speed.user_turns(seed, user, count)
            for chunk in speed._chunks(turns, 1_000):
                mem.add_messages(
                    [{"role": t.role, "content": t.text, "timestamp": t.timestamp} for t in chunk],
                    session_id=speed.session_id(user), user_id=speed.user_id(user),
                    agent_id=speed.AGENT,
                )  # fmt: skip
        loaded = time.perf_counter()
        mem.optimize()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nobody else reads this store: keep one version
        lancedb.connect(store).open_table("records").optimize(cleanup_older_than=timedelta(0))
    print(f"built {size:,} rows in {loaded - started:.0f} s, optimize "
          f"{time.perf_counter() - loaded:.1f} s", file=sys.stderr)  # fmt: skip


def _index_config(name: str, rows: int) -> Any:
    from lancedb.index import HnswSq, IvfPq, IvfRq, IvfSq

    partitions = max(1, int(np.sqrt(rows)))
    match name:
        case "hnsw":
            return HnswSq(distance_type="cosine")
        case "pq":
            return IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=32)
        case "sq":
            return IvfSq(distance_type="cosine", num_partitions=partitions)
        case "rq":
            return IvfRq(distance_type="cosine", num_partitions=partitions)
    raise ValueError(name)


@dataclass
class _Bench:
    """The table (read strongly and loosely), the queries and their scope filters."""

    table: Any
    loose: Any
    queries: list[str]
    vectors: Any
    filters: dict[str, list[str | None]]

    def fts(self, i: int, where: str | None, columns: list[str], *, loose: bool = False) -> Any:
        from tiermem.long_term.tables import _match

        q = (self.loose if loose else self.table).query().nearest_to_text(_match(self.queries[i]))
        q = q.select(columns)
        return (q.where(where) if where else q).limit(_LIMIT).to_arrow()

    def vector(
        self, i: int, where: str | None, *, flat: bool = False, post: bool = False,
        loose: bool = False, tune: dict[str, int] | None = None,
    ) -> Any:  # fmt: skip
        q = (self.loose if loose else self.table).query().nearest_to(self.vectors[i])
        q = q.distance_type("cosine").select([*_COLUMNS, "_distance"])
        q = q.where(where) if where else q
        q = q.bypass_vector_index() if flat else q
        q = q.postfilter() if post else q
        for key, value in (tune or {}).items():
            q = getattr(q, key)(value)
        return q.limit(_LIMIT).to_arrow()

    def each(self, make: Callable[[int], Awaitable[Any]]) -> list[Call]:
        return [lambda i=i: make(i) for i in range(len(self.queries))]  # type: ignore[misc]


async def _searches(b: _Bench, results: dict[str, Any]) -> dict[str, list[set[str]]]:
    """Full-text and flat vector searches per scope; the flat hits, as ground truth."""
    columns = [*_COLUMNS, "_score"]
    truth: dict[str, list[set[str]]] = {}
    for name, where in b.filters.items():
        for label, cols in (("fts", columns), ("fts+vector", [*columns, "vector"]),
                            ("fts ids only", ["id", "_score"])):  # fmt: skip
            timing = await _time(b.each(lambda i, w=where, c=cols: b.fts(i, w[i], c)))
            results[f"{label}/{name}"] = timing[0]
        timing, found = await _time(b.each(lambda i, w=where: b.vector(i, w[i], flat=True)))
        results[f"vector flat/{name}"] = timing
        truth[name] = [set(t.column("id").to_pylist()) for t in found]
    user = b.filters["user"]
    results["fts/user, no version check"] = (
        await _time(b.each(lambda i: b.fts(i, user[i], columns, loose=True)))
    )[0]
    results["vector flat/user, no version check"] = (
        await _time(b.each(lambda i: b.vector(i, user[i], flat=True, loose=True)))
    )[0]

    async def both(i: int) -> Any:
        return await asyncio.gather(b.fts(i, user[i], columns), b.vector(i, user[i], flat=True))

    results["fts + vector flat side by side/user"] = (await _time(b.each(both)))[0]
    return truth


async def _neighbours_and_appends(b: _Bench, results: dict[str, Any]) -> None:
    from tiermem.long_term import Filter

    user = b.filters["user"]
    wheres = []
    for i in range(len(b.queries)):
        hits = await b.fts(i, user[i], ["session_id", "seq"])
        sessions, seqs = hits.column("session_id").to_pylist(), hits.column("seq").to_pylist()
        pairs = [(s, q + d) for s, q in list(zip(sessions, seqs, strict=True))[:20]
                 for d in (-2, -1, 1, 2)]  # fmt: skip
        wheres.append(f"{Filter(turns_at=tuple(pairs)).where()} AND {user[i]}")
    results["neighbour fetch/user"] = (
        await _time(b.each(lambda i: b.table.query().select(_COLUMNS).where(wheres[i]).to_arrow()))
    )[0]
    sample = await b.table.query().limit(1).to_arrow()
    for label, table in (("version check", b.table), ("no version check", b.loose)):
        calls = [lambda t=table: t.add(sample) for _ in range(40)]
        results[f"append one row/{label}"] = (await _time(calls))[0]
    await b.table.delete(f"id = '{sample.column('id')[0].as_py()}'")
    await b.table.add(sample)  # back to one copy of that row
    await b.table.optimize()


async def _indexes(
    b: _Bench, names: Sequence[str], truth: dict[str, list[set[str]]], results: dict[str, Any]
) -> None:
    rows = await b.table.count_rows()
    for index in names:
        started = time.perf_counter()
        await b.table.create_index("vector", config=_index_config(index, rows), replace=True)
        results[f"build {index} (s)"] = round(time.perf_counter() - started, 1)
        print(f"build {index} (s)", results[f"build {index} (s)"], file=sys.stderr, flush=True)
        tunings: list[dict[str, int]] = [{}]
        if index == "hnsw":
            tunings += [{"ef": 2 * _LIMIT}, {"ef": 4 * _LIMIT}]  # ef below k is refused
        else:
            tunings += [{"nprobes": 40}, {"nprobes": 20, "refine_factor": 5}]
        for tune in tunings:
            label = ",".join(f"{k}={v}" for k, v in tune.items()) or "default"
            for name, where in b.filters.items():
                for post in (False, True) if name != "none" else (False,):
                    timing, found = await _time(
                        b.each(lambda i, w=where, p=post, t=tune: b.vector(i, w[i], post=p, tune=t))
                    )
                    wanted = truth[name]
                    shares = [len(wanted[i] & set(t.column("id").to_pylist()))
                              / max(len(wanted[i]), 1) for i, t in enumerate(found)]  # fmt: skip
                    key = f"{index} {label}{' postfilter' if post else ''}/{name}"
                    results[key] = timing | {"recall": round(float(np.mean(shares)), 3)}
                    print(key, results[key], file=sys.stderr, flush=True)


async def floor(args: argparse.Namespace) -> dict[str, Any]:
    import lancedb
    import speed

    from tiermem.long_term import scope_key
    from tiermem.static_embedding import StaticEmbedder

    plan = speed.query_plan(args.seed, min(args.users, args.size), args.queries)
    strong = await lancedb.connect_async(args.store, read_consistency_interval=timedelta(0))
    loose = await lancedb.connect_async(args.store)
    bench = _Bench(
        table=await strong.open_table("records"),
        loose=await loose.open_table("records"),
        queries=[q for _, q in plan],
        vectors=StaticEmbedder().embed([q for _, q in plan]),
        filters={
            "none": [None] * len(plan),
            "user": [f"user_key = '{scope_key(speed.user_id(u))}'" for u, _ in plan],
            "all": [f"agent_key = '{scope_key(speed.AGENT)}'"] * len(plan),
        },
    )
    out: dict[str, Any] = {"size": args.size, "rows": await bench.table.count_rows()}
    out["versions"] = len(await bench.table.list_versions())
    results: dict[str, Any] = {}
    truth = await _searches(bench, results)
    await _neighbours_and_appends(bench, results)
    for key, value in results.items():  # before the slow part: index builds
        print(f"{key:55s} {value}", file=sys.stderr, flush=True)
    await _indexes(bench, args.indexes, truth, results)
    return out | {"results": results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lance_floor.py", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--workdir", type=Path, required=True, help="stores are kept here")
    parser.add_argument(
        "--indexes", nargs="*", default=["hnsw", "pq"], choices=["hnsw", "pq", "sq", "rq"]
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    args = parser.parse_args(argv)
    args.store = str(args.workdir / f"floor-{args.size}")
    if not Path(args.store).exists():
        build(Path(args.store), args.size, min(args.users, args.size), args.seed)
    found = asyncio.run(floor(args))
    for key, value in found["results"].items():
        print(f"{key:55s} {value}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(found, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
