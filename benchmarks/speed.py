"""Speed of tiermem against store size, and against peer memory systems (issue 8).

For each store size a fresh process builds a synthetic store of chat turns (1,000 users
by default, each with one long conversation, every turn also in one agent's scope),
then measures ingest (bulk and one by one), ``optimize()``, ``search`` and
``build_context`` latency in a user's scope and in the agent's scope (every record),
peak memory, disk size and cold start. Each peer then gets the same turns, the same
queries and the same embedder (tiermem's `StaticEmbedder`), each in its own process,
within a time budget. A Markdown report puts the issue's targets beside the figures.

    python benchmarks/speed.py --sizes 10000 100000 [--locomo path/to/locomo10.json]
        [--peers llamaindex lc-vector lc-summary mem0] [--mem0-python path/to/python]

mem0 is measured only with ``--mem0-python``: an interpreter whose environment has
``mem0ai`` and tiermem's dependencies (mem0 pins packages tiermem's may not share).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import io
import json
import os
import platform
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import peers
from peers import AGENT, PEERS, TOP_K

__all__ = ["DEFAULT_SIZES", "TARGETS", "Turn", "fsync_lines", "main", "parse_args", "user_turns"]

DEFAULT_SIZES = (10_000, 100_000)
T = TypeVar("T")
_DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "speed.md"
_WARMUP = 10
_PACKAGES = (
    "tiermem",
    "lancedb",
    "pyarrow",
    "numpy",
    "tiktoken",
    "langchain-core",
    "langchain-classic",
    "llama-index-core",
)

#: The issue's targets (15), checked in the report.
TARGETS: tuple[str, ...] = (
    "build_context p50 <= 5 ms at 100k, one scope",
    "build_context p50 <= 2 ms at 100k, by user",
    "build_context p50 <= 20 ms at 1M, one scope",
    ">= 10x faster than the fastest peer at 10k and 100k",
    "faster than each peer on the LoCoMo conversations",
    "add_message p50 <= 5x an fsync'd JSON line in the store's folder",
    "one-by-one ingest >= 2,000 turns/s",
    "bulk ingest >= 20,000 turns/s",
    "open a 100k store and build its first context < 1 s",
    "serving a 1M store in one scope <= 1.5 GB RSS",
)

# --- synthetic chat turns ----------------------------------------------------------

_NAMES = """Maya Liam Sofia Noah Aiko Mateo Zara Omar Elena Jonas Priya Lucas Amara Felix
Ines Tomas Hana Kofi Lena Ravi Chloe Diego Yara Emil Nadia Hugo Mila Arjun Clara Sami Ada
Bruno Keiko Nils Lucia Tariq Freya Marco Esme Idris Rosa Kai Alma Teo Vera Jun Leila Oscar
Nora Ezra Iris Malik Greta Rafael Sana Ivo Dalia Paulo Wren""".split()
_PLACES = """Lisbon Porto Kyoto Oslo Nairobi Lima Montreal Seville Bergen Hanoi Cork Dakar
Quito Tallinn Busan Perth Cusco Tbilisi Ghent Split Bologna Accra Hobart Cadiz Salzburg
Valparaiso Leeds Bilbao Zagreb Tromso Krakow Medellin Galway Aarhus Nantes Riga Fez Lyon
Malmo Bremen Sintra Evora Faro Gdansk Utrecht Ljubljana Trieste Tartu Bath Chania""".split()
_NOUNS = """tickets apartment guitar invoice passport bicycle laptop garden wedding
dentist appointment flight recipe concert lease puppy kitten insurance piano camera
marathon thesis interview promotion painting sofa kayak tent backpack visa contract
birthday party roof boiler subscription gym class pottery course novel podcast vaccine
allergy prescription mortgage budget salary bonus car scooter train hotel hostel
museum exhibition festival workshop conference deadline project report presentation
cake dinner picnic hiking trip vacation rent deposit refund warranty phone charger
headphones sneakers jacket umbrella plants balcony kitchen fridge oven vase gift""".split()
_VERBS = """booked bought sold moved cancelled visited fixed painted borrowed returned
ordered planned started finished missed found lost renewed shipped signed paid rented
cooked cleaned packed tried recommended repaired upgraded reserved""".split()
_ADJECTIVES = """great terrible expensive cheap broken lovely noisy quiet late early
perfect weird fine busy crowded cozy modern old new tiny huge fragile""".split()
_MONTHS = """January February March April May June July August September October
November December""".split()
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_FILLER = """the a an and or but so because then also really just maybe quite very
still already again soon later today tomorrow yesterday tonight morning evening week
weekend month year time day night I you we they he she it my your our their this that
these those there here what when where how why which who is was were be been being
have has had do did does will would can could should might must think know want need
like love hate feel guess hope wonder remember forget mean say said tell told ask
asked call called meet met see saw look looked go went come came get got make made
take took give gave find keep let help try use work worked play talk talked thanks
sure okay yes no not never always often sometimes usually about around after before
during with without from into onto over under between through for of on in at to by
up down out off good bad nice happy sad tired excited worried glad sorry easy hard
long short big small first last next other same different new old little much many
more most some any every each few lots thing things people friend friends family
mom dad sister brother kids home house place city street room table door car bus
train plan plans idea ideas news story question answer problem reason way part
money price cost bill phone email message photo picture music movie book game food
coffee tea lunch breakfast weather rain sun snow cold warm hot outside inside""".split()

_FACTS: tuple[str, ...] = (
    "{name} {verb} the {noun} in {place} on {day} {month} {year}",
    "the {noun} cost {amount} dollars at {place}",
    "I am meeting {name} at {hour}:{minute} on {weekday} near {place}",
    "my {noun} booking number is {number}",
    "{name} moved to {place} in {month} {year}",
    "{name} thinks the {noun} is {adjective}",
    "we {verb} the {noun} for {name} last {weekday}",
)
_QUERIES: tuple[str, ...] = (
    "When did {name} go to {place}?",
    "What did I say about the {noun}?",
    "How much did the {noun} cost in {place}?",
    "Where is {name} meeting me?",
    "What does {name} think about the {noun}?",
    "Did we book the {noun} in {place}?",
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One synthetic chat turn."""

    role: str
    text: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class _Profile:
    """The people, places and things one user keeps talking about."""

    names: tuple[str, ...]
    places: tuple[str, ...]
    nouns: tuple[str, ...]


