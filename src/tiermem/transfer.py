"""Data in and out of a store: exports as JSON lines, and conversations to ingest.

An export is a header line, then one record per line with its vector. It is
lossless: every field of `MemoryRecord` and the float32 vector, so exporting,
importing into a new store and exporting again gives the same lines. Vectors are
written as the shortest decimals that read back to the same float32.

Conversations to ingest are JSON lines of messages, or LoCoMo's JSON (a list of
samples with ``conversation.session_N`` turns); both become `Batch`es for
`TieredMemory.add_messages`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .embeddings import Embedder, HashingEmbedder
from .errors import InvalidInputError
from .long_term import stored_embedder
from .records import Kind, MemoryRecord
from .static_embedding import StaticEmbedder

__all__ = [
    "FORMAT_VERSION",
    "HEADER_KEY",
    "Batch",
    "Header",
    "dump_record",
    "embedder_for",
    "header_line",
    "read_conversations",
    "read_export",
    "stored_embedder",
]

HEADER_KEY = "tiermem_export"
FORMAT_VERSION = 1
_FIELDS = (
    "id", "kind", "text", "timestamp", "role", "session_id", "user_id", "agent_id", "seq",
    "importance", "tags", "metadata", "covers", "tokens",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Header:
    """The first line: format version and the embedder the vectors came from."""

    embedder: str
    dimensions: int
    version: int = FORMAT_VERSION


def header_line(embedder: str, dimensions: int) -> str:
    header = {HEADER_KEY: FORMAT_VERSION, "embedder": embedder, "dimensions": dimensions}
    return json.dumps(header, ensure_ascii=False)


def dump_record(record: MemoryRecord, vector: NDArray[np.float32]) -> str:
    """One line: the record's fields in a fixed order, then ``vector``."""
    fields: dict[str, Any] = {
        "id": record.id,
        "kind": record.kind.value,
        "text": record.text,
        "timestamp": record.timestamp.isoformat(),
        "role": record.role,
        "session_id": record.session_id,
        "user_id": record.user_id,
        "agent_id": record.agent_id,
        "seq": record.seq,
        "importance": record.importance,
        "tags": list(record.tags),
        "metadata": dict(record.metadata),
        "covers": list(record.covers),
        "tokens": record.tokens,
        "expires_at": None if record.expires_at is None else record.expires_at.isoformat(),
        "pinned": record.pinned,
    }
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # str() of a float32 is its shortest round-tripping decimal, half the size of float64's
    numbers = ",".join(str(x) for x in np.asarray(vector, dtype=np.float32))
    return f'{body[:-1]},"vector":[{numbers}]}}'


def embedder_for(name: str) -> Embedder:
    """The embedder called ``name``: ``hashing``, ``static``, or a stored name of either."""
    if name == "hashing":
        return HashingEmbedder()
    if name.startswith("hashing-v1-") and name.removeprefix("hashing-v1-").isdigit():
        return HashingEmbedder(int(name.removeprefix("hashing-v1-")))
    static = StaticEmbedder()
    if name in ("static", static.name):
        return static
    raise InvalidInputError(
        "embedder",
        f"{name!r} is not one the command line knows ('hashing' or 'static'); "
        "use the Python API and pass that embedder",
    )


def read_export(
    lines: Iterable[str],
) -> tuple[Header, Iterator[tuple[MemoryRecord, NDArray[np.float32]]]]:
    """The header, and the records as they are read; errors name the line."""
    numbered = enumerate(lines, start=1)
    first = next(((n, line) for n, line in numbered if line.strip()), None)
    if first is None:
        raise InvalidInputError("line 1", "the file is empty, expected a tiermem export header")
    header = _header(_json(first[0], first[1]), first[0])

    def records() -> Iterator[tuple[MemoryRecord, NDArray[np.float32]]]:
        for number, line in numbered:
            if line.strip():
                yield _record(_json(number, line), number, header.dimensions)

    return header, records()


def _json(number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"line {number}", f"is not valid JSON ({exc.msg})") from None


def _header(data: Any, number: int) -> Header:
    if not isinstance(data, dict) or HEADER_KEY not in data:
        raise InvalidInputError(
            f"line {number}", f'must be the export header {{"{HEADER_KEY}": {FORMAT_VERSION}, ...}}'
        )
    version, embedder, dims = data[HEADER_KEY], data.get("embedder"), data.get("dimensions")
    if version != FORMAT_VERSION:
        raise InvalidInputError(
            f"line {number}", f"export format {version!r} is not {FORMAT_VERSION}"
        )
    if not isinstance(embedder, str) or not isinstance(dims, int) or dims <= 0:
        raise InvalidInputError(f"line {number}", "header needs an embedder name and dimensions")
    return Header(embedder=embedder, dimensions=dims, version=version)


