"""Running one attempt of a tool under a deadline, in a worker thread or on the event loop.

Python cannot kill a thread: when a sync tool passes its deadline the caller stops
waiting at once, but the function keeps its worker thread until it returns (and
interpreter exit waits for it). Async tools are cancelled at the deadline, and the
caller does not wait for one that ignores the cancellation; one that blocks the event
loop (a sync sleep inside ``async def``) blocks its caller too, as anything on that
loop would.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, wait
from typing import Any

__all__ = ["Expired", "arun", "depth", "run"]

#: How many registry calls enclose the current one (0 outside any tool).
depth: contextvars.ContextVar[int] = contextvars.ContextVar("tiermem_tool_depth", default=0)
# Set inside a registry worker thread: nested calls there run in place, since waiting
# on the pool from one of its own threads can deadlock it.
_in_worker: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tiermem_tool_worker", default=False
)


class Expired(Exception):  # noqa: N818 - a signal between modules, never seen by users
    """The registry's deadline passed (unlike a TimeoutError the tool raises itself)."""


def run(
    fn: Callable[..., Any],
    is_async: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
    pool: Executor,
) -> Any:
    """Call ``fn`` from sync code: in a pool thread, never on the caller's thread or loop."""
    if _in_worker.get() and not _loop_running():
        return _attempt(fn, is_async, args, kwargs, timeout)
    # the copied context carries the call depth into the worker thread
    future = pool.submit(
        contextvars.copy_context().run, _in_thread, fn, is_async, args, kwargs, timeout
    )
    done, _ = wait([future], timeout=timeout)
    if not done:
        future.cancel()  # still queued: it never starts
        raise Expired
    return future.result()


async def arun(
    fn: Callable[..., Any],
    is_async: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
    pool: Executor,
) -> Any:
    """Call ``fn`` from async code: awaited on this loop, or a sync one in a pool thread."""
    if is_async:
        return await _bounded(fn(*args, **kwargs), timeout)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    work = loop.run_in_executor(pool, context.run, _in_thread, fn, is_async, args, kwargs, timeout)
    return await _bounded(work, timeout)


def _in_thread(
    fn: Callable[..., Any],
    is_async: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    _in_worker.set(True)
    return _attempt(fn, is_async, args, kwargs, timeout)


def _attempt(
    fn: Callable[..., Any],
    is_async: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    if is_async:
        # this thread has no loop of its own: the coroutine gets a private one, and is
        # cancelled at the deadline so the thread is freed
        return asyncio.run(_bounded(fn(*args, **kwargs), timeout))
    return fn(*args, **kwargs)


async def _bounded(work: Awaitable[Any], timeout: float | None) -> Any:
    if timeout is None:
        return await work
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()  # the caller gave up: so does the tool
        raise
    if not done:
        # cancelled but not awaited: a tool that ignores cancellation must not hold the caller
        task.cancel()
        task.add_done_callback(_retrieve)
        raise Expired
    # the tool's own TimeoutError, if it raised one, comes out as itself
    return task.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    # an abandoned tool's late failure is nobody's to handle: do not log it as unretrieved
    if not task.cancelled():
        task.exception()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
