"""Many writers on one store: processes (spawn), threads, and one shared instance.

Every write whose call returned must be readable afterwards from a fresh instance,
once, with a sequence number of its own; no error may reach a caller.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import rel_workers as w

from tiermem import TieredMemory

# 3 spawned processes x 2 writer threads, plus 2 writer threads in this process;
# one user is shared across processes, one session has no user at all
PLAN: list[list[tuple[str, str | None]]] = [
    [("p0-a", "u-shared"), ("p0-b", "u0")],
    [("p1-a", "u-shared"), ("p1-b", None)],
    [("p2-a", "u-shared"), ("p2-b", "u2")],
]
LOCAL: list[tuple[str, str | None]] = [("main-a", "u-shared"), ("main-b", "u-main")]
WRITES = 12  # calls per writer: single turns, batches of three, explicit memories
TIMEOUT = 180.0


def test_spawned_processes_and_threads_lose_nothing(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")  # not created yet: every writer opens it at once
    ctx = multiprocessing.get_context("spawn")  # under fork, LanceDB children fail silently
    results: Any = ctx.Queue()
    go = ctx.Event()
    # a small optimize_every, so background compaction runs under everyone's writes
    procs = [
        ctx.Process(target=w.writer_main, args=(results, go, uri, plan, WRITES, 10))
        for plan in PLAN
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            assert results.get(timeout=TIMEOUT)[0] == "ready"
        reports: list[dict[str, Any]] = []
        local = threading.Thread(
            target=lambda: reports.append(w.writer_process(uri, LOCAL, WRITES, 10, go=go))
        )
        local.start()
        go.set()
        watcher = TieredMemory(uri)  # open while they write: must see every commit after
        reports += [results.get(timeout=TIMEOUT)[1] for _ in procs]
        local.join(TIMEOUT)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)

    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], "errors reached callers"
    acked = [x for r in reports for x in r["acked"]]
    writers = sum(len(plan) for plan in PLAN) + len(LOCAL)
    assert len(acked) == writers * w.acks_per_writer(WRITES)
    audit = w.audit_store(uri, acked)
    upkeep = [m for r in reports for m in r["upkeep"]]
    # the figures, for `pytest -rP`
    print(f"{len(PLAN)} processes + 1, {writers} writers x {WRITES} calls: {len(acked)} "
          f"acknowledged, {len(audit['lost'])} lost, {audit['duplicate_ids']} duplicated; "
          f"background optimize failed {len(upkeep)} times {sorted(set(upkeep))[:2]}")  # fmt: skip
    assert audit["lost"] == [], f"{len(audit['lost'])} of {len(acked)} acknowledged writes lost"
    assert audit["duplicate_ids"] == 0
    assert audit["duplicate_seqs"] == {}
    assert audit["not_gettable"] == []
    assert audit["rows"] == audit["records_stat"]
    # every turn of every writer is there, in one unbroken sequence per session
    for plan in [*PLAN, LOCAL]:
        for session_id, _ in plan:
            assert audit["seqs"][session_id] == list(range(len(audit["seqs"][session_id])))

    # the shared user sees the writes of every process, and only that user's
    with TieredMemory(uri) as fresh:
        hits = fresh.search("parcel Porto", user_id="u-shared", k=500)
        assert {h.record.user_id for h in hits} == {"u-shared"}
        sessions = {h.record.session_id for h in hits}
        assert sessions == {"p0-a", "p1-a", "p2-a", "main-a"}
        fresh.optimize()  # upkeep in the foreground still works on the result
    assert watcher.stats()["records"] == audit["rows"]
    assert len(watcher.search("parcel Porto", user_id="u-shared", k=500)) == len(hits)
    watcher.close()


def test_threads_sharing_one_instance_keep_unique_sequences(tmp_path: Path) -> None:
    writers, per_writer = 4, 15
    acked: list[list[str]] = [[] for _ in range(writers)]
    errors: list[str] = []
    done = threading.Event()
    with TieredMemory(tmp_path / "store", config=w.small_config(optimize_every=12)) as mem:

        def write(i: int) -> None:
            # two writers per session, so both race for the same session's numbers
            session = f"s{i % 2}"
            try:
                for n in range(per_writer):
                    if n % 5 == 4:
                        batch = [{"role": "user", "content": f"w{i} batch {n}.{j}"} for j in (0, 1)]
                        recs = mem.add_messages(batch, session_id=session, user_id="u")
                        acked[i].extend(r.id for r in recs)
                    else:
                        rec = mem.add_message("user", f"w{i} turn {n}", session_id=session,
                                              user_id="u")  # fmt: skip
                        acked[i].append(rec.id)
            except Exception as exc:
                errors.append(f"writer {i}: {type(exc).__name__}: {exc}")

        def read() -> None:
            # readers run beside the writers on the same instance
            try:
                while not done.is_set():
                    for session in ("s0", "s1"):
                        ctx = mem.build_context("turn", session_id=session, max_tokens=300)
                        assert ctx.token_count <= 300
                    mem.search("batch", user_id="u", k=5)
            except Exception as exc:
                errors.append(f"reader: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        reader = threading.Thread(target=read)
        reader.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        reader.join()
        window = mem.stats()["sessions"]
    assert errors == []
    assert set(window) == {"s0", "s1"}
    all_acked = [x for ids in acked for x in ids]
    assert len(all_acked) == writers * (per_writer + 3)
    audit = w.audit_store(str(tmp_path / "store"), all_acked)
    assert audit["lost"] == []
    assert audit["duplicate_ids"] == 0
    for session in ("s0", "s1"):
        assert audit["seqs"][session] == list(range(2 * (per_writer + 3)))


async def test_concurrent_async_calls_on_one_instance(tmp_path: Path) -> None:
    uri = tmp_path / "store"
    async with TieredMemory(uri, config=w.small_config(optimize_every=10)) as mem:

        async def turn(n: int) -> str:
            record = await mem.aadd_message("user", f"async turn {n}", session_id=f"a{n % 2}")
            return record.id

        async def context(n: int) -> int:
            ctx = await mem.abuild_context("async", session_id=f"a{n % 2}", max_tokens=200)
            return ctx.token_count

        outcomes = await asyncio.gather(
            *(turn(n) for n in range(30)), *(context(n) for n in range(6)),
            return_exceptions=True,
        )  # fmt: skip
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    ids = [o for o in outcomes[:30] if isinstance(o, str)]
    audit = w.audit_store(str(uri), ids)
    assert audit["lost"] == []
    assert audit["seqs"] == {"a0": list(range(15)), "a1": list(range(15))}


def test_writers_opening_a_fresh_store_at_once(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    start = threading.Barrier(6)
    errors: list[str] = []

    def open_and_write(i: int) -> None:
        start.wait()
        try:
            with TieredMemory(uri) as mem:
                mem.add_message("user", f"first words of writer {i}", session_id=f"o{i}")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with TieredMemory(uri) as mem:
        assert mem.stats()["turns"] == 6


def test_an_open_instance_sees_what_another_wrote(tmp_path: Path) -> None:
    with TieredMemory(tmp_path / "store") as a, TieredMemory(tmp_path / "store") as b:
        record = a.add_message("user", "written by a: the code word is tangerine", user_id="u")
        assert b.get(record.id).text == record.text
        assert [h.record.id for h in b.search("tangerine", user_id="u")] == [record.id]
