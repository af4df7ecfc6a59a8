"""SIGKILL a writer at random moments: no acknowledged write is lost, nothing is torn.

Each round runs a child process that writes turns into the same session of the same
store and sends every id once its call has returned; the parent kills it after a
random number of acknowledged writes (so mid-write, often mid-compaction) or inside
an explicit optimize, then reads the store back with a fresh instance.

Children come from a fork server that imported the heavy, thread-free modules once
(`rel_workers.PRELOAD`); each imports LanceDB itself, after the fork.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rel_workers as w

from tiermem import TieredMemory

SESSION = "crash"  # one session across rounds: each child restores it after a crash
INGEST_ROUNDS = 10
OPTIMIZE_ROUNDS = 2
AHEAD = 3  # children started before their round, so their start overlaps earlier rounds


@dataclass
class Child:
    """A writer process and the messages it sent, with the time each arrived."""

    proc: Any
    go: Any
    messages: list[tuple[float, str]] = field(default_factory=list)
    reader: threading.Thread | None = None

    def start_reading(self, conn: Any) -> None:
        def pump() -> None:
            while True:
                try:
                    message = conn.recv_bytes().decode()
                except (EOFError, OSError):
                    return  # the child is dead: its end of the pipe closed
                self.messages.append((time.monotonic(), message))

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()

    def count(self, text: str) -> int:
        return sum(1 for _, m in list(self.messages) if m == text)

    def wait_until(self, done: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            if not self.proc.is_alive():
                return False
            time.sleep(0.002)
        return False

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no handler, no flush, no cleanup
        self.proc.join(30)
        if self.reader is not None:
            self.reader.join(30)

    def acked(self) -> list[str]:
        return [x for _, m in self.messages for x in m.split() if len(x) == 32 and x.isalnum()]

    def writes(self) -> int:
        return sum(1 for _, m in list(self.messages) if m not in ("ready", "optimize", "optimized"))


def spawn(ctx: Any, uri: str, optimize_every: int | None, mode: str) -> Child:
    reader, writer = ctx.Pipe(duplex=False)
    go = ctx.Event()
    proc = ctx.Process(
        target=w.crash_child, args=(writer, go, uri, SESSION, optimize_every, mode), daemon=True
    )
    proc.start()
    writer.close()  # the child holds the only writing end: its death is our EOF
    child = Child(proc, go)
    child.start_reading(reader)
    return child


def kill_mid_round(child: Child, mode: str, rng: random.Random) -> bool:
    """Let the child write, SIGKILL it at a random moment; True if it was mid-optimize."""
    child.go.set()
    if mode == "ingest":
        # a few acknowledged writes, then a moment into the next one (or its upkeep)
        target = rng.randint(1, 10)
        assert child.wait_until(lambda: child.writes() >= target, 60), "no writes acknowledged"
        time.sleep(rng.uniform(0.0, 0.04))
    else:
        wanted = rng.randint(1, 2)
        assert child.wait_until(lambda: child.count("optimize") >= wanted, 60), "no optimize"
        time.sleep(rng.uniform(0.0, 0.03))
    alive = child.proc.is_alive()
    child.kill()
    assert alive, "the writer died before the kill"
    return child.count("optimize") > child.count("optimized")


def check_store(uri: str, acked: list[str], context: str) -> None:
    audit = w.audit_store(uri, acked, get_all=False)
    assert audit["lost"] == [], f"{context}, {len(audit['lost'])} lost"
    assert audit["duplicate_ids"] == 0, context
    assert audit["duplicate_seqs"] == {}, context
    assert audit["not_gettable"] == [], context
    # every row parsed (the export ran through) and the export agrees with the counts
    assert audit["rows"] == audit["records_stat"], context
    assert audit["turns"] == audit["turns_stat"], context
    # the session's turns are one unbroken sequence: no half-written batch is visible
    assert audit["seqs"][SESSION] == list(range(len(audit["seqs"][SESSION]))), context


def test_sigkill_mid_write_loses_no_acknowledged_turn(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    TieredMemory(uri, config=w.small_config()).close()
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(w.PRELOAD)
    # even rounds compact in the background every 4 rows, so kills land inside upkeep too
    plan: list[tuple[int | None, str]] = [
        (4 if i % 2 == 0 else None, "ingest") for i in range(INGEST_ROUNDS)
    ] + [(None, "optimize")] * OPTIMIZE_ROUNDS
    acked: list[str] = []
    during_optimize = 0
    started: list[Child] = []

    def child_for(i: int) -> Child:
        while len(started) < min(i + 1 + AHEAD, len(plan)):
            every, mode = plan[len(started)]
            started.append(spawn(ctx, uri, every, mode))
        return started[i]

    try:
        for i, (_, mode) in enumerate(plan):
            child = child_for(i)
            assert child.wait_until(lambda c=child: c.count("ready") == 1, 120), f"round {i}"
            during_optimize += kill_mid_round(child, mode, rng)
            round_acked = child.acked()
            assert round_acked, f"round {i}: nothing acknowledged before the kill"
            acked += round_acked
            check_store(uri, acked, f"round {i} (seed {seed}): {len(acked)} acknowledged")
    finally:
        for child in started:
            if child.proc.is_alive():
                child.kill()
    print(f"{len(plan)} SIGKILL rounds survived ({during_optimize} inside an optimize, seed "
          f"{seed}): {len(acked)} acknowledged turns, 0 lost, 0 torn")  # fmt: skip
    assert during_optimize >= 1, "no kill landed inside an optimize"
    # the store is still writable and searchable after all those crashes
    with TieredMemory(uri, config=w.small_config()) as mem:
        mem.add_message("user", "after the crashes, Lisbon again", session_id=SESSION)
        assert mem.search("Lisbon", session_id=SESSION, k=5)
        mem.optimize()
