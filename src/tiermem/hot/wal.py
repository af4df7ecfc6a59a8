"""A write-ahead log: what was acknowledged but not yet committed to LanceDB.

Each entry is one frame: an 8-byte header (payload length, CRC-32 of the payload,
both little-endian u32) then the payload, a JSON object. The file grows 64 KB
at a time ahead of the frames (zeros, which end the log when read). An entry is
acknowledged once its frame is written (and fsync'd, by default), so it survives the process
being killed; `replay` hands back every whole entry on open. A frame cut short by a
crash mid-write, or one whose checksum fails, ends the log: it and anything after
it are dropped (they were never acknowledged), never an error.

Entries carry increasing sequence numbers; `truncate` drops those the store has
committed, so the log holds only the uncommitted tail. Numbers start again from 1
when an empty log is opened: they order one log's entries, nothing more.
One log has one writing process; several processes on a store each need their own.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..records import Kind, MemoryRecord

__all__ = ["Added", "Deleted", "Entry", "WriteAheadLog", "read_from"]

_HEADER = struct.Struct("<II")
#: a frame claiming more than this is corruption, not a record (a turn is capped far below)
_MAX_PAYLOAD = 1 << 30
#: room allocated ahead of the frames, so an fsync'd append changes no file metadata
_ROOM = 1 << 16


@dataclass(frozen=True, slots=True)
class Added:
    """Records written, with their vectors (one row each)."""

    lsn: int
    records: tuple[MemoryRecord, ...]
    vectors: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Deleted:
    """Record ids deleted."""

    lsn: int
    ids: tuple[str, ...]


Entry = Added | Deleted


def _record_json(record: MemoryRecord) -> dict[str, Any]:
    return {
        "id": record.id, "kind": record.kind.value, "text": record.text,
        "timestamp": record.timestamp.isoformat(), "role": record.role,
        "session_id": record.session_id, "user_id": record.user_id,
        "agent_id": record.agent_id, "seq": record.seq, "importance": record.importance,
        "tags": list(record.tags), "metadata": dict(record.metadata),
        "covers": list(record.covers), "tokens": record.tokens,
        "expires_at": None if record.expires_at is None else record.expires_at.isoformat(),
        "pinned": record.pinned,
    }  # fmt: skip


def _record(data: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord(
        id=data["id"], kind=Kind(data["kind"]), text=data["text"],
        timestamp=datetime.fromisoformat(data["timestamp"]), role=data["role"],
        session_id=data["session_id"], user_id=data["user_id"], agent_id=data["agent_id"],
        seq=data["seq"], importance=data["importance"], tags=tuple(data["tags"]),
        metadata=data["metadata"], covers=tuple(data["covers"]), tokens=data["tokens"],
        # absent from entries logged before records could expire or be pinned
        expires_at=None if (e := data.get("expires_at")) is None else datetime.fromisoformat(e),
        pinned=bool(data.get("pinned", False)),
    )  # fmt: skip


def _payload(entry: Entry) -> bytes:
    if isinstance(entry, Added):
        vectors = np.ascontiguousarray(entry.vectors, dtype="<f4")
        body: dict[str, Any] = {
            "op": "add", "lsn": entry.lsn,
            "records": [_record_json(r) for r in entry.records],
            "dims": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
            "vectors": base64.b64encode(vectors.tobytes()).decode("ascii"),
        }  # fmt: skip
    else:
        body = {"op": "delete", "lsn": entry.lsn, "ids": list(entry.ids)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _entry(payload: bytes) -> Entry:
    body = json.loads(payload)
    if body["op"] == "delete":
        return Deleted(int(body["lsn"]), tuple(body["ids"]))
    flat = np.frombuffer(base64.b64decode(body["vectors"]), dtype="<f4")
    records = tuple(_record(r) for r in body["records"])
    vectors = flat.reshape(len(records), int(body["dims"])).astype(np.float32)
    return Added(int(body["lsn"]), records, vectors)


def _frame(entry: Entry) -> bytes:
    payload = _payload(entry)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _frames(data: bytes) -> Iterator[tuple[int, Entry]]:
    """Whole, intact entries and the offset just past each; stops at the first bad frame."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length > _MAX_PAYLOAD or end > len(data):
            return  # torn: the write of this frame never finished
        payload = data[start:end]
        if zlib.crc32(payload) != checksum:
            return
        try:
            entry = _entry(payload)
        except (ValueError, KeyError, TypeError):
            return  # intact bytes we cannot read: treat as the end, like a torn frame
        yield end, entry
        offset = end


