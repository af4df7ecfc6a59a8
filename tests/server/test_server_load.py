"""A bounded load test on loopback: concurrent clients writing, searching and building
contexts through the server; no error and no acknowledged write lost.

CI runs 50 clients for 10 s; ``TIERMEM_LOAD_SECONDS=20`` (or more) for a longer run.
Latencies are printed (``-rP``), never asserted: timing figures are not pass/fail.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from conftest import ALICE_KEY, serve

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

CLIENTS = int(os.environ.get("TIERMEM_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("TIERMEM_LOAD_SECONDS", "10"))


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)] * 1000 if ordered else 0.0


async def _client(
    http: httpx.AsyncClient, n: int, deadline: float,
    acked: dict[str, list[str]], timings: dict[str, list[float]], errors: list[str],
) -> None:  # fmt: skip
    session = f"load-{n}"
    step = 0
    while time.monotonic() < deadline:
        step += 1
        kind = "context" if step % 10 == 0 else "search" if step % 5 == 0 else "add"
        started = time.perf_counter()
        try:
            if kind == "add":
                text = f"client {n} turn {step}: the parcel for order {n * 1000 + step} ships"
                body = {"user_id": "alice", "session_id": session,
                        "messages": [{"role": "user", "content": text}]}  # fmt: skip
                response = await http.post("/v1/messages", json=body)
                if response.status_code == 201:
                    acked[session].append(response.json()[0]["id"])
            elif kind == "search":
                body = {"user_id": "alice", "query": f"parcel order {n * 1000 + step - 1}"}
                response = await http.post("/v1/search", json=body)
            else:
                body = {"user_id": "alice", "session_id": session, "query": "when does it ship?",
                        "max_tokens": 400}  # fmt: skip
                response = await http.post("/v1/context", json=body)
        except httpx.HTTPError as exc:
            errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            continue
        timings[kind].append(time.perf_counter() - started)
        if response.status_code not in (200, 201):
            errors.append(f"{kind}: {response.status_code} {response.text[:200]}")


async def test_concurrent_clients_lose_nothing_and_see_no_error(tmp_path: Path) -> None:
    for running in serve(tmp_path / "store"):
        acked: dict[str, list[str]] = defaultdict(list)
        timings: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        headers = {"Authorization": f"Bearer {ALICE_KEY}"}
        async with httpx.AsyncClient(base_url=running.url, headers=headers, limits=limits,
                                     timeout=120) as http:  # fmt: skip
            started = time.monotonic()
            deadline = started + SECONDS
            await asyncio.gather(
                *(_client(http, n, deadline, acked, timings, errors) for n in range(CLIENTS))
            )
            elapsed = time.monotonic() - started
        assert errors == []
        # every acknowledged turn is in the store, once, in its session, in order
        mem = running.memory
        for session, ids in acked.items():
            stored = mem.records(user_id="alice", session_id=session, kinds=["turn"])
            assert [r.id for r in stored] == ids, session
        writes = sum(len(ids) for ids in acked.values())
        assert writes > 0
        assert mem.stats(user_id="alice")["turns"] == writes
        calls = sum(len(t) for t in timings.values())
        print(f"\n{CLIENTS} clients for {elapsed:.1f} s: {calls} calls ({calls / elapsed:.0f}/s),"
              f" {writes} writes acknowledged, 0 lost, {len(errors)} errors")  # fmt: skip
        for kind, values in sorted(timings.items()):
            print(f"  {kind:<8} {len(values):>6} calls  p50 {_p(values, 0.5):7.1f} ms"
                  f"  p95 {_p(values, 0.95):7.1f} ms  p99 {_p(values, 0.99):7.1f} ms")  # fmt: skip
