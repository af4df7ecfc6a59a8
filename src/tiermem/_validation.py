"""Validation of everything a caller hands in: one rule per argument, one error each.

Each check returns the value in the form the core keeps, or raises `InvalidInputError`
naming the argument and the rule it broke; nothing is written before every check passes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import records
from .errors import InvalidInputError, MessageTooLargeError
from .messages import chat_message, may_be_empty, message_tokens
from .records import COVERS_SEQ, ROLES, Kind, MemoryRecord, Owner, Scope, new_id
from .tokens import TokenCounter

__all__ = ["COVERS_SEQ", "MAX_K", "check_items", "new_id"]


# errors show a bounded preview of bad values: never a megabyte string or a deep repr
def _shown(value: object) -> str:
    preview = reprlib.Repr()  # keyword settings need Python 3.12
    preview.maxlevel, preview.maxstring, preview.maxother, preview.maxlong = 3, 80, 80, 40
    return preview.repr(value)


_MAX_ID_CHARS = 512
_MAX_TAGS = 64
_MAX_METADATA_DEPTH = 64
# JSON bytes of one record's metadata: room for tool calls, not for documents
_MAX_METADATA_BYTES = 256 * 1024


def _storable(argument: str, value: str) -> str:
    """A string LanceDB and every tokenizer take: no NUL, no lone surrogate."""
    if "\x00" in value:
        raise InvalidInputError(argument, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(argument, "must be valid unicode (no lone surrogates)") from None
    return value


def check_text(argument: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(argument, f"must be a str, got {type(value).__name__}")
    if not value.strip() and not allow_empty:
        raise InvalidInputError(argument, "must not be empty or only whitespace")
    return _storable(argument, value)


def check_flag(argument: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(argument, f"must be True or False, got {type(value).__name__}")
    return value


def check_role(value: object) -> str:
    if not isinstance(value, str) or value not in ROLES:
        raise InvalidInputError("role", f"must be one of {sorted(ROLES)}, got {_shown(value)}")
    return value


def check_id(argument: str, value: object, *, optional: bool = True) -> str | None:
    """Scope ids are any non-empty string; they are only ever compared, never parsed."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(argument, f"must be a str, got {type(value).__name__}")
    if not value or len(value) > _MAX_ID_CHARS:
        raise InvalidInputError(argument, f"must have 1 to {_MAX_ID_CHARS} characters")
    return _storable(argument, value)


def require_id(argument: str, value: object) -> str:
    checked = check_id(argument, value, optional=False)
    assert checked is not None  # optional=False never returns None
    return checked


