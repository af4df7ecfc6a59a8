"""Code that child processes of the reliability tests run.

Spawned children import this module by name, so it must stay importable on its own:
pytest puts this folder on ``sys.path`` for the tests here, multiprocessing hands
that path to its children, and ``subprocess`` children run this file as a script.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from tiermem import MemoryConfig, TieredMemory

#: Small tiers, so that eviction, summaries (an insert then a delete) and background
#: compaction all happen within a few dozen writes.
SMALL_TIERS: dict[str, Any] = {
    "tokenizer": "cl100k_base",
    "short_term": {"max_tokens": 120},
    "medium_term": {"trigger_tokens": 80, "summary_tokens": 60, "max_summaries": 3},
}


def small_config(
    optimize_every: int | None = None, storage_options: dict[str, str] | None = None
) -> MemoryConfig:
    long_term: dict[str, Any] = {"optimize_every": optimize_every}
    if storage_options:
        long_term["storage_options"] = storage_options
    return MemoryConfig(**SMALL_TIERS, long_term=long_term)


def write_mix(
    mem: TieredMemory, session_id: str, user_id: str | None, writes: int, acked: list[str]
) -> None:
    """Single turns, batches of three and explicit memories; ids appended once acknowledged."""
    for i in range(writes):
        text = f"{session_id} turn {i}: the parcel for {user_id} left Porto at {i} o'clock"
        match i % 5:
            case 3:
                batch = [{"role": "user", "content": f"{text} (batch {j})"} for j in range(3)]
                records = mem.add_messages(batch, session_id=session_id, user_id=user_id)
                acked.extend(r.id for r in records)
            case 4:
                record = mem.remember(f"{text} (memory)", user_id=user_id, session_id=session_id)
                acked.append(record.id)
            case _:
                role = "user" if i % 2 == 0 else "assistant"
                acked.append(mem.add_message(role, text, session_id=session_id, user_id=user_id).id)


def acks_per_writer(writes: int) -> int:
    """How many ids `write_mix` acknowledges for ``writes`` calls (batches hold three)."""
    return sum(3 if i % 5 == 3 else 1 for i in range(writes))


def writer_process(
    uri: str,
    sessions: Sequence[tuple[str, str | None]],
    writes: int,
    optimize_every: int | None,
    storage_options: dict[str, str] | None = None,
    go: Any = None,
) -> dict[str, Any]:
    """One thread per session, each with its own `TieredMemory` on ``uri``.

    Every thread waits on ``go`` (an event) before it opens the store, so that all
    writers of all processes open a fresh store at the same moment. Returns the
    acknowledged ids, every error as text (the parent decides what an error means),
    and the failures of background upkeep, which are logged and never raised.
    """
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    upkeep = _UpkeepFailures()
    logging.getLogger("tiermem.maintenance").addHandler(upkeep)

    def run(session_id: str, user_id: str | None) -> None:
        mine: list[str] = []
        try:
            config = small_config(optimize_every, storage_options)
            if go is not None:
                go.wait()
            with TieredMemory(uri, config=config) as mem:
                write_mix(mem, session_id, user_id, writes, mine)
        except Exception as exc:
            with lock:
                errors.append(f"{session_id}: {type(exc).__name__}: {exc}")
        with lock:
            acked.extend(mine)

    threads = [threading.Thread(target=run, args=s) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logging.getLogger("tiermem.maintenance").removeHandler(upkeep)
    return {"pid": os.getpid(), "acked": acked, "errors": errors, "upkeep": upkeep.messages}


def writer_main(
    results: Any,
    go: Any,
    uri: str,
    sessions: Sequence[tuple[str, str | None]],
    writes: int,
    optimize_every: int | None,
) -> None:
    """Entry point of a spawned writer: say ready, then write once ``go`` is set."""
    results.put(("ready", os.getpid()))
    results.put(("done", writer_process(uri, sessions, writes, optimize_every, go=go)))


class _UpkeepFailures(logging.Handler):
    """Collects what the background maintainer logged (it never raises to callers)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.messages.append(f"{type(exc).__name__}: {exc}" if exc else record.getMessage())