def user_id(user: int) -> str:
    return f"user-{user:04d}"


def session_id(user: int) -> str:
    return f"user-{user:04d}-chat"


def _profile(seed: int, user: int | str) -> _Profile:
    rng = random.Random(f"{seed}:{user}:profile")
    return _Profile(
        tuple(rng.sample(_NAMES, 4)), tuple(rng.sample(_PLACES, 3)), tuple(rng.sample(_NOUNS, 6))
    )


def _pick(rng: random.Random, own: Sequence[str], every: Sequence[str]) -> str:
    # users mostly talk about their own people and things, sometimes anything
    return rng.choice(own) if rng.random() < 0.8 else rng.choice(every)


def _fact(rng: random.Random, profile: _Profile) -> str:
    return rng.choice(_FACTS).format(
        name=_pick(rng, profile.names, _NAMES),
        place=_pick(rng, profile.places, _PLACES),
        noun=_pick(rng, profile.nouns, _NOUNS),
        verb=rng.choice(_VERBS),
        adjective=rng.choice(_ADJECTIVES),
        month=rng.choice(_MONTHS),
        weekday=rng.choice(_WEEKDAYS),
        day=rng.randint(1, 28),
        year=rng.randint(2019, 2025),
        amount=rng.randint(5, 4_000),
        number=rng.randint(10_000, 999_999),
        hour=rng.randint(7, 21),
        minute=rng.choice(("00", "15", "30", "45")),
    )


def user_turns(seed: int, user: int | str, count: int) -> list[Turn]:
    """``count`` turns of one user's conversation: deterministic for (seed, user, count)."""
    rng = random.Random(f"{seed}:{user}:turns")
    profile = _profile(seed, user)
    clock = datetime(2024, 1, 1, tzinfo=UTC).timestamp() + rng.uniform(0, 180 * 86_400)
    turns = []
    for i in range(count):
        # 5-60 words, mostly short: about 24 on average
        length = 5 + int(55 * rng.random() ** 1.8)
        words = _fact(rng, profile).split() if rng.random() < 0.75 else []
        words += rng.choices(_FILLER, k=max(0, length - len(words)))
        text = " ".join(words[:length])
        clock += rng.uniform(20, 600) if rng.random() > 0.05 else rng.uniform(1, 5) * 86_400
        mark = "?" if rng.random() < 0.2 else "."
        turns.append(
            Turn("user" if i % 2 == 0 else "assistant", text[0].upper() + text[1:] + mark, clock)
        )
    return turns


def per_user_counts(size: int, users: int) -> list[int]:
    """Turns of each user: ``size`` spread evenly over ``users``."""
    return [size // users + (1 if u < size % users else 0) for u in range(users)]


def query_plan(seed: int, users: int, count: int) -> list[tuple[int, str]]:
    """(user, question) pairs about things each user talked about; users spread out."""
    rng = random.Random(f"{seed}:queries")
    order = rng.sample(range(users), users)
    plan = []
    for i in range(count):
        user = order[i % users]
        profile = _profile(seed, user)
        plan.append(
            (
                user,
                rng.choice(_QUERIES).format(
                    name=rng.choice(profile.names),
                    place=rng.choice(profile.places),
                    noun=rng.choice(profile.nouns),
                ),
            )
        )
    return plan


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- measurement helpers -----------------------------------------------------------


def stats(seconds: Sequence[float]) -> dict[str, float]:
    """Percentiles in milliseconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1_000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "n": len(ms),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(ms.mean()),
    }


def memory_mb() -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, in MB."""
    found: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key] = int(value.split()[0]) / 1024
    except OSError:  # not Linux: fall back to the peak getrusage reports
        import resource

        found["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_rss_mb": found.get("VmHWM", 0.0), "rss_mb": found.get("VmRSS", 0.0)}


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _latencies(
    calls: Sequence[Callable[[], object]], budget: float | None = None
) -> tuple[list[float], int]:
    """Times of ``calls`` after a warm-up, stopping once ``budget`` seconds are spent."""
    for call in calls[:_WARMUP]:
        call()
    out: list[float] = []
    spent = 0.0
    for call in calls[_WARMUP:] if len(calls) > _WARMUP else calls:
        out.append(_timed(call))
        spent += out[-1]
        if budget is not None and spent > budget:
            break
    return out, len(out)


# --- workers: each runs in its own process -----------------------------------------


def _tiermem_parts() -> tuple[Any, Any, Any]:
    from tiermem import MemoryConfig, TiktokenCounter
    from tiermem.static_embedding import StaticEmbedder

    embedder = StaticEmbedder()
    embedder.embed(["load the table before anything is timed"])
    return MemoryConfig(tokenizer="cl100k_base"), embedder, TiktokenCounter("cl100k_base")


def _upkeep_recorder() -> tuple[Any, list[float]]:
    """A callback handler that records how long each store upkeep (optimize) took."""
    from tiermem import CallbackHandler
    from tiermem.callbacks import StoreMaintained

    runs: list[float] = []

    class Recorder(CallbackHandler):
        def on_store_maintained(self, event: StoreMaintained) -> None:
            runs.append(event.latency)

    return Recorder(), runs


def _bulk_probe(spec: dict[str, Any], parts: tuple[Any, Any, Any], folder: Path) -> float:
    """Turns/s of ``add_messages`` in full batches, on a fresh store."""
    from tiermem import TieredMemory

    config, embedder, counter = parts
    batch, batches = spec["batch"], spec["probe_batches"]
    turns = user_turns(spec["seed"], "probe", batch * batches)
    spent = 0.0
    with TieredMemory(folder, config=config, embedder=embedder, token_counter=counter) as mem:
        for chunk in _chunks(turns, batch):
            messages = [
                {"role": t.role, "content": t.text, "timestamp": t.timestamp} for t in chunk
            ]
            spent += _timed(
                lambda m=messages: mem.add_messages(
                    m, session_id="probe", user_id="probe", agent_id=AGENT
                )
            )
    shutil.rmtree(folder, ignore_errors=True)
    return len(turns) / spent


