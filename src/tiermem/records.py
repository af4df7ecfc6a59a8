"""What the memory holds: records, their scores, and the validation of what goes in."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .errors import InvalidInputError

__all__ = [
    "ROLES",
    "Kind",
    "MemoryRecord",
    "ScoreParts",
    "SearchHit",
]

#: Chat roles a turn may have.
ROLES = frozenset({"system", "user", "assistant", "tool"})

_MAX_ID_CHARS = 512
_MAX_TAGS = 64


class Kind(StrEnum):
    """The three kinds of record in the long-term store."""

    TURN = "turn"
    MEMORY = "memory"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One row of the long-term store: a turn, an explicit memory, or a summary."""

    id: str
    kind: Kind
    text: str
    timestamp: datetime
    role: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    seq: int = -1
    importance: float = 0.5
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()
    tokens: int = 0

    @property
    def speaker(self) -> str:
        """The name to show for this record: a ``name`` in metadata, else the role."""
        name = self.metadata.get("name")
        if isinstance(name, str) and name:
            return name
        return self.role or self.kind.value

    @property
    def tool_call_ids(self) -> tuple[str, ...]:
        """Ids of the tool calls an assistant turn makes (``metadata["tool_calls"]``)."""
        calls = self.metadata.get("tool_calls") or ()
        return tuple(str(c["id"]) for c in calls if isinstance(c, Mapping) and "id" in c)


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """Why a hit ranks where it does: each part in [0, 1] before weighting.

    ``speaker`` is the factor a turn gets when the query names a speaker and this
    turn is someone else's (1.0 otherwise); ``neighbor`` is the score a turn
    inherits from a hit next to it in its session (its score is the larger of
    that and its own).
    """

    text: float = 0.0
    vector: float = 0.0
    recency: float = 0.0
    importance: float = 0.0
    speaker: float = 1.0
    neighbor: float = 0.0


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A record found by `search`, its fused score and the parts of that score."""

    record: MemoryRecord
    score: float
    parts: ScoreParts


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC)


def check_text(argument: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(argument, f"must be a str, got {type(value).__name__}")
    if not value.strip() and not allow_empty:
        raise InvalidInputError(argument, "must not be empty or only whitespace")
    if "\x00" in value:
        raise InvalidInputError(argument, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(argument, "must be valid unicode (no lone surrogates)") from None
    return value


def check_role(value: object) -> str:
    if not isinstance(value, str) or value not in ROLES:
        raise InvalidInputError("role", f"must be one of {sorted(ROLES)}, got {value!r}")
    return value


def check_id(argument: str, value: object, *, optional: bool = True) -> str | None:
    """Scope ids are any non-empty string; they are only ever compared, never parsed."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(argument, f"must be a str, got {type(value).__name__}")
    if not value or len(value) > _MAX_ID_CHARS:
        raise InvalidInputError(argument, f"must have 1 to {_MAX_ID_CHARS} characters")
    if "\x00" in value:
        raise InvalidInputError(argument, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(argument, "must be valid unicode (no lone surrogates)") from None
    return value


def require_id(argument: str, value: object) -> str:
    checked = check_id(argument, value, optional=False)
    assert checked is not None  # optional=False never returns None
    return checked


def check_importance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError("importance", f"must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidInputError("importance", f"must be within [0, 1], got {value!r}")
    return number


def check_tags(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError("tags", "must be a list of strings")
    tags = tuple(value)
    if len(tags) > _MAX_TAGS:
        raise InvalidInputError("tags", f"must hold at most {_MAX_TAGS} tags")
    for tag in tags:
        check_id("tags", tag, optional=False)
    return tuple(dict.fromkeys(tags))


def check_metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError("metadata", f"must be a mapping, got {type(value).__name__}")
    try:
        # stored as JSON: what cannot round-trip is refused now, not corrupted later
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("metadata", f"must be JSON-serialisable ({exc})") from None


def check_timestamp(value: object) -> datetime:
    if value is None:
        return now()
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidInputError("timestamp", "must be finite")
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidInputError("timestamp", f"is out of range: {value!r}") from None
    raise InvalidInputError(
        "timestamp", f"must be a datetime or epoch seconds, got {type(value).__name__}"
    )


def check_k(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise InvalidInputError("k", f"must be an int within [1, 10000], got {value!r}")
    return value


def check_max_tokens(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError("max_tokens", f"must be a positive int, got {value!r}")
    return value


def check_tool_metadata(role: str, metadata: Mapping[str, Any]) -> None:
    """Tool turns name the call they answer; calls carry ids, so the pair stays together."""
    if role == "tool" and not isinstance(metadata.get("tool_call_id"), str):
        raise InvalidInputError(
            "metadata", "a tool turn needs metadata['tool_call_id'] naming the call it answers"
        )
    calls = metadata.get("tool_calls")
    if calls is not None and (
        not isinstance(calls, Sequence)
        or not all(isinstance(c, Mapping) and isinstance(c.get("id"), str) for c in calls)
    ):
        raise InvalidInputError("metadata", "tool_calls must be a list of objects with an 'id'")
