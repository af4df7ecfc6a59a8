"""Who may call a tool, and what a call may show: permissions, approvals, redaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeAlias

__all__ = ["Approval", "Permission", "Redactor", "is_allowed"]

logger = logging.getLogger("tiermem.tools")

#: ``(tool_name, arguments, user_id) -> True | False | "ask"``; anything but True or "ask" denies.
Permission: TypeAlias = Callable[[str, Mapping[str, Any], str | None], bool | Literal["ask"]]
#: ``(tool_name, arguments, user_id) -> bool``, consulted when a permission says "ask".
Approval: TypeAlias = Callable[[str, Mapping[str, Any], str | None], bool]

_MASK = "***"


def is_allowed(
    tool: str,
    arguments: Mapping[str, Any],
    user_id: str | None,
    permission: Permission | None,
    approval: Approval | None,
) -> bool:
    """Ask the permission, then the approval if needed; any doubt or error denies."""
    if permission is None:
        return True
    try:
        verdict = permission(tool, arguments, user_id)
        if verdict == "ask":
            return approval is not None and approval(tool, arguments, user_id) is True
    except Exception as exc:
        # fail closed: a broken policy must not open the door
        logger.warning("permission check for tool %s failed: %s", tool, type(exc).__name__)
        return False
    return verdict is True


class Redactor:
    """Masks the values of sensitive arguments wherever they appear in a text."""

    __slots__ = ("_names", "_secrets")

    def __init__(self, arguments: Mapping[str, Any], sensitive: Iterable[str]) -> None:
        self._names = tuple(sensitive)
        values: set[str] = set()
        for name in self._names:
            if name in arguments:
                _collect(arguments[name], values)
        # longest first, so a secret that contains another is masked whole
        self._secrets = sorted((v for v in values if v), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def mask(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``arguments`` with sensitive values masked (what policies get to see)."""
        return {k: _MASK if k in self._names else v for k, v in arguments.items()}


def _collect(value: object, into: set[str]) -> None:
    if isinstance(value, str):
        # and the escaped forms that repr(), a KeyError or JSON put into messages
        into.update({value, repr(value)[1:-1], ascii(value)[1:-1], json.dumps(value)[1:-1],
                     json.dumps(value, ensure_ascii=False)[1:-1]})  # fmt: skip
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # a PIN is a secret too; a tiny one may mask digits elsewhere: better than a leak
        into.update({str(value), repr(value)})
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, into)
