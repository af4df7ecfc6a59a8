"""What a tool call returns: a `ToolResult`, successful or not, always JSON-safe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolError", "ToolResult"]


@dataclass(frozen=True, slots=True)
class ToolError:
    """Why a call failed.

    ``type`` is one of ``UnknownTool``, ``ValidationError``, ``PermissionDenied``,
    ``RateLimited``, ``RecursionLimit``, ``Timeout``, ``NotSerializable``, ``Closed``,
    or the class name of the exception the tool raised. Secrets are already redacted.
    """

    type: str
    message: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one call: ``value`` when ``ok``, else ``error``.

    ``value`` is JSON-safe (what `json.dumps` accepts); when its JSON text was longer
    than the output limit it is that text cut short with a marker, and ``truncated``
    is set. ``duration`` is wall time in seconds; ``cached`` marks a result served
    from a pure tool's cache.
    """

    tool: str
    ok: bool
    value: Any = None
    error: ToolError | None = None
    duration: float = 0.0
    cached: bool = False
    truncated: bool = False

    def as_text(self) -> str:
        """The result as a model should read it: the value, or the error in one line."""
        if self.error is not None:
            return f"Error ({self.error.type}): {self.error.message}"
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, ensure_ascii=False)

    @classmethod
    def failure(cls, tool: str, kind: str, message: str) -> ToolResult:
        """A failed result (duration is filled in when the call finishes)."""
        return cls(tool=tool, ok=False, error=ToolError(kind, message))
