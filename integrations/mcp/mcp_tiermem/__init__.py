"""An MCP server over tiermem: remember, search, build a context, update, forget.

Thin: each tool calls `tiermem.TieredMemory` inside the scope the server was
started with; `tiermem mcp` serves it over stdio or streamable HTTP.
"""

from __future__ import annotations

from .server import McpScope, create_server, serve

__all__ = ["McpScope", "create_server", "serve"]
