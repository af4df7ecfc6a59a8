"""Catching up with other writers: one stat of the table's folder stands in for the
version round trip only when it proves nothing was committed since."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tiermem import MemoryConfig, TieredMemory
from tiermem.hot.store import _Folder

_LONG_AGO_NS = 60 * 1_000_000_000


def _age(folder: Path) -> None:
    """Move a folder's mtime a minute back, as if its last change were long settled."""
    then = time.time_ns() - _LONG_AGO_NS
    os.utime(folder, ns=(then, then))


def test_a_settled_folder_is_unchanged_until_a_file_comes(tmp_path: Path) -> None:
    watch = _Folder(tmp_path)
    _age(tmp_path)
    before = watch.mtime()
    assert not watch.unchanged(before)  # never seen: look
    watch.seen(before)
    assert watch.unchanged(watch.mtime())
    (tmp_path / "1.manifest").write_bytes(b"")
    assert not watch.unchanged(watch.mtime())


def test_a_recent_mtime_never_counts_as_unchanged(tmp_path: Path) -> None:
    # another change within the same clock tick could share this mtime
    watch = _Folder(tmp_path)
    (tmp_path / "1.manifest").write_bytes(b"")
    now = watch.mtime()
    watch.seen(now)
    assert not watch.unchanged(now)


def test_no_folder_is_never_unchanged(tmp_path: Path) -> None:
    for watch in (_Folder(None), _Folder(tmp_path / "missing")):
        mtime = watch.mtime()
        watch.seen(mtime)
        assert mtime is None
        assert not watch.unchanged(mtime)


def test_a_reader_sees_commits_made_after_its_folder_settled(tmp_path: Path) -> None:
    store = tmp_path / "store"
    versions = store / "records.lance" / "_versions"
    # the writer commits straight to LanceDB: no log for the reader to tail
    with (
        TieredMemory(store, config=MemoryConfig(hot={"enabled": False})) as writer,
        TieredMemory(store) as reader,
    ):
        first = writer.add_message("user", "the locker code is 4471", user_id="u")
        writer.remember("the spare key is under the blue pot", user_id="u")
        _age(versions)
        assert [h.record.id for h in reader.search("locker code", user_id="u", k=1)] == [first.id]
        # the folder settled with the reader up to date: the next read skips the round trip
        assert reader.search("locker code", user_id="u", k=1)[0].record.id == first.id
        second = writer.add_message("user", "the locker moved to hall C", user_id="u")
        assert reader.get(second.id).text == second.text
        writer.forget(first.id)
        _age(versions)
        assert first.id not in {h.record.id for h in reader.search("locker", user_id="u")}
        writer.forget(second.id)
        assert second.id not in {h.record.id for h in reader.search("locker hall", user_id="u")}


def test_a_store_past_max_rows_is_served_by_lancedb(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with TieredMemory(store) as mem:
        mem.add_messages([{"role": "user", "content": f"fact {i} about Lisbon"}
                          for i in range(12)], session_id="s", user_id="u")  # fmt: skip
    capped = MemoryConfig(hot={"max_rows": 10})
    with TieredMemory(store, config=capped) as mem:
        assert mem._hot is None
        assert "write_backlog" not in {c.name for c in mem.health().checks}
        assert len(mem.search("Lisbon fact", user_id="u", k=20)) == 12
        mem.add_message("user", "fact 12 about Lisbon", session_id="s", user_id="u")
    with TieredMemory(store, config=MemoryConfig(hot={"max_rows": 13})) as mem:
        assert mem._hot is not None
        assert len(mem.search("Lisbon fact", user_id="u", k=20)) == 13
