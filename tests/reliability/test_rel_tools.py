"""The tool registry under hostile tools and arguments, sync and async.

A tool cannot hold its caller past its timeout (not a hung thread, not a full pool,
not an async tool that swallows its cancellation), cannot return more than its
output cap, cannot be called more often than its rate limit however the calls are
raced; and a sensitive argument's value, in whatever escaped form the tool's error
puts it, never reaches a result, an event, a log line or a raised error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import rel_hostile as h
from hypothesis import given, settings
from hypothesis import strategies as st

from tiermem.testing import RecordingCallback
from tiermem.tools import ToolCallError, ToolRegistry

SLACK = 0.25  # scheduling on two busy cores; a broken deadline costs seconds, not this


@pytest.fixture
def release() -> Iterator[threading.Event]:
    # lets a "hung" sync tool return once the test is done with it
    event = threading.Event()
    yield event
    event.set()


# --- deadlines ---------------------------------------------------------------------


async def test_an_async_tool_that_swallows_its_cancellation_is_still_cut_off() -> None:
    finished = asyncio.Event()

    async def stubborn() -> str:
        for _ in range(30):
            with contextlib.suppress(asyncio.CancelledError):  # refuses to stop
                await asyncio.sleep(0.05)
        finished.set()
        raise RuntimeError("late failure nobody reads")

    with ToolRegistry() as registry:
        registry.register(stubborn, timeout=0.2)
        started = time.perf_counter()
        result = await registry.acall("stubborn")
        assert time.perf_counter() - started < 0.2 + SLACK
        assert result.error is not None
        assert result.error.type == "Timeout"
        await asyncio.wait_for(finished.wait(), 5)  # it ran on, and its failure is swallowed


async def test_a_cancelled_caller_cancels_its_tool() -> None:
    cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    with ToolRegistry() as registry:
        registry.register(slow, timeout=3.0)
        call = asyncio.ensure_future(registry.acall("slow"))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(cancelled.wait(), 1)


def test_a_full_pool_still_answers_within_the_deadline(release: threading.Event) -> None:
    with ToolRegistry(max_concurrency=1) as registry:
        registry.register(lambda: release.wait(10), name="hang", timeout=0.1)
        registry.register(lambda: "quick", name="quick", timeout=0.2)
        assert registry.call("hang").error.type == "Timeout"  # type: ignore[union-attr]
        started = time.perf_counter()
        queued = registry.call("quick")  # the only worker is still hung
        assert time.perf_counter() - started < 0.2 + SLACK
        assert queued.error is not None
        assert queued.error.type == "Timeout"
        release.set()
        deadline = time.monotonic() + 5
        while not registry.call("quick").ok:  # the worker is back
            assert time.monotonic() < deadline


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-tool", "async-tool"])
def test_retries_never_stretch_a_timeout(is_async: bool, release: threading.Event) -> None:
    def hang() -> str:
        release.wait(10)
        return "late"

    async def ahang() -> str:
        await asyncio.sleep(10)
        return "late"

    with ToolRegistry() as registry:
        registry.register(ahang if is_async else hang, name="t", timeout=0.15, retries=3)
        for call in (lambda: registry.call("t"), lambda: asyncio.run(registry.acall("t"))):
            started = time.perf_counter()
            result = call()
            assert result.error is not None
            assert result.error.type == "Timeout"
            assert time.perf_counter() - started < 0.15 + SLACK  # a deadline is not retried


def test_every_call_of_a_batch_keeps_its_own_deadline(release: threading.Event) -> None:
    with ToolRegistry(max_concurrency=2) as registry:
        registry.register(lambda i: release.wait(10), name="hang", timeout=0.1)
        results = registry.call_many([("hang", {"i": i}) for i in range(6)])
        assert [r.error.type for r in results if r.error] == ["Timeout"] * 6
        assert max(r.duration for r in results) < 0.1 + SLACK


# --- output cap --------------------------------------------------------------------

outputs = (
    h.json_value
    | h.huge
    | st.lists(h.huge, max_size=3)
    | st.dictionaries(h.text_any, h.huge | h.json_value, max_size=3)
)


@settings(h.FUZZ, max_examples=max(h.EXAMPLES // 2, 10))
@given(value=outputs, cap=st.integers(1, 400), use_async=st.booleans(),
       fail=st.booleans())  # fmt: skip
def test_no_result_or_error_exceeds_the_output_cap(
    value: Any, cap: int, use_async: bool, fail: bool
) -> None:
    def produce() -> Any:
        if fail:
            raise RuntimeError(json.dumps(value, ensure_ascii=False))
        return value

    with ToolRegistry(max_output_chars=cap) as registry:
        registry.register(produce, name="produce")
        result = asyncio.run(registry.acall("produce")) if use_async else registry.call("produce")
    if result.error is not None:
        assert result.error.type in {"RuntimeError", "NotSerializable"}
        assert len(result.error.message) <= cap
    else:
        shown = (
            result.value
            if isinstance(result.value, str)
            else json.dumps(result.value, ensure_ascii=False)
        )
        assert len(shown) <= cap
        assert result.truncated == (shown != _json_or_str(value))


def _json_or_str(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- rate limits -------------------------------------------------------------------


def test_a_rate_limit_holds_against_threads_and_tasks_at_once() -> None:
    with ToolRegistry(max_concurrency=8) as registry:
        registry.register(lambda i: i, name="ping", rate_limit=7, rate_window=60.0)
        registry.register(lambda i: i, name="mine", rate_limit=2, rate_window=60.0,
                          per_user=True)  # fmt: skip
        start = threading.Barrier(6)

        def burst(n: int) -> list[bool]:
            start.wait()
            return [registry.call("ping", {"i": i}).ok for i in range(n)]

        async def tasks() -> list[bool]:
            start.wait()
            results = await registry.acall_many([("ping", {"i": i}) for i in range(10)])
            return [r.ok for r in results]

        with ThreadPoolExecutor(6) as pool:
            threads = [pool.submit(burst, 10) for _ in range(5)]
            loop = pool.submit(asyncio.run, tasks())
            admitted = sum(sum(f.result()) for f in [*threads, loop])
        assert admitted == 7
        per_user = registry.call_many(
            [("mine", {"i": i}) for i in range(6)], user_id="ana", concurrency=6
        )
        assert sum(r.ok for r in per_user) == 2
        assert registry.call("mine", {"i": 0}, user_id="bo").ok


# --- secrets -----------------------------------------------------------------------

# "sk-" keeps a secret from being a piece of the registry's own wording
secrets = st.builds(
    lambda s: "sk-" + s,
    st.text(st.characters(exclude_categories=["Cs"]) | h.control, min_size=3, max_size=24),
) | st.sampled_from(["sk-a'b\"c", "sk-a\\b", "sk-\n\t", "sk-ümlaut-東京", "sk-\x1b[31m"])
LEAKS: dict[str, Callable[[str], BaseException]] = {
    "str": lambda k: RuntimeError(f"401: key {k} was revoked"),
    "repr": lambda k: RuntimeError(f"401: key {k!r} was revoked"),
    "KeyError": KeyError,
    "json": lambda k: ValueError(json.dumps({"api_key": k})),
    "ascii": lambda k: ValueError(ascii(k)),
}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs() -> Iterator[Lines]:
    handler, logger = Lines(), logging.getLogger("tiermem")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# 12 digits: no duration, line number or address in the surfaces is mistaken for it
pins = st.integers(10**11, 10**12 - 1)


@settings(h.FUZZ, max_examples=max(h.EXAMPLES // 2, 10))
@given(secret=secrets, leak=st.sampled_from(list(LEAKS)), pin=pins)
def test_sensitive_values_never_leave_a_failed_call(secret: str, leak: str, pin: int) -> None:
    recorder, seen = RecordingCallback(), []

    def policy(name: str, arguments: Any, user_id: str | None) -> bool | str:
        seen.append(repr(dict(arguments)))
        return "ask" if name == "ask" else arguments.get("mode") != "deny"

    def approve(name: str, arguments: Any, user_id: str | None) -> bool:
        raise PermissionError(f"approver crashed on {arguments}")

    def fetch(api_key: str, pin: int, mode: str = "fail") -> str:
        raise LEAKS[leak](api_key if mode != "pin" else str(pin))

    surfaces: list[str] = []
    with captured_logs() as log, ToolRegistry(callbacks=[recorder], approval=approve) as registry:
        for name in ("fetch", "ask"):
            registry.register(fetch, name=name, sensitive=("api_key", "pin"), permission=policy,
                              retries=1, retry_backoff=0.0)  # fmt: skip
        args = {"api_key": secret, "pin": pin}
        calls: list[tuple[str, Any]] = [
            ("fetch", args), ("fetch", {**args, "mode": "pin"}),
            ("fetch", {**args, "mode": "deny"}), ("ask", args),
            ("fetch", {**args, "pin": "x", "extra": secret}),
            ("fetch", json.dumps({**args, "mode": 5})),
            ("fetch", {"api_key": [secret], "pin": pin}),
        ]  # fmt: skip
        results = [registry.call(n, a) for n, a in calls]
        results += registry.call_many(calls)
        results += asyncio.run(registry.acall_many(calls))
        for name, arguments in calls[:2]:
            try:
                registry.call(name, arguments, raise_errors=True)
            except ToolCallError as exc:
                surfaces.append("".join(traceback.format_exception(exc)))
    assert all(not r.ok for r in results)
    surfaces += [repr(r) for r in results] + [r.as_text() for r in results]
    surfaces += [repr(recorder.events), *log.lines, *seen]
    forms = {secret, repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1], str(pin)}
    for form in forms:
        assert not [s for s in surfaces if form in s], f"{form!r} leaked"