def _real(argument: str, value: object) -> float:
    """A real number as a float; an int beyond float's range is refused, not an OverflowError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(argument, f"must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidInputError(argument, "is too large for a float") from None


def check_importance(value: object) -> float:
    return check_fraction("importance", value)


def check_fraction(argument: str, value: object) -> float:
    """A number within [0, 1]: an importance, a similarity threshold."""
    number = _real(argument, value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidInputError(argument, f"must be within [0, 1], got {_shown(value)}")
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
        text = json.dumps(dict(value), allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
        data = dict(json.loads(text))
    except UnicodeEncodeError:
        raise InvalidInputError("metadata", "must be valid unicode (no lone surrogates)") from None
    except RecursionError:
        raise InvalidInputError("metadata", _TOO_DEEP) from None
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("metadata", f"must be JSON-serialisable ({exc})") from None
    if _depth(data) > _MAX_METADATA_DEPTH:
        # every read parses it again, perhaps deep in a caller's stack
        raise InvalidInputError("metadata", _TOO_DEEP)
    if len(text.encode("utf-8")) > _MAX_METADATA_BYTES:
        raise InvalidInputError(
            "metadata", f"must be at most {_MAX_METADATA_BYTES:,} bytes as JSON"
        )
    if _has_key_not_str(value):
        # JSON would turn 1 into "1": two keys could collide, and reads would differ
        raise InvalidInputError("metadata", "keys must be strings, at every level")
    return data


_TOO_DEEP = f"must not nest deeper than {_MAX_METADATA_DEPTH} levels"


def _has_key_not_str(data: object) -> bool:
    """Whether a mapping anywhere inside holds a key that is not a string (no recursion)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if any(not isinstance(key, str) for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _depth(data: object) -> int:
    """How deeply JSON data nests, counted without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def check_timestamp(value: object) -> datetime:
    """A time in UTC (naive means UTC) whose UTC value lies within years 1 to 9999.

    Kept in UTC because the store keeps it so: a record reads back as it was written.
    """
    if value is None:
        return records.now()  # looked up: the one clock tests move
    if isinstance(value, datetime):
        try:
            offset = value.utcoffset()
        except (ValueError, TypeError) as exc:
            rule = f"has a tzinfo with no valid UTC offset ({exc})"
            raise InvalidInputError("timestamp", rule) from None
        if offset is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError, TypeError):
            raise InvalidInputError("timestamp", _CALENDAR.format(_shown(value))) from None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            raise InvalidInputError("timestamp", _CALENDAR.format(_shown(value))) from None
        if math.isnan(seconds):
            raise InvalidInputError("timestamp", "must be a number of seconds, got NaN")
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidInputError("timestamp", _CALENDAR.format(_shown(value))) from None
    raise InvalidInputError(
        "timestamp", f"must be a datetime or epoch seconds, got {type(value).__name__}"
    )


_CALENDAR = "must lie within years 1 to 9999 in UTC, got {}"


def check_moment(argument: str, value: object) -> datetime:
    """A datetime (naive means UTC), in UTC, within years 1 to 9999: a deadline or a cutoff."""
    if not isinstance(value, datetime):
        raise InvalidInputError(argument, f"must be a datetime, got {type(value).__name__}")
    try:
        return check_timestamp(value)
    except InvalidInputError as exc:
        raise InvalidInputError(argument, exc.rule) from None


def check_expiry(expires_at: object, ttl: object, *, at: datetime) -> datetime | None:
    """When a memory expires: ``expires_at``, or ``ttl`` (a timedelta or seconds) after ``at``."""
    if expires_at is not None and ttl is not None:
        raise InvalidInputError("ttl", "give expires_at or ttl, not both")
    if expires_at is not None:
        return check_moment("expires_at", expires_at)
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else _real("ttl", ttl)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError("ttl", f"must be a positive duration, got {_shown(ttl)}")
    try:
        return at + timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidInputError("ttl", _CALENDAR.format(_shown(ttl))) from None


#: The most hits one search returns.
MAX_K = 10_000


def check_k(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise InvalidInputError("k", f"must be an int within [1, {MAX_K}], got {_shown(value)}")
    return value


def check_max_tokens(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError("max_tokens", f"must be a positive int, got {_shown(value)}")
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


def check_messages(value: object) -> list[Any]:
    """A bulk of messages: any iterable of them, but not one message or one string."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(
            "messages", f"must be a list of mappings, got {type(value).__name__}"
        )
    return list(value)


