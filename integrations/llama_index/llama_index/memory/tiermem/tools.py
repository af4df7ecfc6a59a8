"""tiermem tools as LlamaIndex `FunctionTool`s, every call going through the registry.

Calls run through `ToolRegistry.call` / `acall`, so validation, permissions, rate
limits, timeouts, caching and `tool_called` events apply to an agent's calls too.
A failed call does not raise into the agent: its output is the error in one line
(``Error (RateLimited): ...``) marked ``is_error``, which the model reads and can act on.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import TextBlock
from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput

from tiermem import TieredMemory as CoreMemory
from tiermem.tools import Tool, ToolRegistry, ToolResult
from tiermem.tools import memory_tools as core_memory_tools

from .memory import TiermemMemory

__all__ = ["RegistryFunctionTool", "memory_tools", "to_function_tool", "to_function_tools"]


def _readable(output: ToolOutput) -> ToolOutput:
    result = output.raw_output
    if not isinstance(result, ToolResult):
        return output
    return output.model_copy(
        update={"blocks": [TextBlock(text=result.as_text())], "is_error": not result.ok}
    )


class RegistryFunctionTool(FunctionTool):
    """A `FunctionTool` whose output is the `ToolResult` as text (``raw_output``: the result)."""

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return _readable(super().call(*args, **kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return _readable(await super().acall(*args, **kwargs))


def to_function_tool(
    tool: Tool | str,
    registry: ToolRegistry | None = None,
    *,
    user_id: str | None = None,
    return_direct: bool = False,
) -> RegistryFunctionTool:
    """One registry tool as a `FunctionTool` (``fn_schema``: the tool's arguments model).

    ``user_id`` is passed to every call, for per-user rate limits and permissions.
    """
    if isinstance(tool, str):
        if registry is None:
            raise ValueError("registry: needed to look a tool up by name")
        tool = registry.get(tool)
    target = registry if registry is not None else tool.registry
    name = tool.name

    def call(**arguments: Any) -> ToolResult:
        return target.call(name, arguments, user_id=user_id, raise_errors=False)

    async def acall(**arguments: Any) -> ToolResult:
        return await target.acall(name, arguments, user_id=user_id, raise_errors=False)

    metadata = ToolMetadata(
        name=name,
        description=tool.description,
        fn_schema=tool.args_model,
        return_direct=return_direct,
    )
    return RegistryFunctionTool(fn=call, async_fn=acall, metadata=metadata)


def to_function_tools(
    registry: ToolRegistry, *, user_id: str | None = None
) -> list[RegistryFunctionTool]:
    """Every tool of ``registry``, in registration order."""
    return [to_function_tool(tool, registry, user_id=user_id) for tool in registry]


def memory_tools(
    memory: CoreMemory | TiermemMemory,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    registry: ToolRegistry | None = None,
) -> list[RegistryFunctionTool]:
    """``remember``, ``search_memory`` and ``forget_memory`` as `FunctionTool`s, in one scope.

    Given the LlamaIndex `TiermemMemory`, its user and agent are the default scope
    (its session when it has neither), so the tools see what the agent's memory sees.
    """
    if isinstance(memory, TiermemMemory):
        user_id = user_id if user_id is not None else memory.user_id
        agent_id = agent_id if agent_id is not None else memory.agent_id
        if session_id is None and user_id is None and agent_id is None:
            session_id = memory.session_id
        memory = memory.memory
    target = registry if registry is not None else ToolRegistry()
    tools = core_memory_tools(
        memory, user_id=user_id, agent_id=agent_id, session_id=session_id, registry=target
    )
    return [to_function_tool(tool, target, user_id=user_id) for tool in tools]
