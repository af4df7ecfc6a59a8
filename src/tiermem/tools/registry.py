"""`ToolRegistry`: register functions as tools and call them safely, sync or async.

Every call goes through the same steps, shared by `call` and `acall`: find the
tool, check the nesting depth, validate the arguments, ask the permission, serve
a pure tool from its cache, take a rate-limit slot, run with a deadline and
retries, make the value JSON-safe and short enough, emit a `ToolCalled` event.
Failures come back as a failed `ToolResult` (raised only with ``raise_errors``).

Sync tools run on a thread pool owned by the registry (``max_concurrency``
threads), so a deadline holds even for a blocking function: the caller stops
waiting, though Python cannot stop the thread (see `tiermem.tools.execution`).
A call made from inside a sync tool runs in that tool's thread, so nesting never
deadlocks the pool; its time is bounded by the outer tool's deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack, overload

from pydantic import ValidationError

from ..callbacks import CallbackHandler, ToolCalled, emit
from ..errors import ConfigError
from .arguments import Arguments, canonical, explain, parse
from .errors import ToolCallError, ToolRegistrationError, UnknownToolError
from .execution import Expired, arun, depth, run
from .limits import RateLimiter, TTLCache
from .output import NotSerializableError, shape, truncate
from .policy import Approval, Permission, Redactor, is_allowed
from .result import ToolResult
from .tool import Tool, make_tool

__all__ = ["ToolOptions", "ToolRegistry"]

logger = logging.getLogger("tiermem.tools")

F = TypeVar("F", bound=Callable[..., Any])
Call = tuple[str, Arguments]

# failures that say the call was refused, not that the tool broke
_REFUSALS = frozenset(
    {
        "Closed",
        "PermissionDenied",
        "RateLimited",
        "RecursionLimit",
        "UnknownTool",
        "ValidationError",
    }
)


class ToolOptions(TypedDict, total=False):
    """The keyword settings of `ToolRegistry.register`, for the `ToolRegistry.tool` decorator."""

    name: str | None
    description: str | None
    coroutine: Callable[..., Any] | None
    timeout: float | None
    rate_limit: int | None
    rate_window: float
    per_user: bool
    permission: Permission | None
    approval: Approval | None
    pure: bool
    cache_ttl: float | None
    cache_size: int
    retries: int
    retry_backoff: float
    retry_on: tuple[type[Exception], ...]
    tags: Iterable[str]
    category: str | None
    sensitive: Iterable[str]
    max_output_chars: int | None
    replace: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    tool: Tool
    limiter: RateLimiter | None
    cache: TTLCache[ToolResult] | None


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A call that passed every check and may run."""

    entry: _Entry
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    depth: int
    redact: Redactor
    cache_key: str | None


