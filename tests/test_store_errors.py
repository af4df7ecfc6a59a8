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
    script = textwrap.dedent("""
        import os, sys
        from tiermem import TieredMemory
        with TieredMemory(sys.argv[1]) as mem:
            for i in range(30):
                mem.add_message("user", f"turn {i} about lisbon")
            mem.optimize()
            mem.build_context("lisbon")
        print(os.environ["LANCEDB_LOG"])
    """)
    quiet = {k: v for k, v in os.environ.items() if k != "LANCEDB_LOG"}
    # a user's own choice is kept; both run at once, as each spends most of its time importing
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path / name)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, env in (("quiet", quiet), ("warn", {**quiet, "LANCEDB_LOG": "warn"}))
    ]  # fmt: skip
    (out, err), (chosen, _) = (run.communicate(timeout=120) for run in runs)
    assert [run.returncode for run in runs] == [0, 0]
    assert err == ""
    assert out.strip() == "error"
    assert chosen.strip() == "warn"
