"""Small builders shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tiermem.records import Kind, MemoryRecord

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def turn(
    seq: int,
    text: str = "hello",
    *,
    role: str = "user",
    tokens: int = 10,
    metadata: dict[str, Any] | None = None,
) -> MemoryRecord:
    return MemoryRecord(
        id=f"t{seq:04d}",
        kind=Kind.TURN,
        text=text,
        timestamp=BASE + timedelta(minutes=seq),
        role=role,
        session_id="s",
        seq=seq,
        tokens=tokens,
        metadata=metadata or {},
    )
