"""API keys, each bound to the scopes it may touch.

A grant names a user, an agent or a session (or several); a request is allowed
when some grant of its key names the same value for every field the grant sets.
A request that leaves a granted field out is refused: tiermem reads an absent
id as "any", which would reach past the grant. Keys are compared as SHA-256
digests in constant time; a key file may hold digests only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError
from ..records import MemoryRecord

__all__ = ["ApiKey", "Grant", "KeyRing", "digest", "load_keys", "new_key"]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A random key, for a server started without a key file."""
    return "tm_" + secrets.token_urlsafe(24)


class Grant(BaseModel):
    """A scope a key may touch: the fields it sets must match, the others are free."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str | None = Field(None, min_length=1)
    agent_id: str | None = Field(None, min_length=1)
    session_id: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _names_something(self) -> Self:
        if self.user_id is None and self.agent_id is None and self.session_id is None:
            raise ValueError("a grant names at least one of user_id, agent_id, session_id")
        return self

    def covers(self, user_id: str | None, agent_id: str | None, session_id: str | None) -> bool:
        return all(
            granted is None or granted == asked
            for granted, asked in (
                (self.user_id, user_id),
                (self.agent_id, agent_id),
                (self.session_id, session_id),
            )
        )


class ApiKey(BaseModel):
    """One key: its name (for logs), the key or its SHA-256, and what it may touch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    key: str | None = Field(None, min_length=16, repr=False)
    key_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    scopes: tuple[Grant, ...] = ()
    admin: bool = Field(False, description="every scope, the whole store's stats and export")

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key, key_sha256")
        if not self.admin and not self.scopes:
            raise ValueError("a key needs scopes, or admin = true")
        return self

    @property
    def sha256(self) -> str:
        return self.key_sha256 or digest(self.key or "")

    def allows(self, user_id: str | None, agent_id: str | None, session_id: str | None) -> bool:
        return self.admin or any(g.covers(user_id, agent_id, session_id) for g in self.scopes)

    def owns(self, record: MemoryRecord) -> bool:
        return self.allows(record.user_id, record.agent_id, record.session_id)


class KeyRing:
    """The configured keys, looked up by the digest of what a client sent."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys: tuple[ApiKey, ...] = tuple(keys)
        if not self.keys:
            raise ConfigError("keys: configure at least one API key")
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names):
            raise ConfigError("keys: each key needs its own name")

    def find(self, sent: str | None) -> ApiKey | None:
        if not sent:
            return None
        sent_digest = digest(sent)
        found = None
        for key in self.keys:  # every key compared, in constant time each
            if hmac.compare_digest(key.sha256, sent_digest):
                found = key
        return found


def load_keys(path: str | os.PathLike[str]) -> list[ApiKey]:
    """Keys from a TOML file: ``[[keys]]`` tables with name, key or key_sha256, scopes."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"keys file {os.fspath(path)!r}: {exc}") from None
    entries = data.get("keys")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"keys file {os.fspath(path)!r}: needs [[keys]] tables")
    keys = []
    for i, entry in enumerate(entries):
        try:
            keys.append(ApiKey.model_validate(entry))
        except ValidationError as exc:
            rules = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'key'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise ConfigError(f"keys[{i}]: {rules}") from None
    return keys