def _build(mem: Any, spec: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[int, Turn]]]:
    """Bulk-load every user's conversation but the last turns, kept for one-by-one adds."""
    counts = per_user_counts(spec["size"], spec["users"])
    singles = _singles_per_user(spec)
    spent, calls, rows = 0.0, 0, 0
    kept: list[tuple[int, int, Turn]] = []
    started = time.perf_counter()
    for user, count in enumerate(counts):
        turns = user_turns(spec["seed"], user, count)
        split = max(0, count - singles)
        kept += [(i, user, t) for i, t in enumerate(turns[split:])]
        for chunk in _chunks(turns[:split], spec["batch"]):
            messages = [
                {"role": t.role, "content": t.text, "timestamp": t.timestamp} for t in chunk
            ]
            spent += _timed(
                lambda m=messages, u=user: mem.add_messages(
                    m, session_id=session_id(u), user_id=user_id(u), agent_id=AGENT
                )
            )
            calls += 1
            rows += len(chunk)
    result = {
        "build_rows": rows,
        "build_calls": calls,
        "build_seconds": spent,
        "build_wall_seconds": time.perf_counter() - started,
        "build_rate": rows / spent if spent else 0.0,
    }
    # one-by-one adds go round the users, as live traffic would
    return result, [(user, turn) for _, user, turn in sorted(kept, key=lambda k: k[:2])]


