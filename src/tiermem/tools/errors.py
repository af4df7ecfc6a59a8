"""Errors of the tool registry; all derive from `tiermem.errors.TieredMemoryError`.

```
TieredMemoryError
├── ToolRegistrationError  (also ValueError)  a tool could not be registered
├── ToolCallError                             a call failed and raise_errors was set
└── NotFoundError
    └── UnknownToolError                      no tool with that name in the registry
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFoundError, TieredMemoryError

if TYPE_CHECKING:
    from .result import ToolResult

__all__ = ["ToolCallError", "ToolRegistrationError", "UnknownToolError"]


class ToolRegistrationError(TieredMemoryError, ValueError):
    """A function cannot become a tool: bad name, taken name, ``*args``, bad policy."""


class ToolCallError(TieredMemoryError):
    """A tool call failed while ``raise_errors`` was on; ``result`` holds the failed result."""

    def __init__(self, result: ToolResult) -> None:
        self.result = result
        error = result.error
        detail = f"{error.type}: {error.message}" if error is not None else "failed"
        super().__init__(f"tool {result.tool!r} failed: {detail}")


class UnknownToolError(NotFoundError):
    """No tool with that name is registered."""
