"""Turning what a tool returns into a JSON-safe value that fits the output limit."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

__all__ = ["NotSerializableError", "shape", "truncate"]


class NotSerializableError(ValueError):
    """The value has no lossless JSON form."""


def shape(value: object, limit: int | None) -> tuple[Any, bool]:
    """``value`` as JSON-safe data, and whether it had to be cut to ``limit`` characters.

    Pydantic models, dataclasses, tuples, sets, datetimes, enums, UUIDs and decimals
    convert; anything else (and NaN or infinity, which JSON cannot hold) is refused.
    A string longer than the limit is cut; other data whose JSON text is longer than
    the limit becomes that text, cut.
    """
    try:
        data = to_jsonable_python(value)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        raise NotSerializableError(
            f"the tool returned {type(value).__name__}, which has no JSON form ({exc})"
        ) from None
    body = data if isinstance(data, str) else text
    if limit is None or len(body) <= limit:
        return data, False
    return truncate(body, limit), True


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the last ones saying how many were cut."""
    longest_marker = len(_marker(len(text)))
    if limit <= longest_marker:
        # no room to say how much was cut; the cap holds all the same
        return text[: limit - 1] + "…"
    keep = limit - longest_marker
    return text[:keep] + _marker(len(text) - keep)


def _marker(cut: int) -> str:
    return f"…[truncated {cut} chars]"
