"""What a model sends as arguments: parsing, readable validation errors, a canonical form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeAlias

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

__all__ = ["Arguments", "canonical", "explain", "parse"]

#: A mapping of arguments, or a model's JSON text of one; None means no arguments.
Arguments: TypeAlias = Mapping[str, Any] | str | None


def parse(arguments: Arguments) -> dict[str, Any]:
    """The arguments as a dict; `ValueError` saying why when they are not an object."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"arguments are not valid JSON: {exc}") from None
    if not isinstance(arguments, Mapping):
        raise ValueError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    return dict(arguments)


def explain(tool: str, exc: ValidationError) -> str:
    """One line naming each bad field and what is wrong with it (never its value)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '(arguments)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return f"invalid arguments for {tool}: " + "; ".join(problems)


def canonical(model: BaseModel) -> str | None:
    """Validated arguments as sorted compact JSON, or None when they have no JSON form."""
    try:
        data = model.model_dump(mode="json", by_alias=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (PydanticSerializationError, TypeError, ValueError):
        return None