def check_kinds(value: object) -> tuple[Kind, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError("kinds", f"must be a list among {[k.value for k in Kind]}")
    try:
        return tuple(Kind(k) for k in value)
    except (TypeError, ValueError):
        raise InvalidInputError("kinds", f"must be among {[k.value for k in Kind]}") from None


_MAX_BATCH = 100_000


def check_batch_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_BATCH:
        raise InvalidInputError(
            "batch_size", f"must be an int within [1, {_MAX_BATCH}], got {_shown(value)}"
        )
    return value


_MAX_RECORD_ID = 64
_INT64, _INT32 = 2**63, 2**31  # the store's seq and tokens columns


def check_record(argument: str, value: object) -> MemoryRecord:
    """A record to import, held to the rules every write path keeps (normalised like them).

    An import is a write like any other: a field no call would have stored could
    otherwise make the record unreadable, or unreachable by `get` and `forget`.
    """
    if not isinstance(value, MemoryRecord):
        raise InvalidInputError(argument, f"must be a MemoryRecord, got {type(value).__name__}")
    try:
        return _checked_record(value)
    except InvalidInputError as exc:
        raise type(exc)(f"{argument}.{exc.argument}", exc.rule) from None


def _checked_record(record: MemoryRecord) -> MemoryRecord:
    rid = record.id
    # ids are ours (hex); filters only ever match ids of ASCII letters and digits
    if not isinstance(rid, str) or not (0 < len(rid) <= _MAX_RECORD_ID and rid.isascii()
                                        and rid.isalnum()):  # fmt: skip
        raise InvalidInputError(
            "id", f"must be 1 to {_MAX_RECORD_ID} ASCII letters or digits, got {_shown(rid)}"
        )
    try:
        kind = Kind(record.kind)
    except (TypeError, ValueError):
        raise InvalidInputError("kind", f"must be among {[k.value for k in Kind]}") from None
    is_turn = kind is Kind.TURN
    return dataclasses.replace(
        record, kind=kind,
        role=check_role(record.role) if is_turn or record.role is not None else None,
        session_id=check_id("session_id", record.session_id, optional=not is_turn),
        text=check_text("text", record.text, allow_empty=True),
        user_id=check_id("user_id", record.user_id),
        agent_id=check_id("agent_id", record.agent_id),
        timestamp=_record_time(record.timestamp), seq=_bounded("seq", record.seq, -1, _INT64),
        importance=check_importance(record.importance), tags=check_tags(record.tags),
        metadata=check_metadata(record.metadata),
        covers=tuple(require_id("covers", c) for c in _strings("covers", record.covers)),
        tokens=_bounded("tokens", record.tokens, 0, _INT32),
        expires_at=None if record.expires_at is None else check_moment("expires_at",
                                                                       record.expires_at),
        pinned=check_flag("pinned", record.pinned),
    )  # fmt: skip


def _record_time(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInputError("timestamp", f"must be a datetime, got {type(value).__name__}")
    return check_timestamp(value)


def _bounded(argument: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
        raise InvalidInputError(
            argument, f"must be an int within [{low}, {high}), got {_shown(value)}"
        )
    return value


def _strings(argument: str, value: object) -> tuple[object, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(argument, "must be a list of strings")
    return tuple(value)


def check_uri(value: object) -> str:
    """Where the store is: a folder, ``memory://`` or an object store URI."""
    uri = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if not isinstance(uri, str):
        raise InvalidInputError("uri", f"must be a str or a path, got {type(value).__name__}")
    if not uri.strip():
        # lancedb would take "" as the current folder: a store nobody asked for
        raise InvalidInputError("uri", "must name a folder, memory:// or an s3:// URI")
    return uri


def check_part(argument: str, value: object, needs: tuple[str, ...]) -> None:
    """A pluggable part (None: the default) has what its protocol asks for."""
    missing = [name for name in needs if not hasattr(value, name)]
    if value is not None and missing:
        raise InvalidInputError(
            argument, f"must have {', '.join(needs)}; a {type(value).__name__} lacks "
            f"{', '.join(missing)}"
        )  # fmt: skip
    dimensions = getattr(value, "dimensions", 1) if argument == "embedder" else 1
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise InvalidInputError(
            argument, f"dimensions must be a positive int, got {_shown(dimensions)}"
        )


def check_callbacks(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        rule = f"must be a list of handlers, got {type(value).__name__}"
        raise InvalidInputError("callbacks", rule)
    return list(value)


def check_items(items: object, dimensions: int) -> list[tuple[MemoryRecord, NDArray[np.float32]]]:
    """Exported (record, vector) pairs, every one checked before any is written."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidInputError("items", "must be an iterable of (record, vector) pairs")
    checked = []
    for i, item in enumerate(items):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidInputError(f"items[{i}]", "must be a (record, vector) pair")
        record = check_record(f"items[{i}]", item[0])
        try:
            vector = np.asarray(item[1], dtype=np.float32)
        except (TypeError, ValueError, OverflowError):
            vector = np.zeros(0, dtype=np.float32)
        if vector.shape != (dimensions,) or not np.all(np.isfinite(vector)):
            raise InvalidInputError(f"items[{i}].vector", f"must be {dimensions} finite numbers")
        checked.append((record, vector))
    return checked


# --- a call's owner and its turns ---------------------------------------------------

_NOT_BOTH = "give scope or user_id / agent_id / session_id, not both"
_MESSAGE_KEYS = frozenset({"role", "content", "timestamp", "metadata", "importance", "pinned"})


def check_owner(
    scope: object,
    user_id: object,
    agent_id: object,
    session_id: object,
    *,
    default_session: str | None = None,
) -> Owner:
    """The (user, agent, session) of a call, from ``scope`` or the loose ids, checked."""
    if scope is not None:
        if not isinstance(scope, Scope):
            raise InvalidInputError("scope", f"must be a tiermem.Scope, got {type(scope).__name__}")
        if user_id is not None or agent_id is not None or session_id != default_session:
            raise InvalidInputError("scope", _NOT_BOTH)
        user_id, agent_id, session_id = scope
        session_id = default_session if session_id is None else session_id
    return (
        check_id("user_id", user_id),
        check_id("agent_id", agent_id),
        check_id("session_id", session_id),
    )


def check_tokens(argument: str, tokens: int, limit: int) -> int:
    """A turn or memory no context could hold is refused when written, not when read."""
    if tokens > limit:
        raise MessageTooLargeError(
            argument,
            f"has {tokens} tokens, more than the largest context ({limit}); "
            "split it or raise short_term.max_message_tokens",
        )
    return tokens


def check_turn(
    owner: Owner,
    role: object,
    content: object,
    timestamp: object,
    metadata: object,
    importance: object,
    pinned: object,
    *,
    counter: TokenCounter,
    limit: int,
) -> MemoryRecord:
    """A validated turn with its token cost, not yet sequenced or stored."""
    role = check_role(role)
    meta = check_metadata(metadata)
    check_tool_metadata(role, meta)
    text = check_text("content", content, allow_empty=may_be_empty(role, meta))
    tokens = message_tokens(counter, chat_message(role, text, meta))
    user_id, agent_id, session_id = owner
    return MemoryRecord(
        id=new_id(), kind=Kind.TURN, text=text, timestamp=check_timestamp(timestamp),
        role=role, session_id=require_id("session_id", session_id), user_id=user_id,
        agent_id=agent_id, metadata=meta, tokens=check_tokens("content", tokens, limit),
        importance=check_importance(importance), pinned=check_flag("pinned", pinned),
    )  # fmt: skip


def check_turns(
    owner: Owner, messages: object, *, counter: TokenCounter, limit: int
) -> list[MemoryRecord]:
    """Every message of a bulk write checked before any is written; errors name the index."""
    require_id("session_id", owner[2])  # the scope's fault first, not a message's
    drafts = []
    for i, message in enumerate(check_messages(messages)):
        if not isinstance(message, Mapping):
            raise InvalidInputError(f"messages[{i}]", "must be a mapping with role and content")
        unknown = set(message) - _MESSAGE_KEYS
        if unknown:
            raise InvalidInputError(f"messages[{i}]", f"has unknown keys {sorted(unknown)}")
        try:
            drafts.append(
                check_turn(
                    owner, message.get("role"), message.get("content"), message.get("timestamp"),
                    message.get("metadata"), message.get("importance", 0.5),
                    message.get("pinned", False), counter=counter, limit=limit,
                )
            )  # fmt: skip
        except InvalidInputError as exc:
            raise type(exc)(f"messages[{i}].{exc.argument}", exc.rule) from None
    return drafts
