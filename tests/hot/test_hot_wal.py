"""The write-ahead log: acknowledged writes survive SIGKILL; a torn tail is dropped quietly."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hot_data import turns

from tiermem.hot.wal import Added, Deleted, WriteAheadLog
from tiermem.records import Kind, MemoryRecord


def test_entries_replay_in_order_with_records_and_vectors_intact(tmp_path: Path) -> None:
    records = turns(3)
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    with WriteAheadLog(tmp_path / "wal") as log:
        assert log.add(records[:2], vectors[:2]) == 1
        assert log.delete([records[0].id]) == 2
        assert log.add(records[2:], vectors[2:]) == 3
    with WriteAheadLog(tmp_path / "wal") as log:
        first, second, third = log.replay()
    assert isinstance(first, Added)
    assert isinstance(second, Deleted)
    assert isinstance(third, Added)
    assert first.records == tuple(records[:2])  # every field, timestamps and metadata too
    np.testing.assert_array_equal(first.vectors, vectors[:2])
    assert second.ids == (records[0].id,)
    assert [first.lsn, second.lsn, third.lsn] == [1, 2, 3]


def _unicode_turn() -> MemoryRecord:
    return dataclasses.replace(turns(1)[0], text="Olá \U0001f600 \u202e", tags=("x", "y"),
                               metadata={"name": "Zoë", "n": [1, {"a": None}]})  # fmt: skip


def _expiring_pinned_memory() -> MemoryRecord:
    return MemoryRecord(
        id="a" * 32, kind=Kind.MEMORY, text="x", timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        expires_at=datetime(2030, 1, 1, 0, 0, 0, 5, tzinfo=UTC), pinned=True,
    )  # fmt: skip


@pytest.mark.parametrize("make", [_unicode_turn, _expiring_pinned_memory])
def test_every_field_round_trips(tmp_path: Path, make: Callable[[], MemoryRecord]) -> None:
    record = make()  # unicode and nested metadata; an expiry to the microsecond and a pin
    with WriteAheadLog(tmp_path / "wal", fsync=False) as log:
        log.add([record], np.ones((1, 2), np.float32))
    with WriteAheadLog(tmp_path / "wal") as log:
        (entry,) = log.replay()
    assert isinstance(entry, Added)
    assert entry.records == (record,)


def _frames_of(path: Path) -> bytes:
    # the log is grown ahead with zeros; a frame's payload (JSON) never ends in one
    return path.read_bytes().rstrip(b"\x00")


@pytest.mark.parametrize("cut", [1, 4, 8, 20, -1])
def test_a_torn_last_frame_is_dropped_and_the_log_goes_on(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "wal"
    with WriteAheadLog(path) as log:
        log.add(turns(1), np.ones((1, 4), np.float32))
        whole = len(_frames_of(path))
        log.add(turns(2)[1:], np.ones((1, 4), np.float32))
    data = _frames_of(path)
    path.write_bytes(data[: whole + cut] if cut > 0 else data[:-1])
    with WriteAheadLog(path) as log:
        assert [e.lsn for e in log.replay()] == [1]
        assert path.stat().st_size == whole  # the torn bytes are gone before anything follows
        assert log.delete(["abc"]) == 2
    with WriteAheadLog(path) as log:
        assert [e.lsn for e in log.replay()] == [1, 2]


def test_a_frame_failing_its_checksum_ends_the_log(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    with WriteAheadLog(path) as log:
        log.delete(["a"])
        middle = len(_frames_of(path))
        log.delete(["b"])
        log.delete(["c"])
    data = bytearray(_frames_of(path))
    data[middle + 12] ^= 0xFF  # a flipped bit inside the second entry's payload
    path.write_bytes(bytes(data))
    with WriteAheadLog(path) as log:
        assert [e.ids for e in log.replay() if isinstance(e, Deleted)] == [("a",)]


def test_a_frame_claiming_a_huge_length_is_torn_not_read(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    path.write_bytes(b"\xff\xff\xff\xff\x00\x00\x00\x00garbage")
    with WriteAheadLog(path) as log:
        assert log.replay() == []
    assert path.stat().st_size == 0


def test_truncate_keeps_only_what_is_not_committed(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    with WriteAheadLog(path) as log:
        for i in range(5):
            log.delete([f"id{i}"])
        log.truncate(3)
        assert [e.lsn for e in log.replay()] == [4, 5]
        log.delete(["id5"])
    with WriteAheadLog(path) as log:
        assert [e.lsn for e in log.replay()] == [4, 5, 6]
        log.truncate(log.last_lsn)
        assert log.replay() == []
    assert path.stat().st_size == 0


def test_appends_fill_room_made_ahead_and_replay_stops_at_the_zeros(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    with WriteAheadLog(path) as log:
        for i in range(3):
            log.delete([f"id{i}"])
    assert path.stat().st_size >= 1 << 16
    with WriteAheadLog(path) as log:
        assert [e.lsn for e in log.replay()] == [1, 2, 3]
        log.delete(["id3"])
    with WriteAheadLog(path) as log:
        assert [e.lsn for e in log.replay()] == [1, 2, 3, 4]


_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from hot_data import turns
    from tiermem.hot.wal import WriteAheadLog

    log = WriteAheadLog(sys.argv[1])
    # more than the pipe holds unread (8-byte lines, 64 KiB): alive when the kill lands
    for record in turns(20_000, prefix="k"):
        log.add([record], np.ones((1, 8), np.float32))
        print(record.id, flush=True)  # acknowledged: the parent may now rely on it
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(Path(__file__).parent)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    acked = [child.stdout.readline().strip() for _ in range(300)]
    child.kill()  # SIGKILL: no handler, no flush, no close
    child.wait(30)
    assert child.returncode == -9
    with WriteAheadLog(path) as log:
        replayed = [r.id for e in log.replay() if isinstance(e, Added) for r in e.records]
    assert replayed[: len(acked)] == acked
    assert len(replayed) >= len(acked)  # and perhaps a few written before the kill landed


def test_bytes_through_counts_what_a_cut_would_drop(tmp_path: Path) -> None:
    records = turns(4)
    vectors = np.zeros((1, 4), np.float32)
    with WriteAheadLog(tmp_path / "wal", fsync=False) as log:
        assert log.bytes_through(5) == 0
        lsns = [log.add([r], vectors) for r in records]
        sizes = [log.bytes_through(n) for n in lsns]
        assert sizes == sorted(sizes)
        assert sizes[-1] == log.size
        assert log.bytes_through(0) == 0
        log.truncate(lsns[1])
        # what is left was rewritten from the start of the file
        assert log.bytes_through(lsns[1]) == 0
        assert log.bytes_through(lsns[3]) == log.size == sizes[3] - sizes[1]
    with WriteAheadLog(tmp_path / "wal", fsync=False) as log:  # the ends, read back
        assert log.bytes_through(lsns[2]) == sizes[2] - sizes[1]