def _singles_per_user(spec: dict[str, Any]) -> int:
    return max(0, -(-spec["singles"] // spec["users"]))  # ceiling division


def _tiermem_queries(mem: Any, spec: dict[str, Any]) -> dict[str, Any]:
    plan = query_plan(spec["seed"], spec["users"], spec["queries"])
    ops: dict[str, list[Callable[[], object]]] = {
        "search_user": [lambda u=u, q=q: mem.search(q, user_id=user_id(u)) for u, q in plan],
        "search_scope": [lambda q=q: mem.search(q, agent_id=AGENT) for _, q in plan],
        "context_user": [
            lambda u=u, q=q: mem.build_context(q, session_id=session_id(u), user_id=user_id(u))
            for u, q in plan
        ],
        "context_scope": [
            lambda u=u, q=q: mem.build_context(q, session_id=session_id(u), agent_id=AGENT)
            for u, q in plan
        ],
    }
    out: dict[str, Any] = {name: stats(_latencies(calls)[0]) for name, calls in ops.items()}
    sample = mem.build_context(plan[0][1], session_id=session_id(plan[0][0]), agent_id=AGENT)
    out["context_tokens"] = sample.token_count
    out["context_kept"] = len(sample.kept)
    if spec.get("profile"):
        out["profile"] = _profile_contexts(ops["context_scope"] + ops["context_user"])
    return out


def _profile_contexts(calls: Sequence[Callable[[], object]]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    text = io.StringIO()
    report = pstats.Stats(profiler, stream=text).strip_dirs()
    text.write(f"{len(calls)} build_context calls (one scope, then by user)\n")
    report.sort_stats("tottime").print_stats(25)
    report.sort_stats("cumulative").print_stats(35)
    return text.getvalue()


def _tiermem_worker(spec: dict[str, Any]) -> dict[str, Any]:
    from tiermem import TieredMemory

    parts = _tiermem_parts()
    config, embedder, counter = parts
    root = Path(spec["store"])
    result: dict[str, Any] = {"bulk_probe_rate": _bulk_probe(spec, parts, root.parent / "probe")}
    recorder, upkeep = _upkeep_recorder()
    mem = TieredMemory(
        root, config=config, embedder=embedder, token_counter=counter, callbacks=[recorder]
    )
    built, singles = _build(mem, spec)
    result |= built
    single = [
        _timed(
            lambda u=u, t=t: mem.add_message(
                t.role,
                t.text,
                session_id=session_id(u),
                user_id=user_id(u),
                agent_id=AGENT,
                timestamp=t.timestamp,
            )
        )
        for u, t in singles
    ]
    result["single"] = stats(single)
    result["single_rate"] = len(single) / sum(single) if single else 0.0
    result["fsync_line"] = stats(fsync_lines(root, len(single) or 300))
    # no public wait: the upkeep still running must end, so optimize() is timed alone
    mem._maintainer.wait()
    result["background_optimizes"] = len(upkeep)
    result["background_optimize_seconds"] = sum(upkeep)
    result["optimize_seconds"] = _timed(mem.optimize)
    result["rows"] = mem.stats()["records"]
    result |= _tiermem_queries(mem, spec)
    mem.close()
    result["disk_mb"] = folder_mb(root)
    # last: its turns must not count in the figures above
    result["single_behind"] = _write_behind_singles(root, parts, singles)
    return result | memory_mb()


def fsync_lines(folder: Path, count: int) -> list[float]:
    """The floor of a durable add: one JSON line appended and fsync'd, in the same folder."""
    line = json.dumps({"role": "user", "content": "x" * 120, "ts": 0.0}) + "\n"
    path = folder / "fsync-floor.jsonl"
    with path.open("a", encoding="utf-8") as file:

        def append() -> None:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())

        spent = [_timed(append) for _ in range(count)]
    path.unlink()
    return spent


def _write_behind_singles(root: Path, parts: tuple[Any, Any, Any], singles: Any) -> dict[str, Any]:
    """`add_message` latency with the opt-in write-behind, on the same store."""
    from tiermem import MemoryConfig, TieredMemory

    config, embedder, counter = parts
    behind = MemoryConfig(**(config.model_dump() | {"long_term": {"write_behind_ms": 20.0}}))
    with TieredMemory(root, config=behind, embedder=embedder, token_counter=counter) as mem:

        def add(turn: Turn) -> None:
            mem.add_message(
                turn.role, turn.text, session_id="write-behind", user_id="write-behind",
                agent_id=AGENT, timestamp=turn.timestamp,
            )  # fmt: skip

        times = [_timed(lambda t=t: add(t)) for _, t in singles[:500]]
    return stats(times)


def _cold_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Import, open an existing store, and the first build_context, each timed."""
    started = time.perf_counter()
    from tiermem import MemoryConfig, TieredMemory
    from tiermem.static_embedding import StaticEmbedder

    imported = time.perf_counter()
    mem = TieredMemory(
        spec["store"], config=MemoryConfig(tokenizer="cl100k_base"), embedder=StaticEmbedder()
    )
    opened = time.perf_counter()
    user, query = query_plan(spec["seed"], spec["users"], 1)[0]
    mem.build_context(query, session_id=session_id(user), user_id=user_id(user))
    first = time.perf_counter()
    # then serve: what stays resident is what the queries made hot, not the build
    for u, q in query_plan(spec["seed"], spec["users"], spec["queries"]):
        mem.build_context(q, session_id=session_id(u), user_id=user_id(u))
        mem.build_context(q, session_id=session_id(u), agent_id=AGENT)
    mem.close()
    serving = memory_mb()
    return {
        "import_seconds": imported - started,
        "open_seconds": opened - imported,
        "first_context_seconds": first - opened,
        "total_seconds": first - started,
        "serving_peak_rss_mb": serving["peak_rss_mb"],
    }


def _peer_ingest(peer: Any, spec: dict[str, Any], singles: bool) -> tuple[dict[str, Any], int]:
    """Bulk build, then one-by-one adds, within the budget; the turns actually stored."""
    counts = per_user_counts(spec["size"], spec["users"])
    keep = _singles_per_user(spec) if singles else 0
    deadline = time.perf_counter() + spec["budget"]
    spent, rows, kept, out = 0.0, 0, [], {}
    for user, count in enumerate(counts):
        turns = [(t.role, t.text) for t in user_turns(spec["seed"], user, count)]
        split = max(0, count - keep)
        kept.append((user, turns[split:]))
        for chunk in _chunks(turns[:split], spec["batch"]):
            spent += _timed(lambda c=chunk, u=user: peer.add_bulk(user_id(u), c))
            rows += len(chunk)
        if time.perf_counter() > deadline:
            out["timeout_at"] = rows
            break
    out |= {"build_rows": rows, "build_rate": rows / spent if spent else 0.0}
    single: list[float] = []
    added = 0
    for user, turns in kept if "timeout_at" not in out else []:
        for start in range(0, len(turns), peer.unit):
            part = turns[start : start + peer.unit]
            single.append(_timed(lambda p=part, u=user: peer.add(user_id(u), p)))
            added += len(part)
        if time.perf_counter() > deadline:
            out["timeout_at"] = rows + added
            break
    out["single"] = stats(single)
    out["single_rate"] = added / sum(single) if single else 0.0
    return out, rows + added


def _peer_worker(spec: dict[str, Any]) -> dict[str, Any]:
    warnings.filterwarnings("ignore")  # LangChain's deprecation notices, once per user
    from tiermem.static_embedding import StaticEmbedder

    embedder = StaticEmbedder()
    embedder.embed(["load the table before anything is timed"])
    scopes = spec["scopes"]
    peer = peers.make_peer(spec["peer"], embedder, one_scope=scopes == ["scope"])
    result, rows = _peer_ingest(peer, spec, singles="user" in scopes)
    result["rows"] = rows
    plan = query_plan(spec["seed"], spec["users"], spec["queries"])
    for scope in scopes:
        calls = [
            lambda u=u, q=q, s=scope: peer.context(q, user_id(u) if s == "user" else None)
            for u, q in plan
        ]
        times, _ = _latencies(calls, spec["query_budget"])
        result[f"context_{scope}"] = stats(times)
    return result | memory_mb() | {"version": _mem0_version() if spec["peer"] == "mem0" else None}


def _mem0_version() -> str | None:
    try:
        return importlib.metadata.version("mem0ai")
    except importlib.metadata.PackageNotFoundError:
        return None


def _locomo_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Ingest LoCoMo turn by turn, then one context per question, in its conversation."""
    warnings.filterwarnings("ignore")
    import locomo

    dataset = locomo.load(spec["locomo"])
    unit, add, context = _locomo_calls(spec["system"], Path(spec["store"]))
    adds: list[float] = []
    turns = 0
    for conv in dataset.conversations:
        for start in range(0, len(conv.turns), unit):
            part = conv.turns[start : start + unit]
            adds.append(_timed(lambda p=part, c=conv: add(c.sample_id, p)))
            turns += len(part)
    calls = [
        lambda c=conv, q=q: context(c.sample_id, q.question)
        for conv in dataset.conversations
        for q in conv.questions
    ]
    times, _ = _latencies(calls, spec["query_budget"])
    return {
        "turns": turns,
        "questions": len(calls),
        "ingest_rate": turns / sum(adds),
        "add": stats(adds),
        "context": stats(times),
    } | memory_mb()


_Add = Callable[[str, Sequence[Any]], None]


def _locomo_calls(system: str, store: Path) -> tuple[int, _Add, Callable[[str, str], object]]:
    """Turns per add call, the add call and the context call of one system."""
    if system == "tiermem":
        from tiermem import TieredMemory

        config, embedder, counter = _tiermem_parts()
        mem = TieredMemory(store, config=config, embedder=embedder, token_counter=counter)

        def add(conv: str, turns: Sequence[Any]) -> None:
            for t in turns:
                mem.add_message(
                    t.role,
                    t.content,
                    session_id=f"{conv}-s{t.session}",
                    user_id=conv,
                    timestamp=t.timestamp,
                )

        def context(conv: str, question: str) -> object:
            return mem.build_context(question, session_id=f"{conv}-qa", user_id=conv)

        return 1, add, context
    from tiermem.static_embedding import StaticEmbedder

    embedder = StaticEmbedder()
    embedder.embed(["load the table before anything is timed"])
    peer = peers.make_peer(system, embedder)

    def peer_add(conv: str, turns: Sequence[Any]) -> None:
        peer.add(conv, [(t.role, t.content) for t in turns])

    return peer.unit, peer_add, lambda conv, question: peer.context(question, conv)


_WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "tiermem": _tiermem_worker,
    "cold": _cold_worker,
    "peer": _peer_worker,
    "locomo": _locomo_worker,
}


def _run_worker(spec_file: Path) -> int:
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    result = _WORKERS[spec["kind"]](spec)
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


# --- the orchestrator --------------------------------------------------------------


def _environment() -> dict[str, str]:
    """Workers find tiermem and these scripts whatever interpreter runs them."""
    import tiermem

    paths = [str(Path(tiermem.__file__).resolve().parents[1]), str(Path(__file__).parent)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("LANCEDB_LOG", "error")
    env["MEM0_TELEMETRY"] = "False"
    return env


@dataclass(slots=True)
class _Runner:
    work: Path
    env: dict[str, str]
    timeout: float
    counter: int = 0

    def __call__(
        self, spec: dict[str, Any], python: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run one worker in a fresh process; its result, or ``{"error": ...}``."""
        self.counter += 1
        spec_file = self.work / f"spec-{self.counter}.json"
        result = self.work / f"result-{self.counter}.json"
        spec_file.write_text(json.dumps(spec | {"result": str(result)}), encoding="utf-8")
        command = [
            python or sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            str(spec_file),
        ]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout or self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"killed after {timeout or self.timeout:.0f} s"}
        if done.returncode != 0 or not result.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"error": " / ".join(tail) or f"exit code {done.returncode}"}
        out: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        out["process_seconds"] = time.perf_counter() - started
        return out


def _log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _measure_size(run: _Runner, args: argparse.Namespace, size: int) -> dict[str, Any]:
    common = {
        "size": size,
        "users": min(args.users, size),
        "seed": args.seed,
        "batch": args.batch,
        "singles": args.singles,
        "queries": args.queries,
    }
    store = run.work / f"store-{size}"
    _log(f"tiermem at {size:,}")
    tiermem = run(
        {
            "kind": "tiermem",
            "store": str(store),
            "probe_batches": args.probe_batches,
            "profile": size in args.profile,
        }
        | common
    )
    cold = run({"kind": "cold", "store": str(store)} | common) if store.exists() else {}
    shutil.rmtree(store, ignore_errors=True)
    peers_out: dict[str, Any] = {}
    for name in args.peers if args.peer_sizes is None or size in args.peer_sizes else []:
        if name == "mem0" and not args.mem0_python:
            peers_out[name] = {"error": "not run: pass --mem0-python"}
            continue
        peers_out[name] = _measure_peer(run, args, name, common)
    return {"tiermem": tiermem, "cold": cold, "peers": peers_out}


def _measure_peer(
    run: _Runner, args: argparse.Namespace, name: str, common: dict[str, Any]
) -> dict[str, Any]:
    python = args.mem0_python if name == "mem0" else None
    spec = common | {
        "kind": "peer",
        "peer": name,
        "budget": args.peer_budget,
        "query_budget": args.query_budget,
    }
    limit = args.peer_budget + 4 * args.query_budget + 300
    shared = name in ("lc-vector", "mem0")
    _log(f"{name} at {common['size']:,}")
    first = run(spec | {"scopes": ["user", "scope"] if shared else ["user"]}, python, limit)
    if shared or "error" in first:
        return first
    _log(f"{name} at {common['size']:,}, one scope")
    second = run(spec | {"scopes": ["scope"]}, python, limit)
    merged = dict(first)
    merged["context_scope"] = second.get("context_scope", {"n": 0})
    merged["scope_build"] = {k: second.get(k) for k in ("build_rate", "timeout_at", "error")}
    merged["peak_rss_mb"] = max(first.get("peak_rss_mb", 0), second.get("peak_rss_mb", 0))
    return merged


def _measure_locomo(run: _Runner, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for system in ["tiermem", *args.peers]:
        if system == "mem0" and not args.mem0_python:
            out[system] = {"error": "not run: pass --mem0-python"}
            continue
        _log(f"LoCoMo: {system}")
        store = run.work / "locomo-store"
        out[system] = run(
            {
                "kind": "locomo",
                "system": system,
                "locomo": str(args.locomo),
                "store": str(store),
                "query_budget": args.query_budget,
            },
            args.mem0_python if system == "mem0" else None,
        )
        shutil.rmtree(store, ignore_errors=True)
    return out


def _machine(mem0_version: str | None) -> dict[str, Any]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    if mem0_version:
        versions["mem0ai"] = mem0_version
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "unknown"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the raw results the report is made of."""
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tiermem-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    runner = _Runner(work, _environment(), args.worker_timeout)
    results: dict[str, Any] = {"load_before": _load(), "started": time.time(), "sizes": {}}
    try:
        for size in args.sizes:
            results["sizes"][size] = _measure_size(runner, args, size)
        if args.locomo:
            results["locomo"] = _measure_locomo(runner, args)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = _load()
    results["minutes"] = (time.time() - results["started"]) / 60
    mem0 = [s["peers"].get("mem0", {}).get("version") for s in results["sizes"].values()]
    results["machine"] = _machine(next((v for v in mem0 if v), None))
    return results


# --- the report --------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ms(block: dict[str, Any] | None, key: str = "p50") -> str:
    if not block or key not in block:
        return "-"
    return _num(block[key], 2 if block[key] < 10 else 1)


def _size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def _tiermem_rows(sizes: dict[int, Any]) -> list[tuple[str, list[str]]]:
    t = {size: r["tiermem"] for size, r in sizes.items()}
    cold = {size: r["cold"] for size, r in sizes.items()}

    def row(get: Callable[[dict[str, Any], dict[str, Any]], str]) -> list[str]:
        return [get(t[s], cold[s]) if "error" not in t[s] else "error" for s in sizes]

    rows = [
        ("rows in the store", row(lambda r, _: f"{r['rows']:,}")),
        (
            "bulk `add_messages`, full batches, fresh store (turns/s)",
            row(lambda r, _: _num(r["bulk_probe_rate"], 0)),
        ),
        (
            "store build: `add_messages` per user (turns/s)",
            row(
                lambda r, _: (
                    f"{_num(r['build_rate'], 0)} ({r['build_rows'] // max(r['build_calls'], 1)}"
                    " a call)"
                )
            ),
        ),
        ("`add_message` one by one (turns/s)", row(lambda r, _: _num(r["single_rate"], 0))),
        (
            "`add_message` p50 / p95 (ms)",
            row(lambda r, _: f"{_ms(r['single'])} / {_ms(r['single'], 'p95')}"),
        ),
        (
            "`add_message` p50 / p95, opt-in write-behind of 20 ms (ms)",
            row(
                lambda r, _: f"{_ms(r.get('single_behind'))} / {_ms(r.get('single_behind'), 'p95')}"
            ),
        ),
        (
            "background optimizes while ingesting (runs, s)",
            row(
                lambda r, _: (
                    f"{r['background_optimizes']}, {_num(r['background_optimize_seconds'])}"
                )
            ),
        ),
        ("`optimize()` after ingest (s)", row(lambda r, _: _num(r["optimize_seconds"], 2))),
    ]
    for key, label in (
        ("search_user", "`search`, by user"),
        ("search_scope", "`search`, one scope"),
        ("context_user", "`build_context`, by user"),
        ("context_scope", "`build_context`, one scope"),
    ):
        rows.append(
            (
                f"{label}: p50 / p95 / p99 (ms)",
                row(lambda r, _, k=key: " / ".join(_ms(r[k], p) for p in ("p50", "p95", "p99"))),
            )
        )
    rows += [
        (
            "context built (tokens, items kept)",
            row(lambda r, _: f"{r['context_tokens']}, {r['context_kept']}"),
        ),
        ("peak RSS, building and querying (MB)", row(lambda r, _: _num(r["peak_rss_mb"], 0))),
        (
            "peak RSS, a fresh process serving the store (MB)",
            row(lambda _, c: _num(c.get("serving_peak_rss_mb"), 0)),
        ),
        ("RSS after the queries (MB)", row(lambda r, _: _num(r["rss_mb"], 0))),
        ("disk (MB)", row(lambda r, _: _num(r["disk_mb"], 0))),
        (
            "cold start: import / open / first context (s)",
            row(
                lambda _, c: " / ".join(
                    _num(c.get(k), 2)
                    for k in ("import_seconds", "open_seconds", "first_context_seconds")
                )
            ),
        ),
        ("cold start: whole process (s)", row(lambda _, c: _num(c.get("process_seconds"), 2))),
    ]
    return rows


def _tiermem_table(sizes: dict[int, Any]) -> list[str]:
    labels = [_size_label(s) for s in sizes]
    lines = ["| metric | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    errors = [
        f"{_size_label(s)}: {r['tiermem']['error']}"
        for s, r in sizes.items()
        if "error" in r["tiermem"]
    ]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in _tiermem_rows(sizes)]
    return lines + ([""] + [f"Error at {e}" for e in errors] if errors else [])


def _ratio(peer: float | None, ours: float | None) -> str:
    if not peer or not ours:
        return "-"
    ratio = peer / ours
    # a peer much faster than tiermem still shows as a number, not 0.0x
    return f"{ratio:,.1f}x" if ratio >= 1 else f"{ratio:.2g}x"


def _peer_table(size: int, result: dict[str, Any]) -> list[str]:
    t = result["tiermem"]
    header = (
        "| system | build (turns/s) | one by one (turns/s) | add p50 (ms) | context p50 / p95,"
        " by user (ms) | context p50 / p95, one scope (ms) | peak RSS (MB) | context p50 vs"
        " tiermem, by user / one scope | RSS vs tiermem | note |"
    )
    lines = [header, "|---" * 10 + "|"]
    if "error" not in t:
        lines.append(
            f"| tiermem | {_num(t['build_rate'], 0)} | {_num(t['single_rate'], 0)} | "
            f"{_ms(t['single'])} | {_ms(t['context_user'])} / {_ms(t['context_user'], 'p95')} | "
            f"{_ms(t['context_scope'])} / {_ms(t['context_scope'], 'p95')} | "
            f"{_num(t['peak_rss_mb'], 0)} | 1.0x / 1.0x | 1.0x | |"
        )
    for name, p in result["peers"].items():
        lines.append(_peer_row(name, p, t))
    return lines


def _peer_row(name: str, p: dict[str, Any], t: dict[str, Any]) -> str:
    if "error" in p:
        return f"| {PEERS[name]} |" + " - |" * 8 + f" {p['error']} |"
    notes = []
    if "timeout_at" in p:
        notes.append(f"timeout at {p['timeout_at']:,} turns (budget)")
    scope = p.get("scope_build")
    if scope and scope.get("timeout_at") is not None:
        notes.append(f"one-scope build: timeout at {scope['timeout_at']:,}")
    if scope and scope.get("error"):
        notes.append(f"one-scope run: {scope['error']}")
    for key in ("context_user", "context_scope"):
        n = p.get(key, {}).get("n", 0)
        if 0 < n < t.get(key, {}).get("n", 0):
            notes.append(f"{key.split('_')[1]}: {n} queries (budget)")
    ours = t if "error" not in t else {}
    ratios = " / ".join(
        _ratio(p.get(k, {}).get("p50"), ours.get(k, {}).get("p50"))
        for k in ("context_user", "context_scope")
    )
    return (
        f"| {PEERS[name]} | {_num(p['build_rate'], 0)} | {_num(p['single_rate'], 0)} | "
        f"{_ms(p['single'])} | {_ms(p.get('context_user'))} / {_ms(p.get('context_user'), 'p95')}"
        f" | {_ms(p.get('context_scope'))} / {_ms(p.get('context_scope'), 'p95')} | "
        f"{_num(p['peak_rss_mb'], 0)} | {ratios} | "
        f"{_ratio(p['peak_rss_mb'], ours.get('peak_rss_mb'))} | {'; '.join(notes)} |"
    )


def _target_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    sizes: dict[int, Any] = results["sizes"]

    def tm(size: int) -> dict[str, Any]:
        found: dict[str, Any] = sizes.get(size, {}).get("tiermem", {})
        return found if "error" not in found else {}

    def p50(size: int, key: str) -> float | None:
        value = tm(size).get(key, {}).get("p50")
        return float(value) if value is not None else None

    def check(value: float | None, ok: Callable[[float], bool], text: str) -> tuple[str, str]:
        return ("not run", "-") if value is None else (text, "yes" if ok(value) else "no")

    rows = []
    for target, (size, key, limit) in zip(
        TARGETS[:3],
        ((100_000, "context_scope", 5.0), (100_000, "context_user", 2.0),
         (1_000_000, "context_scope", 20.0)),
        strict=True,
    ):  # fmt: skip
        value = p50(size, key)
        rows.append((target, *check(value, lambda v, lim=limit: v <= lim, f"{_num(value, 2)} ms")))
    versus = [(s, _versus_peers(sizes.get(s))) for s in (10_000, 100_000)]
    ran = [(s, v) for s, v in versus if v[1] != "-"]
    met = ("yes" if all(v[1] == "yes" for _, v in ran) else "no") if ran else "-"
    measured = "; ".join(f"{_size_label(s)}: {v[0]}" for s, v in ran) or "not run"
    rows.append((TARGETS[3], measured, met))
    rows.append((TARGETS[4], *_versus_locomo(results.get("locomo"))))
    ratios = {s: tm(s)["single"]["p50"] / tm(s)["fsync_line"]["p50"]
              for s in sizes if tm(s).get("fsync_line")}  # fmt: skip
    rows.append((TARGETS[5], *check(
        max(ratios.values(), default=None), lambda v: v <= 5.0,
        ", ".join(f"{r:.1f}x at {_size_label(s)} ({_ms(tm(s)['single'])} vs "
                  f"{_ms(tm(s)['fsync_line'])} ms)" for s, r in ratios.items()))))  # fmt: skip
    single = {s: tm(s)["single_rate"] for s in sizes if tm(s)}
    rows.append((TARGETS[6], *check(
        min(single.values(), default=None), lambda v: v >= 2_000,
        ", ".join(f"{_num(v, 0)} at {_size_label(s)}" for s, v in single.items()))))  # fmt: skip
    bulk = {s: tm(s)["bulk_probe_rate"] for s in sizes if tm(s)}
    rows.append((TARGETS[7], *check(
        min(bulk.values(), default=None), lambda v: v >= 20_000,
        ", ".join(f"{_num(v, 0)} at {_size_label(s)}" for s, v in bulk.items()))))  # fmt: skip
    cold = sizes.get(100_000, {}).get("cold", {})
    first = cold.get("open_seconds", 0) + cold.get("first_context_seconds", 0) if cold else None
    rows.append((TARGETS[8], *check(first or None, lambda v: v < 1.0, f"{_num(first, 2)} s")))
    serving = sizes.get(1_000_000, {}).get("cold", {}).get("serving_peak_rss_mb")
    rows.append((TARGETS[9], *check(serving, lambda v: v <= 1_536, f"{_num(serving, 0)} MB")))
    return rows


def _versus_locomo(locomo: dict[str, Any] | None) -> tuple[str, str]:
    """tiermem's context p50 on the LoCoMo conversations against each peer's."""
    if not locomo or "error" in locomo.get("tiermem", {"error": 1}):
        return "not run", "-"
    ours = locomo["tiermem"]["context"]["p50"]
    # the summary buffer retrieves nothing: not a peer for a retrieving context
    peers = {name: r["context"]["p50"] for name, r in locomo.items()
             if name not in ("tiermem", "lc-summary") and "error" not in r}  # fmt: skip
    if not peers:
        return "no peer measured", "-"
    text = ", ".join(f"{n} {v / ours:.1f}x" for n, v in peers.items())
    return f"tiermem {_num(ours, 2)} ms; peer/tiermem: {text}", (
        "yes" if all(v > ours for v in peers.values()) else "no"
    )


def _versus_peers(result: dict[str, Any] | None) -> tuple[str, str]:
    """The slowest of tiermem's two context p50s against the fastest retrieving peer."""
    if not result or "error" in result["tiermem"]:
        return "not run", "-"
    ours = max(result["tiermem"]["context_user"]["p50"], result["tiermem"]["context_scope"]["p50"])
    best = []
    for name, p in result["peers"].items():
        # the summary buffer retrieves nothing: loading it is a string join, not a search
        if name == "lc-summary" or "error" in p:
            continue
        values = [p.get(k, {}).get("p50") for k in ("context_user", "context_scope")]
        if all(values):
            best.append((min(values), name))
    if not best:
        return "no peer measured", "-"
    fastest, name = min(best)
    ratio = fastest / ours
    return f"{ratio:,.1f}x ({name}: {_num(fastest, 2)} ms vs {_num(ours, 2)} ms)", (
        "yes" if ratio >= 10 else "no"
    )


def _locomo_table(locomo: dict[str, Any]) -> list[str]:
    lines = [
        "| system | turns | ingest one by one (turns/s) | add p50 (ms) | context p50 / p95 / "
        "p99 (ms) | questions timed | peak RSS (MB) |",
        "|---" * 7 + "|",
    ]
    for name, r in locomo.items():
        label = "tiermem" if name == "tiermem" else PEERS[name]
        if "error" in r:
            lines.append(f"| {label} |" + " - |" * 5 + f" {r['error']} |")
            continue
        c = r["context"]
        lines.append(
            f"| {label} | {r['turns']:,} | {_num(r['ingest_rate'], 0)} | {_ms(r['add'])} | "
            f"{_ms(c)} / {_ms(c, 'p95')} / {_ms(c, 'p99')} | {c['n']} of {r['questions']} | "
            f"{_num(r['peak_rss_mb'], 0)} |"
        )
    return lines


def render(results: dict[str, Any], command: str, args: argparse.Namespace) -> str:
    """The Markdown report."""
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    out = [
        "# tiermem speed",
        "",
        f"Reproduce: `{command}`",
        "",
        f"Machine: {m['cores']} cores, Python {m['python']}, {m['platform']}. {versions}.",
        f"Load average (1/5/15 min) before: {results['load_before']}, after: "
        f"{results['load_after']}; the run took {results['minutes']:.1f} min. Other jobs on "
        "the machine share its cores: compare figures within one run.",
        "",
        f"Workload: synthetic chat turns (5-60 words: names, places, numbers, dates; seed "
        f"{args.seed}) over {args.users:,} users, each one conversation; every turn also "
        'belongs to one agent, whose scope ("one scope") holds every record. Stores are '
        f"built with `add_messages` ({args.batch:,} turns a call at most, one user's turns per "
        f"call), the last {args.singles:,} turns are added one by one with `add_message`; then "
        f"`optimize()`, then {args.queries} queries per operation after {_WARMUP} warm-up "
        "calls. `build_context` uses the default 4,000-token budget. Embedder: tiermem's "
        "`StaticEmbedder` for every system; tokenizer cl100k_base. Each size, each peer and "
        "each cold start runs in a fresh process.",
        "",
        "## Targets (issue 15)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    out += [f"| {a} | {b} | {c} |" for a, b, c in _target_rows(results)]
    out += ["", "## tiermem by store size", "", *_tiermem_table(results["sizes"])]
    for size, result in results["sizes"].items():
        if result["peers"]:
            out += ["", f"## Peers at {_size_label(size)} turns", "", *_peer_table(size, result)]
    out += [
        "",
        *_PEER_NOTES.format(budget=args.peer_budget, query=args.query_budget, k=TOP_K).splitlines(),
    ]
    if "locomo" in results:
        out += [
            "",
            "## LoCoMo conversations (ingested turn by turn, one context per question)",
            "",
            *_locomo_table(results["locomo"]),
        ]
    return "\n".join(out) + "\n"


_PEER_NOTES = """Ratios are peer / tiermem: above 1x the peer is slower or bigger. "build" is \
each system's bulk path (LlamaIndex `put_messages`, LangChain `add_documents` on the \
retriever's store, mem0 `add` with a list; the summary buffer has none and saves one \
exchange at a time); "one by one" is its add API (LangChain classic memories save a \
(human, AI) exchange per call, so their add p50 covers two turns). Context is each \
system's equivalent of `build_context`: LlamaIndex `Memory.get(input=...)` (chat window of \
2,000 of 4,000 tokens, 4 retrieved nodes of flushed turns), `load_memory_variables` \
(top {k} exchanges; the summary buffer does no retrieval), `mem0.search` (top {k}). \
LlamaIndex needs `SimpleVectorStore` to keep node text (a 20-line subclass; search is \
unchanged). LlamaIndex and the summary buffer keep one memory per conversation, so their \
one-scope figures come from a second process holding every turn in one memory; peak RSS \
is the larger of the two. Each peer process gets {budget:.0f} s to ingest ("timeout at \
N" = turns stored when it ran out; its queries then run on those) and {query:.0f} s per \
query set."""


# --- command line ------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="speed.py", description="tiermem speed against store size and peer memories."
    )
    add = parser.add_argument
    add(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        metavar="N",
        help="store sizes in turns (default: %(default)s; add 1000000 for 1M)",
    )
    add("--users", type=int, default=1_000, help="users the turns are spread over")
    add("--batch", type=int, default=1_000, help="most turns per bulk call")
    add("--probe-batches", type=int, default=10, help="full batches in the bulk probe")
    add("--singles", type=int, default=2_000, help="turns added one by one")
    add("--queries", type=int, default=300, help="queries per operation")
    add("--seed", type=int, default=8)
    add(
        "--peers",
        nargs="*",
        default=["llamaindex", "lc-vector", "lc-summary", "mem0"],
        choices=["llamaindex", "lc-vector", "lc-summary", "mem0"],
        metavar="PEER",
        help="llamaindex lc-vector lc-summary mem0 (default: all)",
    )
    add(
        "--mem0-python",
        default=None,
        metavar="PYTHON",
        help="interpreter of an environment with mem0ai and tiermem's dependencies",
    )
    add(
        "--peer-sizes",
        type=int,
        nargs="*",
        default=None,
        metavar="N",
        help="sizes at which the peers run (default: every size)",
    )
    add(
        "--peer-budget",
        type=float,
        default=240.0,
        metavar="S",
        help="seconds each peer process may spend ingesting",
    )
    add(
        "--query-budget",
        type=float,
        default=45.0,
        metavar="S",
        help="seconds a peer may spend on one query set",
    )
    add(
        "--locomo",
        type=Path,
        default=None,
        metavar="JSON",
        help="LoCoMo file (e.g. ../shared/data/locomo-dev.json) for a realistic workload",
    )
    add(
        "--profile",
        type=int,
        nargs="*",
        default=[],
        metavar="N",
        help="sizes at which build_context is profiled (cProfile) into a text file",
    )
    add("--workdir", type=Path, default=None, help="keep stores here (default: a temp folder)")
    add("--worker-timeout", type=float, default=7_200.0, help=argparse.SUPPRESS)
    add("--out", type=Path, default=_DEFAULT_OUT, help="Markdown report (default: %(default)s)")
    add(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="only render the report from the raw results of an earlier run",
    )
    add("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if any(n <= 0 for n in [*args.sizes, args.users, args.batch, args.queries]):
        parser.error("sizes, --users, --batch and --queries must be positive")
    args.sizes = sorted(set(args.sizes))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return _run_worker(args.worker)
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    raw = args.out.with_suffix(".json")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.render:
        saved = json.loads(args.render.read_text(encoding="utf-8"))
        command, results = saved["command"], saved["results"]
        results["sizes"] = {int(size): r for size, r in results["sizes"].items()}
    else:
        results = run(args)
        # raw figures first: a report can be rendered again from them (--render)
        raw.write_text(json.dumps({"command": command, "results": results}), encoding="utf-8")
    report = render(results, command, args)
    args.out.write_text(report, encoding="utf-8")
    for size, result in results["sizes"].items():
        profile = result["tiermem"].get("profile")
        if profile:
            target = args.out.with_name(f"{args.out.stem}-profile-{size}.txt")
            target.write_text(profile, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
