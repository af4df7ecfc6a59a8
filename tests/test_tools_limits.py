"""Deadlines, concurrency, rate limits, caching, retries and permissions, in real time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tiermem.tools import ToolRegistry


@pytest.fixture
def registry() -> Iterator[ToolRegistry]:
    with ToolRegistry(max_concurrency=10) as reg:
        yield reg


@pytest.fixture
def release() -> Iterator[threading.Event]:
    # lets a "5 s" sync tool return as soon as the test is done with it
    event = threading.Event()
    yield event
    event.set()


def error_type(result: Any) -> str | None:
    return None if result.error is None else result.error.type


# deadlines


def test_a_blocking_sync_tool_times_out_without_blocking_the_caller(
    registry: ToolRegistry, release: threading.Event
) -> None:
    @registry.tool(timeout=0.2)
    def stuck() -> str:
        release.wait(5)
        return "late"

    started = time.perf_counter()
    result = registry.call("stuck")
    elapsed = time.perf_counter() - started
    assert error_type(result) == "Timeout"
    assert "0.2s" in result.error.message
    assert elapsed < 0.5


def test_an_async_tool_times_out_from_sync_call(registry: ToolRegistry) -> None:
    @registry.tool(timeout=0.2)
    async def stuck() -> str:
        await asyncio.sleep(5)
        return "late"

    started = time.perf_counter()
    result = registry.call("stuck")
    assert error_type(result) == "Timeout"
    assert time.perf_counter() - started < 0.5


async def test_async_and_sync_tools_time_out_from_acall(
    registry: ToolRegistry, release: threading.Event
) -> None:
    @registry.tool(timeout=0.2)
    async def stuck() -> str:
        await asyncio.sleep(5)
        return "late"

    @registry.tool(timeout=0.2)
    def blocking() -> str:
        release.wait(5)
        return "late"

    for name in ("stuck", "blocking"):
        started = time.perf_counter()
        result = await registry.acall(name)
        assert error_type(result) == "Timeout", name
        assert time.perf_counter() - started < 0.5, name


def test_a_timeout_error_raised_by_the_tool_is_not_a_deadline(registry: ToolRegistry) -> None:
    @registry.tool(timeout=1.0)
    def upstream() -> str:
        raise TimeoutError("upstream took too long")

    result = registry.call("upstream")
    assert error_type(result) == "TimeoutError"
    assert result.error.message == "upstream took too long"


def test_sync_call_of_an_async_tool_does_not_touch_the_callers_loop(
    registry: ToolRegistry,
) -> None:
    @registry.tool
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    assert registry.call("double", {"n": 21}).value == 42


# concurrency


def test_call_many_runs_calls_at_once_and_keeps_their_order(registry: ToolRegistry) -> None:
    @registry.tool
    def nap(i: int) -> int:
        time.sleep(0.2 + (10 - i) * 0.01)  # later inputs finish first
        return i

    started = time.perf_counter()
    results = registry.call_many([("nap", {"i": i}) for i in range(10)], concurrency=10)
    assert time.perf_counter() - started < 1.0
    assert [r.value for r in results] == list(range(10))


async def test_acall_many_runs_calls_at_once_and_keeps_their_order(
    registry: ToolRegistry,
) -> None:
    @registry.tool
    async def anap(i: int) -> int:
        await asyncio.sleep(0.2 + (10 - i) * 0.01)
        return i

    @registry.tool
    def nap(i: int) -> int:
        time.sleep(0.2 + (10 - i) * 0.01)
        return i

    for name in ("anap", "nap"):
        started = time.perf_counter()
        calls = [(name, {"i": i}) for i in range(10)]
        results = await registry.acall_many(calls, concurrency=10)
        assert time.perf_counter() - started < 1.0, name
        assert [r.value for r in results] == list(range(10)), name


async def test_concurrency_is_bounded(registry: ToolRegistry) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]

    @registry.tool
    def busy(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i

    calls = [("busy", {"i": i}) for i in range(9)]
    assert [r.value for r in registry.call_many(calls, concurrency=3)] == list(range(9))
    assert peak[0] == 3
    peak[0] = 0
    assert [r.value for r in await registry.acall_many(calls, concurrency=2)] == list(range(9))
    assert peak[0] == 2


def test_a_failing_call_does_not_spoil_the_batch(registry: ToolRegistry) -> None:
    registry.register(lambda n: 10 // n, name="inverse")
    results = registry.call_many([("inverse", {"n": 2}), ("inverse", {"n": 0}), ("nope", {})])
    assert [error_type(r) for r in results] == [None, "ZeroDivisionError", "UnknownTool"]
    assert results[0].value == 5


# rate limits


def test_rate_limit_uses_a_sliding_window(registry: ToolRegistry) -> None:
    registry.register(lambda: "ok", name="ping", rate_limit=2, rate_window=0.3)
    assert registry.call("ping").ok
    assert registry.call("ping").ok
    limited = registry.call("ping")
    assert error_type(limited) == "RateLimited"
    assert "retry in 0." in limited.error.message
    time.sleep(0.35)
    assert registry.call("ping").ok


def test_rate_limit_per_user(registry: ToolRegistry) -> None:
    registry.register(lambda: "ok", name="ping", rate_limit=1, rate_window=60.0, per_user=True)
    assert registry.call("ping", user_id="ana").ok
    assert error_type(registry.call("ping", user_id="ana")) == "RateLimited"
    assert registry.call("ping", user_id="bo").ok
    assert registry.get("ping").call(user_id="bo").error is not None  # Tool.call is policed too


def test_rate_limit_is_thread_safe(registry: ToolRegistry) -> None:
    registry.register(lambda i: i, name="once", rate_limit=5, rate_window=60.0)
    results = registry.call_many([("once", {"i": i}) for i in range(20)], concurrency=10)
    assert sum(r.ok for r in results) == 5


# caching


def test_pure_tools_are_cached_by_canonical_arguments(registry: ToolRegistry) -> None:
    runs: list[tuple[int, int]] = []

    @registry.tool(pure=True)
    def add(a: int, b: int = 0) -> int:
        runs.append((a, b))
        return a + b

    first = registry.call("add", {"a": 1, "b": 0})
    again = registry.call("add", '{"b": 0, "a": 1}')
    defaulted = registry.call("add", {"a": 1})
    assert not first.cached
    assert again.cached
    assert defaulted.cached
    assert again.value == first.value == 1
    assert runs == [(1, 0)]
    assert registry.call("add", {"a": 2}).cached is False


def test_cache_entries_expire(registry: ToolRegistry) -> None:
    runs = []
    registry.register(lambda: runs.append(1) or len(runs), name="tick", pure=True, cache_ttl=0.1)
    assert registry.call("tick").value == 1
    assert registry.call("tick").cached
    time.sleep(0.15)
    fresh = registry.call("tick")
    assert not fresh.cached
    assert fresh.value == 2


def test_cache_evicts_the_least_recently_used(registry: ToolRegistry) -> None:
    runs: list[str] = []

    @registry.tool(pure=True, cache_size=2)
    def shout(word: str) -> str:
        runs.append(word)
        return word.upper()

    for word in ("a", "b", "a", "c", "b", "a"):
        registry.call("shout", {"word": word})
    # "a" was used again before "c" came, so "b" was the one evicted
    assert runs == ["a", "b", "c", "b", "a"]


def test_failures_are_not_cached(registry: ToolRegistry) -> None:
    attempts = []

    @registry.tool(pure=True)
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("down")
        return "up"

    assert error_type(registry.call("flaky")) == "ConnectionError"
    assert registry.call("flaky").value == "up"
    assert registry.call("flaky").cached


# retries


def test_retries_recover_from_transient_failures(registry: ToolRegistry) -> None:
    attempts = []

    @registry.tool(retries=2, retry_backoff=0.01)
    def flaky() -> str:
        attempts.append(time.perf_counter())
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "done"

    assert registry.call("flaky").value == "done"
    assert len(attempts) == 3
    assert attempts[2] - attempts[1] >= 0.02  # the backoff doubles


async def test_retries_give_up_and_respect_retry_on(registry: ToolRegistry) -> None:
    attempts: list[str] = []

    @registry.tool(retries=1, retry_backoff=0.0)
    async def always(kind: str) -> str:
        attempts.append(kind)
        raise ConnectionError(kind)

    @registry.tool(retries=3, retry_backoff=0.0, retry_on=(ConnectionError,))
    def picky(kind: str) -> str:
        attempts.append(kind)
        raise KeyError(kind)

    assert error_type(await registry.acall("always", {"kind": "a"})) == "ConnectionError"
    assert error_type(registry.call("always", {"kind": "s"})) == "ConnectionError"
    assert error_type(registry.call("picky", {"kind": "k"})) == "KeyError"
    assert attempts == ["a", "a", "s", "s", "k"]


def test_timeouts_are_not_retried(registry: ToolRegistry, release: threading.Event) -> None:
    attempts = []

    @registry.tool(timeout=0.1, retries=3, retry_backoff=0.0)
    def slow() -> None:
        attempts.append(1)
        release.wait(5)

    assert error_type(registry.call("slow")) == "Timeout"
    assert attempts == [1]


def test_validation_errors_are_not_retried(registry: ToolRegistry) -> None:
    attempts = []
    registry.register(attempts.append, name="count", retries=3)
    assert error_type(registry.call("count", {"m": 1})) == "ValidationError"
    assert attempts == []


# permissions


def test_permission_allows_and_denies(registry: ToolRegistry) -> None:
    asked: list[tuple[str, dict[str, Any], str | None]] = []

    def only_admins(name: str, arguments: Any, user_id: str | None) -> bool:
        asked.append((name, dict(arguments), user_id))
        return user_id == "admin"

    registry.register(lambda path: f"deleted {path}", name="delete", permission=only_admins)
    assert registry.call("delete", {"path": "reports/old.csv"}, user_id="admin").ok
    denied = registry.call("delete", {"path": "reports/old.csv"}, user_id="guest")
    assert error_type(denied) == "PermissionDenied"
    assert "guest" in denied.error.message
    assert asked[1] == ("delete", {"path": "reports/old.csv"}, "guest")


def test_ask_needs_an_approval(registry: ToolRegistry) -> None:
    answers = {"ana": True, "bo": False}

    def ask(name: str, arguments: Any, user_id: str | None) -> str:
        return "ask"

    def approve(name: str, arguments: Any, user_id: str | None) -> bool:
        return answers.get(user_id or "", False)

    registry.register(lambda: "sent", name="send", permission=ask, approval=approve)
    registry.register(lambda: "paid", name="pay", permission=ask)
    assert registry.call("send", user_id="ana").ok
    assert error_type(registry.call("send", user_id="bo")) == "PermissionDenied"
    assert error_type(registry.call("pay", user_id="ana")) == "PermissionDenied"

    with ToolRegistry(approval=approve) as approving:
        approving.register(lambda: "paid", name="pay", permission=ask)
        assert approving.call("pay", user_id="ana").ok
        assert error_type(approving.call("pay", user_id="bo")) == "PermissionDenied"


def test_a_broken_or_vague_permission_denies(registry: ToolRegistry) -> None:
    def broken(name: str, arguments: Any, user_id: str | None) -> bool:
        raise RuntimeError("policy store down")

    def vague(name: str, arguments: Any, user_id: str | None) -> Any:
        return "yes"

    registry.register(lambda: 1, name="a", permission=broken)
    registry.register(lambda: 1, name="b", permission=vague)
    assert error_type(registry.call("a")) == "PermissionDenied"
    assert error_type(registry.call("b")) == "PermissionDenied"


def test_a_denied_user_gets_no_cached_result(registry: ToolRegistry) -> None:
    def members(name: str, arguments: Any, user_id: str | None) -> bool:
        return user_id == "member"

    registry.register(lambda: "secret plan", name="plan", pure=True, permission=members)
    assert registry.call("plan", user_id="member").ok
    assert error_type(registry.call("plan", user_id="guest")) == "PermissionDenied"