def _record(data: Any, number: int, dimensions: int) -> tuple[MemoryRecord, NDArray[np.float32]]:
    where = f"line {number}"
    if not isinstance(data, Mapping):
        raise InvalidInputError(where, "must be a JSON object")
    missing = [name for name in (*_FIELDS, "vector") if name not in data]
    if missing:
        raise InvalidInputError(where, f"lacks {', '.join(missing)}")
    try:
        record = MemoryRecord(
            id=_str(data["id"]), kind=Kind(data["kind"]), text=_str(data["text"]),
            timestamp=_timestamp(data["timestamp"]), role=_opt_str(data["role"]),
            session_id=_opt_str(data["session_id"]), user_id=_opt_str(data["user_id"]),
            agent_id=_opt_str(data["agent_id"]), seq=_int(data["seq"]),
            importance=float(data["importance"]), tags=_strs(data["tags"]),
            metadata=_mapping(data["metadata"]), covers=_strs(data["covers"]),
            tokens=_int(data["tokens"]),
            # optional: exports written before records could expire or be pinned lack them
            expires_at=None if (e := data.get("expires_at")) is None else _timestamp(e),
            pinned=_flag(data.get("pinned", False)),
        )  # fmt: skip
        vector = np.asarray(data["vector"], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(where, f"has a bad field ({exc})") from None
    if vector.shape != (dimensions,) or not np.all(np.isfinite(vector)):
        raise InvalidInputError(where, f"vector must be {dimensions} finite numbers")
    return record, vector


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    return tuple(_str(item) for item in value)


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _timestamp(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed


# --- conversations to ingest ------------------------------------------------------

_MESSAGE_KEYS = frozenset(
    {"role", "content", "session_id", "user_id", "agent_id", "timestamp", "metadata"}
)
_SESSION_KEY = re.compile(r"session_(\d+)")
_LOCOMO_DATE = "%I:%M %p on %d %B, %Y"
_BATCH = 500


@dataclass(slots=True)
class Batch:
    """Consecutive messages of one session and scope, stored in one write.

    ``sources`` names where each message came from, for error messages.
    """

    session_id: str
    user_id: str | None
    agent_id: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def read_conversations(
    text: str,
    *,
    session_id: str = "default",
    user_id: str | None = None,
    agent_id: str | None = None,
) -> tuple[str, list[Batch]]:
    """The format found (``"jsonl"`` or ``"locomo"``) and the batches to store.

    JSON lines are messages ``{role, content, session_id?, user_id?, agent_id?,
    timestamp?, metadata?}``; the keyword arguments fill what a line leaves out.
    LoCoMo samples are stored with ``user_id=sample_id`` and ``session_id="session_N"``.
    """
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None  # several lines, or broken JSON: read line by line
    if isinstance(whole, list) or (isinstance(whole, dict) and "conversation" in whole):
        samples = whole if isinstance(whole, list) else [whole]
        return "locomo", [b for s in samples for b in _locomo(s, agent_id)]
    return "jsonl", _jsonl(text, session_id, user_id, agent_id)


def _jsonl(text: str, session_id: str, user_id: str | None, agent_id: str | None) -> list[Batch]:
    batches: list[Batch] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        data = _json(number, line)
        if not isinstance(data, dict):
            raise InvalidInputError(where, "must be a JSON object {role, content, ...}")
        unknown = sorted(set(data) - _MESSAGE_KEYS)
        if unknown:
            raise InvalidInputError(where, f"has unknown keys {unknown}")
        scope = (
            data.get("session_id", session_id),
            data.get("user_id", user_id),
            data.get("agent_id", agent_id),
        )
        message = {key: data[key] for key in ("role", "content", "metadata") if key in data}
        if "timestamp" in data:
            message["timestamp"] = _message_time(data["timestamp"], where)
        last = batches[-1] if batches else None
        if (
            last is None
            or (last.session_id, last.user_id, last.agent_id) != scope
            or len(last.messages) >= _BATCH
        ):
            last = Batch(*scope)
            batches.append(last)
        last.messages.append(message)
        last.sources.append(where)
    return batches


def _message_time(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value  # epoch seconds, or a bad type that add_messages names
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{where}.timestamp", f"must be ISO 8601 or epoch seconds, got {value!r}"
        ) from None


def _locomo(sample: Any, agent_id: str | None) -> list[Batch]:
    if not isinstance(sample, dict) or not isinstance(sample.get("conversation"), dict):
        raise InvalidInputError("sample", "must be an object with a 'conversation' object")
    sample_id = str(sample.get("sample_id", "")) or "locomo"
    conversation = sample["conversation"]
    speaker_a = conversation.get("speaker_a")
    numbers = sorted(
        int(m[1]) for key in conversation if (m := _SESSION_KEY.fullmatch(key)) is not None
    )
    batches = []
    for number in numbers:
        where = f"{sample_id} session_{number}"
        started = _locomo_date(conversation.get(f"session_{number}_date_time"), where)
        batch = Batch(f"session_{number}", sample_id, agent_id)
        turns = conversation[f"session_{number}"]
        if not isinstance(turns, list):
            raise InvalidInputError(where, "must be a list of turns")
        for index, turn in enumerate(turns):
            if not isinstance(turn, dict) or not {"speaker", "text"} <= set(turn):
                raise InvalidInputError(f"{where} turn {index}", "needs speaker and text")
            caption = turn.get("blip_caption")
            text = turn["text"]
            batch.messages.append(
                {
                    "role": "user" if turn["speaker"] == speaker_a else "assistant",
                    # the photo is part of what was said (as in benchmarks/locomo.py)
                    "content": f"{text} [shares a photo: {caption}]" if caption else text,
                    "timestamp": started + timedelta(seconds=index),
                    "metadata": {"name": turn["speaker"], "dia_id": turn.get("dia_id")},
                }
            )
            batch.sources.append(f"{where} {turn.get('dia_id') or f'turn {index}'}")
        if batch.messages:
            batches.append(batch)
    return batches


def _locomo_date(value: Any, where: str) -> datetime:
    try:
        return datetime.strptime(" ".join(str(value).split()), _LOCOMO_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInputError(
            f"{where}_date_time", f"must read like '1:56 pm on 8 May, 2023', got {value!r}"
        ) from None
