"""The exception tree: every error tiermem raises derives from `TieredMemoryError`.

```
TieredMemoryError
├── ConfigError            (also ValueError)  a configuration value broke a rule
├── InvalidInputError      (also ValueError)  an argument to a call broke a rule
│   └── MessageTooLargeError                  content larger than any context can hold
├── NotFoundError          (also KeyError)    no record with that id in this store
│   └── tools.UnknownToolError                no tool of that name in the registry
├── tools.ToolRegistrationError (also ValueError) a tool's name or signature broke a rule
├── tools.ToolCallError                       a tool call failed and raising was asked for
├── TokenizerError         (also RuntimeError) the tokenizer could not be loaded
└── StoreError             (also RuntimeError) the LanceDB store failed or refused
    └── SchemaVersionError                    the store was written by another schema
```
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InvalidInputError",
    "MessageTooLargeError",
    "NotFoundError",
    "SchemaVersionError",
    "StoreError",
    "TieredMemoryError",
    "TokenizerError",
]


class TieredMemoryError(Exception):
    """Base class of every error raised by tiermem."""


class ConfigError(TieredMemoryError, ValueError):
    """A configuration value is invalid; the message names the field and the rule."""


class InvalidInputError(TieredMemoryError, ValueError):
    """An argument is invalid; the message names the argument and the rule.

    Raised before anything is written, so the store is unchanged.
    """

    def __init__(self, argument: str, rule: str) -> None:
        self.argument = argument
        self.rule = rule
        super().__init__(f"{argument}: {rule}")


class MessageTooLargeError(InvalidInputError):
    """A message has more tokens than the largest context the memory may build."""


class NotFoundError(TieredMemoryError, KeyError):
    """No record with the given id exists in this store."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a sentence reads better.
        return str(self.args[0]) if self.args else "not found"


class TokenizerError(TieredMemoryError, RuntimeError):
    """The configured tokenizer could not be loaded offline."""


class StoreError(TieredMemoryError, RuntimeError):
    """The LanceDB store could not be opened, read or written."""


class SchemaVersionError(StoreError):
    """The store was written with a schema this version of tiermem cannot read."""
