"""Store failures read as one line naming the store and what to do; the library is quiet."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tiermem import StoreError, TieredMemory


def _no_internals(message: str) -> None:
    assert ".rs:" not in message
    assert "Errno" not in message
    assert "\n" not in message


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0\n")
    with pytest.raises(StoreError) as caught:
        TieredMemory(path)
    assert str(path) in str(caught.value)
    assert "pass a folder" in str(caught.value)
    _no_internals(str(caught.value))
    assert path.read_text() == "root:x:0:0\n"


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    mem = TieredMemory(tmp_path / "store")
    mem.add_message("user", "hello")
    mem.close()
    for call in (lambda: mem.add_message("user", "again"), lambda: mem.search("hello"),
                 lambda: mem.build_context("hello")):  # fmt: skip
        with pytest.raises(StoreError, match="is closed: open a new TieredMemory"):
            call()
    with TieredMemory(tmp_path / "store") as reopened:
        assert [r.text for r in reopened.records()] == ["hello"]


def test_store_error_strips_rust_paths_and_maps_causes() -> None:
    from tiermem.long_term import store_error

    raw = OSError(
        "Io error: Permission denied, /root/.cargo/registry/src/lance-io-0.40/src/local.rs:120:31"
    )
    assert str(store_error("Insert failed on the store at 'x'", raw)) == (
        "Insert failed on the store at 'x': it is read-only here: open it with write access, "
        "or copy it somewhere writable"
    )
    other = RuntimeError("lance error: something odd, src/dataset.rs:12:3\ncaused by ...")
    assert str(store_error("Search failed", other)) == "Search failed: lance error: something odd"


def test_normal_use_prints_nothing_on_stderr(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os
        from tiermem import TieredMemory
        with TieredMemory({str(tmp_path / "s")!r}) as mem:
            for i in range(30):
                mem.add_message("user", f"turn {{i}} about lisbon")
            mem.optimize()
            mem.build_context("lisbon")
        print(os.environ["LANCEDB_LOG"])
    """)
    env = {k: v for k, v in os.environ.items() if k != "LANCEDB_LOG"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=True, timeout=120)  # fmt: skip
    assert done.stderr == ""
    assert done.stdout.strip() == "error"
    # a user's own choice is kept
    env["LANCEDB_LOG"] = "warn"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=True, timeout=120)  # fmt: skip
    assert done.stdout.strip() == "warn"