def audit_store(
    uri: str,
    acked: Sequence[str],
    *,
    storage_options: dict[str, str] | None = None,
    get_all: bool = True,
) -> dict[str, Any]:
    """Read a store back with a fresh instance and say what is wrong with it.

    Every row must parse (the export iterates cleanly), the export must agree with
    the counts, no id may appear twice, no session may hold two turns with one
    sequence number, and every acknowledged id must be there (and `get`-able).
    """
    with TieredMemory(uri, config=small_config(None, storage_options)) as mem:
        exported = [record for record, _ in mem.export_records(batch_size=200)]
        stats = mem.stats()
        ids = [r.id for r in exported]
        present = set(ids)
        seqs: dict[str, list[int]] = {}
        for r in exported:
            if r.kind.value == "turn":
                seqs.setdefault(r.session_id or "", []).append(r.seq)
        lost = [x for x in dict.fromkeys(acked) if x not in present]
        probe = (
            list(acked) if get_all else list(acked)[-8:] + list(acked)[:: max(len(acked) // 16, 1)]
        )
        not_gettable = [x for x in dict.fromkeys(probe) if x in present and mem.get(x).id != x]
        return {
            "rows": len(ids),
            "records_stat": stats["records"],
            "turns_stat": stats["turns"],
            "turns": sum(len(v) for v in seqs.values()),
            "duplicate_ids": len(ids) - len(present),
            "duplicate_seqs": {
                s: len(v) - len(set(v)) for s, v in seqs.items() if len(v) != len(set(v))
            },
            "seqs": {s: sorted(v) for s, v in seqs.items()},
            "lost": lost,
            "not_gettable": not_gettable,
        }


#: Imported once by the crash tests' fork server, so each child starts in a second,
#: not in several: every module here imports without starting a thread. LanceDB
#: starts one, so it must never be among them (under fork, its children fail silently).
PRELOAD = ["numpy", "pyarrow", "pyarrow.compute", "pydantic", "tiktoken", "lance_namespace",
           "lance_namespace_urllib3_client"]  # fmt: skip


def crash_child(
    out: Any, go: Any, uri: str, session_id: str, optimize_every: int | None, mode: str
) -> None:
    """Write turns until killed; send each id only after its write returned.

    Waits for ``go`` before it opens the store, so the parent can start children
    ahead of their round, and the store is read only once the previous round's
    writer is dead. Every message is one write to a pipe, shorter than PIPE_BUF, so
    a kill never splits one. In ``optimize`` mode, an explicit optimize runs after
    every few turns, framed by ``optimize``/``optimized`` messages to aim the kill at.
    """
    out.send_bytes(b"ready")
    go.wait()
    with TieredMemory(uri, config=small_config(optimize_every)) as mem:
        i = 0
        while True:
            if i % 4 == 3:
                batch = [
                    {"role": "user", "content": f"crash batch {i}.{j} Lisbon"} for j in range(4)
                ]
                ids = [r.id for r in mem.add_messages(batch, session_id=session_id)]
            else:
                ids = [mem.add_message("user", f"crash turn {i} Lisbon", session_id=session_id).id]
            out.send_bytes(" ".join(ids).encode())
            i += 1
            if mode == "optimize" and i % 6 == 0:
                out.send_bytes(b"optimize")
                mem.optimize()
                out.send_bytes(b"optimized")


def fault_probe(uri: str, filler: str | None, keep_free: int) -> None:
    """Write into a store on a read-only or tiny file system; report as one JSON line.

    Runs inside a private mount namespace the parent set up, so every check happens
    here while the fault lasts. With ``filler``, a file takes all but ``keep_free``
    bytes of the disk once the store is open (the disk fills in a few writes, not
    hundreds), and is deleted at the end to check that writing works again.
    """
    report: dict[str, Any] = {"acked": [], "error": None, "error_type": None, "other": {}}
    acked: list[str] = report["acked"]
    try:
        mem = TieredMemory(uri, config=small_config(None))
        existing = [r.id for r, _ in mem.export_records()]
    except Exception as exc:
        report["open_error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(report), flush=True)
        return
    if filler is not None:
        stat = os.statvfs(os.path.dirname(filler))
        with open(filler, "wb") as f:
            f.write(b"\0" * max(stat.f_bavail * stat.f_frsize - keep_free, 0))
    try:
        for i in range(10_000):
            acked.append(mem.add_message("user", f"fault probe {i} " + "x" * 4000).id)
    except Exception as exc:
        report.update(error=str(exc), error_type=type(exc).__name__,
                      error_mro=[c.__name__ for c in type(exc).__mro__])  # fmt: skip
    if existing:
        # every other kind of write meets the same fault with the same kind of error
        calls = {
            "remember": lambda: mem.remember("a fact"),
            "add_messages": lambda: mem.add_messages([{"role": "user", "content": "hi"}]),
            "update": lambda: mem.update(existing[0], text="changed"),
            "forget": lambda: mem.forget(existing[-1]),
            "optimize": mem.optimize,
        }
        for name, call in calls.items():
            try:
                call()
                report["other"][name] = "ok"
            except Exception as exc:
                report["other"][name] = f"{type(exc).__name__}: {exc}"
    try:
        report["search_while_faulty"] = len(mem.search("fault probe", k=5))
    except Exception as exc:
        report["search_while_faulty"] = f"{type(exc).__name__}: {exc}"
    # the same store, read back by a fresh instance while the fault lasts
    try:
        with TieredMemory(uri, config=small_config(None)) as fresh:
            rows = [r for r, _ in fresh.export_records()]
            report["exported"] = [r.id for r in rows]
            report["exported_turns"] = sum(1 for r in rows if r.kind.value == "turn")
            report["records"] = fresh.stats()["records"]
            report["all_gettable"] = all(fresh.get(x).id == x for x in acked)
    except Exception as exc:
        report["reopen_error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    if filler is not None:
        os.remove(filler)
        try:
            acked.append(mem.add_message("user", "written after space was freed").id)
            with TieredMemory(uri, config=small_config(None)) as fresh:
                report["after_free_records"] = fresh.stats()["records"]
                report["after_free_gettable"] = fresh.get(acked[-1]).id == acked[-1]
        except Exception as exc:
            report["after_free_error"] = f"{type(exc).__name__}: {exc}"
    _final_export(mem, uri, report)
    print(json.dumps(report), flush=True)


def _final_export(mem: TieredMemory, uri: str, report: dict[str, Any]) -> None:
    try:
        mem.close()  # commits what the log held while the disk was full
        with TieredMemory(uri, config=small_config(None)) as fresh:
            report["final_exported"] = [r.id for r, _ in fresh.export_records()]
    except Exception as exc:
        report["final_error"] = f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "fault":
        fault_probe(args[0], args[1] if args[1] != "none" else None, int(args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")
