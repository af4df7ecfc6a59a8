"""`tiermem mcp` as its own process, reached by the SDK's `Client` over stdio and HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client.stdio import stdio_client
from mcp_fixtures import USERS, fill

from mcp import Client, StdioServerParameters
from tiermem import MemoryConfig, TieredMemory

CLI = "from tiermem.cli import main; main()"


@pytest.fixture
def store(tmp_path: Path) -> str:
    folder = tmp_path / "store"
    with TieredMemory(
        folder,
        config=MemoryConfig(tokenizer="cl100k_base"),
    ) as mem:
        fill(mem)
    return str(folder)


async def _round_trip(client: Client) -> dict[str, Any]:
    """What a client sees of user u1: its own records, never the other user's."""
    names = {t.name for t in (await client.list_tools()).tools}
    remembered = await client.call_tool("remember", {"text": "Plays the cello on Sundays"})
    found = await client.call_tool("search", {"query": "cello pet dog cat Oslo", "k": 20})
    built = await client.call_tool("build_context", {"query": "cello?", "max_tokens": 120})
    assert not remembered.is_error
    assert not found.is_error
    assert not built.is_error
    assert found.structured_content is not None
    assert built.structured_content is not None
    return {
        "names": names,
        "found": " ".join(h["text"] for h in found.structured_content["hits"]),
        "context": built.structured_content,
    }


def _check(seen: dict[str, Any]) -> None:
    assert seen["names"] == {"build_context", "forget", "remember", "search", "update"}
    assert "cello" in seen["found"]
    assert "cat Miso" in seen["found"]
    assert "Rex" not in seen["found"]
    assert "Oslo" not in seen["found"]
    assert seen["context"]["token_count"] <= 120
    assert "cello" in seen["context"]["text"]


async def test_stdio(store: str, tmp_path: Path) -> None:
    errors = tmp_path / "stderr.txt"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", CLI, "mcp", "--store", store, "--user", USERS[0], "--tokenizer", "cl100k_base"],
        env={"LANCEDB_LOG": "error"},
    )
    with errors.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            seen = await _round_trip(client)
    _check(seen)
    assert errors.read_text() == ""  # a quiet server: nothing on stderr in normal use
    with TieredMemory(store) as mem:  # written to the store the command was given
        assert mem.search("cello", user_id=USERS[0])[0].record.text.startswith("Plays")
        assert not any("cello" in h.record.text for h in mem.search("cello", user_id=USERS[1]))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def http_server(store: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    args = ["mcp", "--store", store, "--user", USERS[0], "--transport", "streamable-http",
            "--port", str(port)]  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, *args], stdout=log, stderr=subprocess.STDOUT,
        env={"LANCEDB_LOG": "error", "PATH": ""},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.allow_hosts(["127.0.0.1"])
async def test_streamable_http(http_server: str) -> None:
    async with Client(http_server) as client:
        seen = await _round_trip(client)
    _check(seen)
