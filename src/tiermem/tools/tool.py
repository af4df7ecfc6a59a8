"""A `Tool`: one function, its arguments model, its schema and the policies of its calls."""

from __future__ import annotations

import copy
import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import ToolRegistrationError
from .policy import Approval, Permission
from .result import ToolResult
from .schema import Binding, arguments_model, describe, json_schema

if TYPE_CHECKING:
    from .registry import ToolRegistry

__all__ = ["Tool", "make_tool"]

# OpenAI's rule for function names; other providers accept a superset.
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class Tool:
    """A registered function: what a model sees of it, and how its calls are policed.

    Built by `ToolRegistry.register`; calls made through `call` / `acall` go through
    the registry, so validation, permissions, limits, cache and events all apply.
    Adapters for agent frameworks need only ``name``, ``description``,
    ``args_model``, ``parameters`` and the two call methods.
    """

    name: str
    description: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]
    is_async: bool
    registry: ToolRegistry = field(repr=False)
    coroutine: Callable[..., Any] | None = field(default=None, repr=False)
    timeout: float | None = None
    rate_limit: int | None = None
    rate_window: float = 60.0
    per_user: bool = False
    permission: Permission | None = field(default=None, repr=False)
    approval: Approval | None = field(default=None, repr=False)
    pure: bool = False
    cache_ttl: float | None = None
    cache_size: int = 128
    retries: int = 0
    retry_backoff: float = 0.1
    retry_on: tuple[type[Exception], ...] = (Exception,)
    tags: tuple[str, ...] = ()
    category: str | None = None
    sensitive: tuple[str, ...] = ()
    max_output_chars: int | None = None
    _binding: Binding = field(repr=False)
    _parameters: dict[str, Any] = field(repr=False)

    @property
    def parameters(self) -> dict[str, Any]:
        """JSON Schema of the arguments (a fresh copy each time)."""
        return copy.deepcopy(self._parameters)

    def schema(self) -> dict[str, Any]:
        """The tool in OpenAI's function-calling format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def call(
        self,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        user_id: str | None = None,
        raise_errors: bool | None = None,
    ) -> ToolResult:
        """`ToolRegistry.call` for this tool's name."""
        return self.registry.call(self.name, arguments, user_id=user_id, raise_errors=raise_errors)

    async def acall(
        self,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        user_id: str | None = None,
        raise_errors: bool | None = None,
    ) -> ToolResult:
        """`ToolRegistry.acall` for this tool's name."""
        return await self.registry.acall(
            self.name, arguments, user_id=user_id, raise_errors=raise_errors
        )


def make_tool(
    fn: Callable[..., Any],
    *,
    registry: ToolRegistry,
    name: str | None,
    description: str | None,
    coroutine: Callable[..., Any] | None,
    timeout: float | None,
    rate_limit: int | None,
    rate_window: float,
    per_user: bool,
    permission: Permission | None,
    approval: Approval | None,
    pure: bool,
    cache_ttl: float | None,
    cache_size: int,
    retries: int,
    retry_backoff: float,
    retry_on: tuple[type[Exception], ...],
    tags: Iterable[str],
    category: str | None,
    sensitive: Iterable[str],
    max_output_chars: int | None,
) -> Tool:
    """Check every setting and build the tool; `ToolRegistrationError` says what is wrong."""
    if not callable(fn):
        raise ToolRegistrationError(f"a tool must be callable, got {type(fn).__name__}")
    tool_name = name if name is not None else getattr(fn, "__name__", "")
    if not isinstance(tool_name, str) or not _NAME.fullmatch(tool_name):
        raise ToolRegistrationError(
            f"tool name {tool_name!r} must be 1 to 64 letters, digits, '_' or '-'"
            + ("" if name is not None else "; pass name=")
        )
    model, binding = arguments_model(fn, tool_name)
    params = {param for param, _ in binding.keywords} | set(binding.positional)
    if coroutine is not None:
        _check_twin(tool_name, fn, coroutine)
    sensitive = tuple(sensitive)
    unknown = sorted(set(sensitive) - params)
    if unknown:
        raise ToolRegistrationError(f"{tool_name}: sensitive names no parameter: {unknown}")
    _check_positive(tool_name, timeout=timeout, rate_window=rate_window, cache_ttl=cache_ttl)
    _check_count(tool_name, 1, rate_limit=rate_limit, cache_size=cache_size)
    _check_count(tool_name, 1, max_output_chars=max_output_chars)
    _check_count(tool_name, 0, retries=retries)
    if not (math.isfinite(retry_backoff) and retry_backoff >= 0):
        raise ToolRegistrationError(f"{tool_name}: retry_backoff must be >= 0")
    if not all(isinstance(t, type) and issubclass(t, Exception) for t in retry_on):
        raise ToolRegistrationError(f"{tool_name}: retry_on must hold Exception classes")
    return Tool(
        name=tool_name,
        description=describe(fn) if description is None else description,
        fn=fn,
        args_model=model,
        is_async=_is_async(fn),
        registry=registry,
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
        retry_on=tuple(retry_on),
        tags=tuple(dict.fromkeys(tags)),
        category=category,
        sensitive=sensitive,
        max_output_chars=max_output_chars,
        _binding=binding,
        _parameters=json_schema(model),
    )


def _is_async(fn: Callable[..., Any]) -> bool:
    # an object whose __call__ is a coroutine function is async too
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


def _check_twin(name: str, fn: Callable[..., Any], coroutine: Callable[..., Any]) -> None:
    if not _is_async(coroutine):
        raise ToolRegistrationError(f"{name}: coroutine must be an async function")
    if list(inspect.signature(fn).parameters) != list(inspect.signature(coroutine).parameters):
        raise ToolRegistrationError(f"{name}: coroutine must take the same parameters as fn")


def _check_positive(name: str, **values: float | None) -> None:
    for key, value in values.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ToolRegistrationError(f"{name}: {key} must be a positive number, got {value!r}")


def _check_count(name: str, least: int, **values: int | None) -> None:
    for key, value in values.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < least
        ):
            raise ToolRegistrationError(f"{name}: {key} must be an int >= {least}, got {value!r}")
