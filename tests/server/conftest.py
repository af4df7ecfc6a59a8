"""A real server: uvicorn on 127.0.0.1 (port 0) in a thread, a real HTTP client."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from tiermem import MemoryConfig, TieredMemory
from tiermem.server import KEEP_ALIVE_SECONDS, ApiKey, Grant, create_app

ALICE_KEY = "alice-key-0123456789abcdef"
BOB_KEY = "bob-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
# a key granted one agent of alice's only
ALICE_BOT_KEY = "alice-bot-key-0123456789abcdef"

CHROMIUM = os.environ.get("TIERMEM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def keys() -> list[ApiKey]:
    return [
        ApiKey(name="alice", key=ALICE_KEY, scopes=(Grant(user_id="alice"),)),
        ApiKey(name="bob", key=BOB_KEY, scopes=(Grant(user_id="bob"),)),
        ApiKey(
            name="alice-bot", key=ALICE_BOT_KEY, scopes=(Grant(user_id="alice", agent_id="bot"),)
        ),
        ApiKey(name="ops", key=ADMIN_KEY, admin=True),
    ]


class Served:
    """uvicorn serving an app in a thread of this process, on loopback."""

    def __init__(self, memory: TieredMemory) -> None:
        config = uvicorn.Config(
            create_app(memory, keys=keys()), host="127.0.0.1", port=0, log_level="warning",
            lifespan="off", limit_concurrency=1_000, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@dataclass
class Running:
    memory: TieredMemory
    served: Served

    @property
    def url(self) -> str:
        return self.served.url

    def client(self, key: str | None = None) -> httpx.Client:
        return self.served.client(key)


def serve(folder: Path, config: MemoryConfig | None = None) -> Iterator[Running]:
    memory = TieredMemory(folder, config=config or MemoryConfig(tokenizer="cl100k_base"))
    served = Served(memory)
    try:
        yield Running(memory, served)
    finally:
        served.stop()
        memory.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from serve(tmp_path / "store")


@contextmanager
def browser_page() -> Iterator[Page]:
    """A page of the system's Chromium, headless (Playwright's own browser needs a download)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1000})
        finally:
            browser.close()