def read_from(path: str | os.PathLike[str], offset: int) -> tuple[list[Entry], int]:
    """The whole entries of a log from byte ``offset`` on (another process's, being
    written), and the offset just past the last of them."""
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read()
    entries, end = [], 0
    for end, entry in _frames(data):  # noqa: B007 - the last end is the new offset
        entries.append(entry)
    return entries, offset + end


def _datasync(descriptor: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
    sync(descriptor)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class WriteAheadLog:
    """An append-only log file of entries not yet committed to the store.

    Args:
        path: the log file (created if missing).
        fsync: flush every append to the disk before it returns (the default). Off,
            an acknowledged write survives the process dying but not the machine.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending, self._ends = self._read()
        #: where each pending entry ends in the file: what a cut would drop
        self._end = self._ends[-1] if self._ends else 0
        self._next_lsn = max((e.lsn for e in self._pending), default=0) + 1
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._room = os.fstat(self._fd).st_size

    def _read(self) -> tuple[list[Entry], list[int]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        entries, ends = [], []
        for end, entry in _frames(data):
            entries.append(entry)
            ends.append(end)
        good = ends[-1] if ends else 0
        if good < len(data):
            # cut off a torn tail (and zeros made room for): the next frame goes right here
            with open(self.path, "r+b") as file:
                file.truncate(good)
                os.fsync(file.fileno())
        return entries, ends

    def replay(self) -> list[Entry]:
        """Entries logged and not yet truncated, oldest first (read when the log opened,
        plus every append since)."""
        with self._lock:
            return list(self._pending)

    def add(self, records: Sequence[MemoryRecord], vectors: NDArray[np.float32]) -> int:
        """Log written records; their sequence number once durable."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(records), -1)
        with self._lock:
            return self._append(Added(self._next_lsn, tuple(records), vectors))

    def delete(self, ids: Sequence[str]) -> int:
        """Log deleted ids; the sequence number once durable."""
        with self._lock:
            return self._append(Deleted(self._next_lsn, tuple(ids)))

    def _append(self, entry: Entry) -> int:
        frame = _frame(entry)
        if self._end + len(frame) > self._room:
            self._grow(self._end + len(frame))
        os.pwrite(self._fd, frame, self._end)
        if self.fsync:
            # the blocks were allocated ahead: only data reaches the disk, no metadata,
            # which made an fsync per frame cost milliseconds (a journal commit each)
            _datasync(self._fd)
        self._end += len(frame)
        self._pending.append(entry)
        self._ends.append(self._end)
        self._next_lsn += 1
        return entry.lsn

    def _grow(self, needed: int) -> None:
        room = max(needed, self._room + _ROOM)
        allocate = getattr(os, "posix_fallocate", None)
        if allocate is None:
            return  # this platform appends without room made ahead
        allocate(self._fd, self._room, room - self._room)
        os.fsync(self._fd)  # the new size and blocks, once per 64 KB
        self._room = room

    @property
    def size(self) -> int:
        """Bytes of entries in the log."""
        return self._end

    def bytes_through(self, lsn: int) -> int:
        """Bytes of the entries up to and including sequence number ``lsn``."""
        with self._lock:
            if not self._pending:
                return 0
            # pending entries hold consecutive numbers: the count up to ``lsn`` is a difference
            done = min(max(lsn - self._pending[0].lsn + 1, 0), len(self._pending))
            return self._ends[done - 1] if done else 0

    @property
    def last_lsn(self) -> int:
        """The sequence number of the newest entry (0: none yet)."""
        return self._next_lsn - 1

    def truncate(self, through: int) -> None:
        """Drop every entry up to and including sequence number ``through``: committed."""
        with self._lock:
            kept = [e for e in self._pending if e.lsn > through]
            if len(kept) == len(self._pending):
                return
            if not kept:
                os.ftruncate(self._fd, 0)
                if self.fsync:
                    os.fsync(self._fd)
                self._end = self._room = 0
                self._ends = []
            else:
                # write what is left aside and swap it in: a crash leaves one whole log
                staging = self.path.with_name(self.path.name + ".tmp")
                frames = [_frame(e) for e in kept]
                with open(staging, "wb") as file:
                    file.write(b"".join(frames))
                    file.flush()
                    os.fsync(file.fileno())
                self._ends = list(itertools.accumulate(len(f) for f in frames))
                os.close(self._fd)
                os.replace(staging, self.path)
                if self.fsync:
                    _sync_folder(self.path.parent)  # the rename itself must reach the disk
                self._fd = os.open(self.path, os.O_RDWR)
                self._end = self._room = os.fstat(self._fd).st_size
            self._pending = kept

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