class ToolRegistry:
    """Tools by name, the policies of their calls, and the threads that run them.

    ``max_concurrency`` sizes the worker pool; ``max_output_chars`` caps a result's
    JSON text (None: no cap); ``max_depth`` bounds tools calling tools;
    ``approval`` answers for tools whose permission says "ask" and that have no
    approval of their own. Use it as a context manager, or call `close`.
    """

    def __init__(
        self,
        *,
        callbacks: Sequence[CallbackHandler] | None = None,
        max_concurrency: int = 8,
        max_output_chars: int | None = 20_000,
        raise_errors: bool = False,
        max_depth: int = 4,
        approval: Approval | None = None,
    ) -> None:
        for key, value in (("max_concurrency", max_concurrency), ("max_depth", max_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{key} must be an int >= 1, got {value!r}")
        if max_output_chars is not None and (
            isinstance(max_output_chars, bool)
            or not isinstance(max_output_chars, int)
            or max_output_chars < 1
        ):
            raise ConfigError(
                f"max_output_chars must be an int >= 1 or None, got {max_output_chars!r}"
            )
        self.max_concurrency = max_concurrency
        self.max_output_chars = max_output_chars
        self.raise_errors = raise_errors
        self.max_depth = max_depth
        self.approval = approval
        self._handlers = tuple(callbacks or ())
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="tiermem-tool")
        self._closed = False

    # registration

    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        coroutine: Callable[..., Any] | None = None,
        timeout: float | None = None,
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        per_user: bool = False,
        permission: Permission | None = None,
        approval: Approval | None = None,
        pure: bool = False,
        cache_ttl: float | None = None,
        cache_size: int = 128,
        retries: int = 0,
        retry_backoff: float = 0.1,
        retry_on: tuple[type[Exception], ...] = (Exception,),
        tags: Iterable[str] = (),
        category: str | None = None,
        sensitive: Iterable[str] = (),
        max_output_chars: int | None = None,
        replace: bool = False,
    ) -> Tool:
        """Make ``fn`` a tool and return it.

        The name defaults to the function's, the description to its docstring's first
        paragraph; the arguments model comes from the signature and type hints.
        ``coroutine`` is an async twin with the same parameters, used by `acall`.
        ``timeout`` is seconds per attempt; ``rate_limit`` calls per ``rate_window``
        seconds (per ``user_id`` with ``per_user``); ``permission`` / ``approval``
        decide who may call; ``pure`` caches successful results by arguments;
        ``retries`` retries exceptions in ``retry_on`` after ``retry_backoff * 2**n``
        seconds; ``sensitive`` names arguments masked in errors, events and logs;
        ``max_output_chars`` overrides the registry's cap (None: the registry's).
        A taken name raises `ToolRegistrationError` unless ``replace``.
        """
        tool = make_tool(
            fn,
            registry=self,
            name=name,
            description=description,
            coroutine=coroutine,
            timeout=timeout,
            rate_limit=rate_limit,
            rate_window=rate_window,
            per_user=per_user,
            permission=permission,
            approval=approval,
            pure=pure,
            cache_ttl=cache_ttl,
            cache_size=cache_size,
            retries=retries,
            retry_backoff=retry_backoff,
            retry_on=retry_on,
            tags=tags,
            category=category,
            sensitive=sensitive,
            max_output_chars=max_output_chars,
        )
        entry = _Entry(
            tool,
            RateLimiter(rate_limit, rate_window) if rate_limit is not None else None,
            TTLCache(cache_size, cache_ttl) if pure else None,
        )
        with self._lock:
            if tool.name in self._entries and not replace:
                raise ToolRegistrationError(
                    f"a tool named {tool.name!r} is already registered; pass replace=True"
                )
            self._entries[tool.name] = entry
        return tool

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(self, fn: None = None, /, **options: Unpack[ToolOptions]) -> Callable[[F], F]: ...

    def tool(self, fn: F | None = None, /, **options: Unpack[ToolOptions]) -> F | Callable[[F], F]:
        """Decorator form of `register` (bare or with settings); returns the function as is."""

        def decorate(function: F) -> F:
            self.register(function, **options)
            return function

        return decorate if fn is None else decorate(fn)

    # lookup

    def get(self, name: str) -> Tool:
        """The tool called ``name``; `UnknownToolError` if there is none."""
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownToolError(f"no tool named {name!r}")
        return entry.tool

    def find(self, *, tags: Iterable[str] | None = None, category: str | None = None) -> list[Tool]:
        """Tools in registration order that carry every one of ``tags`` and are in ``category``."""
        return [tool for tool in self if _matches(tool, tags, category)]

    def schemas(
        self,
        names: Iterable[str] | None = None,
        *,
        tags: Iterable[str] | None = None,
        category: str | None = None,
    ) -> list[dict[str, Any]]:
        """OpenAI function-calling schemas of the chosen tools (``names`` in their order).

        An unknown name raises `UnknownToolError`: a silently missing tool is a bug.
        """
        tools = list(self) if names is None else [self.get(name) for name in names]
        return [tool.schema() for tool in tools if _matches(tool, tags, category)]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[Tool]:
        return iter([entry.tool for entry in list(self._entries.values())])

    def __repr__(self) -> str:
        return f"ToolRegistry(tools={list(self._entries)!r})"

    # calls

    def call(
        self,
        name: str,
        arguments: Arguments = None,
        *,
        user_id: str | None = None,
        raise_errors: bool | None = None,
    ) -> ToolResult:
        """Call a tool by name with a mapping of arguments (or a model's JSON text of them)."""
        started = time.perf_counter()
        admitted = self._admit(name, arguments, user_id)
        if isinstance(admitted, ToolResult):
            return self._finish(admitted, started, raise_errors)
        token = depth.set(admitted.depth)
        try:
            value = self._attempts(admitted)
        except Exception as exc:
            result = self._failed(admitted, exc)
        else:
            result = self._succeeded(admitted, value)
        finally:
            depth.reset(token)
        return self._finish(result, started, raise_errors)

    async def acall(
        self,
        name: str,
        arguments: Arguments = None,
        *,
        user_id: str | None = None,
        raise_errors: bool | None = None,
    ) -> ToolResult:
        """Async `call`: async tools run on this loop, sync ones on the registry's threads."""
        started = time.perf_counter()
        admitted = self._admit(name, arguments, user_id)
        if isinstance(admitted, ToolResult):
            return self._finish(admitted, started, raise_errors)
        token = depth.set(admitted.depth)
        try:
            value = await self._aattempts(admitted)
        except Exception as exc:
            result = self._failed(admitted, exc)
        else:
            result = self._succeeded(admitted, value)
        finally:
            depth.reset(token)
        return self._finish(result, started, raise_errors)

    def call_many(
        self,
        calls: Iterable[Call],
        *,
        user_id: str | None = None,
        concurrency: int | None = None,
    ) -> list[ToolResult]:
        """Run independent calls at once (at most ``concurrency``); results in input order.

        Sync tools also share the registry's ``max_concurrency`` worker threads. Every
        result is returned, failed ones included: ``raise_errors`` does not apply.
        """
        batch = list(calls)
        limit = self._concurrency(concurrency, len(batch))
        with ThreadPoolExecutor(limit, thread_name_prefix="tiermem-calls") as callers:
            futures = [
                # each caller thread gets its own copy of the context (and so the depth)
                callers.submit(
                    contextvars.copy_context().run,
                    self.call,
                    name,
                    arguments,
                    user_id=user_id,
                    raise_errors=False,
                )
                for name, arguments in batch
            ]
            return [future.result() for future in futures]

    async def acall_many(
        self,
        calls: Iterable[Call],
        *,
        user_id: str | None = None,
        concurrency: int | None = None,
    ) -> list[ToolResult]:
        """Async `call_many`."""
        batch = list(calls)
        gate = asyncio.Semaphore(self._concurrency(concurrency, len(batch)))

        async def one(name: str, arguments: Arguments) -> ToolResult:
            async with gate:
                return await self.acall(name, arguments, user_id=user_id, raise_errors=False)

        return list(await asyncio.gather(*(one(name, arguments) for name, arguments in batch)))

    # lifecycle

    def close(self) -> None:
        """Stop the worker threads once their current tools return; later calls fail."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # the shared steps

    def _admit(
        self, name: str, arguments: Arguments, user_id: str | None
    ) -> _Admitted | ToolResult:
        """Every check before the tool runs; a ToolResult means the call ends here."""
        if self._closed:
            return ToolResult.failure(name, "Closed", "the tool registry is closed")
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)[:20])
            return ToolResult.failure(
                name, "UnknownTool", f"no tool named {name!r}; tools: {known}"
            )
        level = depth.get() + 1
        if level > self.max_depth:
            return ToolResult.failure(
                name, "RecursionLimit", f"tool calls nested deeper than {self.max_depth}"
            )
        tool = entry.tool
        try:
            raw = parse(arguments)
        except ValueError as exc:
            return ToolResult.failure(name, "ValidationError", str(exc))
        redact = Redactor(raw, tool.sensitive)
        try:
            model = tool.args_model.model_validate(raw)
        except ValidationError as exc:
            return ToolResult.failure(name, "ValidationError", redact(explain(name, exc)))
        visible = redact.mask(model.model_dump(by_alias=True))
        approval = tool.approval if tool.approval is not None else self.approval
        if not is_allowed(name, visible, user_id, tool.permission, approval):
            who = f" for user {user_id!r}" if user_id is not None else ""
            return ToolResult.failure(
                name, "PermissionDenied", f"calling {name}{who} is not allowed"
            )
        key = canonical(model) if entry.cache is not None else None
        if entry.cache is not None and key is not None:
            hit = entry.cache.get(key)
            if hit is not None:
                return dataclasses.replace(hit, cached=True)
        if entry.limiter is not None:
            wait = entry.limiter.acquire(user_id if tool.per_user else None)
            if wait:
                return ToolResult.failure(
                    name,
                    "RateLimited",
                    f"at most {entry.limiter.limit} calls per {entry.limiter.window:g}s; "
                    f"retry in {wait:.2f}s",
                )
        args, kwargs = tool._binding.bind(model)
        return _Admitted(entry, args, kwargs, level, redact, key)

    def _attempts(self, admitted: _Admitted) -> Any:
        tool = admitted.entry.tool
        attempt = 0
        while True:
            try:
                return run(
                    tool.fn, tool.is_async, admitted.args, admitted.kwargs, tool.timeout, self._pool
                )
            except Expired:
                raise
            except tool.retry_on:
                if attempt >= tool.retries:
                    raise
            time.sleep(tool.retry_backoff * 2**attempt)
            attempt += 1

    async def _aattempts(self, admitted: _Admitted) -> Any:
        tool = admitted.entry.tool
        fn = tool.coroutine if tool.coroutine is not None else tool.fn
        is_async = tool.coroutine is not None or tool.is_async
        attempt = 0
        while True:
            try:
                return await arun(
                    fn, is_async, admitted.args, admitted.kwargs, tool.timeout, self._pool
                )
            except Expired:
                raise
            except tool.retry_on:
                if attempt >= tool.retries:
                    raise
            await asyncio.sleep(tool.retry_backoff * 2**attempt)
            attempt += 1

    def _failed(self, admitted: _Admitted, exc: Exception) -> ToolResult:
        tool = admitted.entry.tool
        if isinstance(exc, Expired):
            kind, message = "Timeout", f"{tool.name} did not finish within {tool.timeout:g}s"
        else:
            kind, message = type(exc).__name__, str(exc) or type(exc).__name__
        message = admitted.redact(message)  # before cutting, which could split a secret
        limit = self._output_limit(tool)
        if limit is not None and len(message) > limit:
            message = truncate(message, limit)
        return ToolResult.failure(tool.name, kind, message)

    def _succeeded(self, admitted: _Admitted, value: object) -> ToolResult:
        tool = admitted.entry.tool
        try:
            data, cut = shape(value, self._output_limit(tool))
        except NotSerializableError as exc:
            message = admitted.redact(str(exc))
            limit = self._output_limit(tool)
            if limit is not None and len(message) > limit:
                message = truncate(message, limit)
            return ToolResult.failure(tool.name, "NotSerializable", message)
        result = ToolResult(tool=tool.name, ok=True, value=data, truncated=cut)
        if admitted.entry.cache is not None and admitted.cache_key is not None:
            admitted.entry.cache.put(admitted.cache_key, result)
        return result

    def _finish(self, result: ToolResult, started: float, raise_errors: bool | None) -> ToolResult:
        result = dataclasses.replace(result, duration=time.perf_counter() - started)
        error = result.error
        emit(
            self._handlers,
            ToolCalled(
                tool=result.tool,
                ok=result.ok,
                duration=result.duration,
                cached=result.cached,
                error_type=error.type if error is not None else None,
            ),
        )
        if error is None:
            logger.debug(
                "tool %s ok in %.3fs (cached=%s)", result.tool, result.duration, result.cached
            )
            return result
        # below WARNING: the caller handles failures; no exc_info: a traceback leaks secrets
        level = logging.DEBUG if error.type in _REFUSALS else logging.INFO
        logger.log(level, "tool %s failed: %s: %s", result.tool, error.type, error.message)
        if self.raise_errors if raise_errors is None else raise_errors:
            raise ToolCallError(result)
        return result

    def _output_limit(self, tool: Tool) -> int | None:
        return tool.max_output_chars if tool.max_output_chars is not None else self.max_output_chars

    def _concurrency(self, requested: int | None, calls: int) -> int:
        limit = self.max_concurrency if requested is None else requested
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"concurrency must be an int >= 1, got {requested!r}")
        return max(1, min(limit, calls))


def _matches(tool: Tool, tags: Iterable[str] | None, category: str | None) -> bool:
    return set(tags or ()).issubset(tool.tags) and (category is None or tool.category == category)
