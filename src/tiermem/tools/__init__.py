"""Tools for LLM agents: typed, validated, time-limited, rate-limited, cached and observed.

```python
from tiermem.tools import ToolRegistry

registry = ToolRegistry()

@registry.tool(timeout=2.0, rate_limit=10, rate_window=60.0)
def weather(city: str) -> str:
    "Current weather for a city."
    ...

registry.schemas()                           # OpenAI function-calling format
registry.call("weather", {"city": "Porto"})  # -> ToolResult(ok, value | error, ...)
```

Framework-free: the LangChain and LlamaIndex adapters wrap `Tool` objects.
"""

from __future__ import annotations

from .errors import ToolCallError, ToolRegistrationError, UnknownToolError
from .memory_tools import MemoryStore, memory_tools
from .policy import Approval, Permission
from .registry import ToolOptions, ToolRegistry
from .result import ToolError, ToolResult
from .tool import Tool

__all__ = [
    "Approval",
    "MemoryStore",
    "Permission",
    "Tool",
    "ToolCallError",
    "ToolError",
    "ToolOptions",
    "ToolRegistrationError",
    "ToolRegistry",
    "ToolResult",
    "UnknownToolError",
    "memory_tools",
]
