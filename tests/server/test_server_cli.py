"""`tiermem serve` as a user starts it: a separate process, reached over loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ALICE_KEY
from tiermem.server.access import digest

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from tiermem.cli import main; main()", "serve",
         "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def _ready(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[1])
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise AssertionError("tiermem serve did not become ready")


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    process, url = _start(*args)
    _ready(process, url)
    return process, url


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=30)
    return err


def test_serve_without_keys_prints_a_one_run_admin_key(tmp_path: Path) -> None:
    # two runs of one store at once: each spends most of its time importing
    first, second = (_start("--store", str(tmp_path / "store")) for _ in range(2))
    try:
        for process, url in (first, second):
            _ready(process, url)
        assert httpx.get(first[1] + "/v1/scopes").status_code == 401
        err = _stop(first[0])
        found = re.search(r"admin key for this run: (tm_\S+)", err)
        assert found is not None, err
        # the other run has another key: this one is worth nothing there
        headers = {"Authorization": f"Bearer {found.group(1)}"}
        assert httpx.get(second[1] + "/v1/scopes", headers=headers).status_code == 401
    finally:
        for process, _ in (first, second):
            if process.poll() is None:
                _stop(process)


def test_serve_with_a_key_file_serves_the_granted_scope(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[keys]]\nname = "app"\nkey_sha256 = "{digest(ALICE_KEY)}"\n'
                    'scopes = [{ user_id = "alice" }]\n')  # fmt: skip
    bad = tmp_path / "bad.toml"
    bad.write_text('[[keys]]\nname = "x"\nkey = "short"\nadmin = true\n')
    # the run refused for its bad key file starts beside the good one
    refused = subprocess.Popen(
        [sys.executable, "-c", "from tiermem.cli import main; main()", "serve",
         "--store", str(tmp_path / "other"), "--keys", str(bad)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    process, url = _serve("--store", str(tmp_path / "store"), "--keys", str(keys))
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": ALICE_KEY}) as http:
            body = {"user_id": "alice", "messages": [{"role": "user", "content": "hi there"}]}
            assert http.post("/v1/messages", json=body).status_code == 201
            body = {"user_id": "bob", "messages": [{"role": "user", "content": "hi"}]}
            assert http.post("/v1/messages", json=body).status_code == 403
            assert http.get("/v1/stats", params={"user_id": "alice"}).json()["turns"] == 1
            assert http.get("/").headers["content-type"].startswith("text/html")
    finally:
        err = _stop(process)
        _, refusal = refused.communicate(timeout=60)
    assert "admin key" not in err
    assert refused.returncode == 1
    assert "keys[0]: key:" in refusal
