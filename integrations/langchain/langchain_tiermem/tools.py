"""tiermem registry tools as LangChain `StructuredTool`s.

Every call goes through the `ToolRegistry`, so its validation, permissions,
timeouts, rate limits, cache and events all apply. A failed call becomes an
error the model reads (a `ToolMessage` with ``status="error"``) and the agent
loop goes on; a successful one returns the value's text, with the JSON value
and how the call went (``value``, ``duration``, ``cached``, ``truncated``) as
the message's ``artifact``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool, ToolException

import tiermem
from tiermem.tools import Tool, ToolRegistry, ToolResult
from tiermem.tools import memory_tools as _core_memory_tools

__all__ = ["memory_tools", "to_langchain_tool", "to_langchain_tools"]


def _outcome(result: ToolResult) -> tuple[str, dict[str, Any]]:
    if not result.ok:
        raise ToolException(result.as_text())
    artifact = {
        "value": result.value,
        "duration": result.duration,
        "cached": result.cached,
        "truncated": result.truncated,
    }
    return result.as_text(), artifact


def _caller(config: RunnableConfig, user_id: str | None) -> str | None:
    if user_id is not None:
        return user_id
    value = (config.get("configurable") or {}).get("user_id")
    return str(value) if value is not None else None


def to_langchain_tool(
    tool: Tool, registry: ToolRegistry | None = None, *, user_id: str | None = None
) -> StructuredTool:
    """``tool`` as a `StructuredTool`: same name, description and arguments model.

    Calls go through ``registry`` (default: the one the tool was registered in).
    Per-user rate limits count against ``user_id``, else the run's
    ``configurable["user_id"]``.
    """
    target = registry if registry is not None else tool.registry
    name = tool.name

    def call(config: RunnableConfig, **arguments: Any) -> tuple[str, dict[str, Any]]:
        result = target.call(name, arguments, user_id=_caller(config, user_id), raise_errors=False)
        return _outcome(result)

    async def acall(config: RunnableConfig, **arguments: Any) -> tuple[str, dict[str, Any]]:
        result = await target.acall(
            name, arguments, user_id=_caller(config, user_id), raise_errors=False
        )
        return _outcome(result)

    return StructuredTool(
        name=name,
        description=tool.description,
        args_schema=tool.args_model,
        func=call,
        coroutine=acall,
        response_format="content_and_artifact",
        handle_tool_error=True,  # the model reads the error; the agent loop goes on
    )


def to_langchain_tools(
    tools: ToolRegistry | Iterable[Tool], *, user_id: str | None = None
) -> list[StructuredTool]:
    """Every tool of a registry (or the given tools), each through its own registry."""
    return [to_langchain_tool(tool, user_id=user_id) for tool in tools]


def memory_tools(
    memory: tiermem.TieredMemory,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    registry: ToolRegistry | None = None,
) -> list[StructuredTool]:
    """tiermem's ``remember``, ``search_memory`` and ``forget_memory``, bound to one scope."""
    tools = _core_memory_tools(
        memory, user_id=user_id, agent_id=agent_id, session_id=session_id, registry=registry
    )
    return to_langchain_tools(tools, user_id=user_id)
