"""tiermem over MCP: the tools a client sees, called through the MCP SDK's own client.

Runs offline as written (the server runs in-process here). To serve a real client:

    tiermem mcp --store ./memory --user ana                  # stdio: desktop apps, IDEs
    tiermem mcp --store ./memory --user ana --transport streamable-http --port 8000

Every tool is bound to the scope the server starts with: Bob's memories stay out.
"""

from __future__ import annotations

import asyncio
import tempfile

from mcp import Client
from mcp_tiermem import McpScope, create_server
from tiermem import TieredMemory


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, TieredMemory(folder) as mem:
        mem.add_message("user", "I'm Ana; my gym locker code is 4417.", session_id="s1",
                        user_id="ana")  # fmt: skip
        mem.remember("Bob's gym locker code is 9001.", user_id="bob")
        async with Client(create_server(mem, McpScope(user_id="ana"))) as client:
            tools = (await client.list_tools()).tools
            print("tools:", ", ".join(sorted(t.name for t in tools)))
            await client.call_tool("remember", {"text": "Ana prefers window seats."})
            found = await client.call_tool("search", {"query": "gym locker code", "k": 5})
            for hit in (found.structured_content or {})["hits"]:
                print("hit:", hit["text"])
            asked = {"query": "What is my locker code?", "max_tokens": 200}
            context = (await client.call_tool("build_context", asked)).structured_content or {}
            print(f"context: {context['token_count']}/{context['max_tokens']} tokens")
            print(context["text"])


asyncio.run(main())
