"""Token counting is exact, offline, and leaves the user's environment alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken

import tiermem.tokens
from tiermem import ConfigError, TiktokenCounter, TokenCounter
from tiermem.messages import ChatMessage, exact_tokens
from tiermem.tokens import (
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    CachedCounter,
    seed_tiktoken_cache,
)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_counts_match_tiktoken(name: str) -> None:
    counter = TiktokenCounter(name)
    text = "Où est la bibliothèque? 東京 2023-05-08 <|endoftext|> 🙂"
    expected = len(tiktoken.get_encoding(name).encode(text, disallowed_special=()))
    assert counter.count(text) == expected
    assert isinstance(counter, TokenCounter)


def test_model_names_resolve_to_encodings() -> None:
    assert TiktokenCounter("gpt-4o").name == "o200k_base"
    assert TiktokenCounter("gpt-4").name == "cl100k_base"
    with pytest.raises(ConfigError, match="tokenizer"):
        TiktokenCounter("no-such-model")


class _Tally(TiktokenCounter):
    """The real counter, recording every string it is asked to encode."""

    def __init__(self) -> None:
        super().__init__("cl100k_base")
        self.encoded: list[str] = []

    def count(self, text: str) -> int:
        self.encoded.append(text)
        return super().count(text)


def test_cached_counter_counts_like_its_counter_and_encodes_each_string_once() -> None:
    inner = _Tally()
    cached = CachedCounter(inner, max_items=3)
    texts = ["Caroline: I went to the LGBTQ support group", "12:30 Caroline", "Caroline"]
    for _ in range(3):
        assert [cached.count(t) for t in texts] == [TiktokenCounter("cl100k_base").count(t)
                                                    for t in texts]  # fmt: skip
    assert inner.encoded == texts  # the second and third rounds came from the cache
    message = cached.count_message("user", texts[0])
    assert message == inner.count_message("user", texts[0])
    assert isinstance(cached, TokenCounter)
    assert cached.name == "cl100k_base"
    inner.encoded.clear()
    cached.count("a fourth string")  # over max_items: the cache starts again
    cached.count(texts[0])
    assert inner.encoded == ["a fourth string", texts[0]]


def test_message_overhead_and_reply_priming() -> None:
    counter = TiktokenCounter("cl100k_base")
    one = counter.count_message("user", "hello there")
    assert one == MESSAGE_OVERHEAD + counter.count("user") + counter.count("hello there")
    messages = [
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="hello"),
    ]
    total = exact_tokens(counter, messages)
    assert total == sum(counter.count_message(m["role"], m["content"]) for m in messages) + (
        REPLY_PRIMING
    )
    assert exact_tokens(counter, []) == 0


def test_count_messages_is_a_deprecated_alias_of_exact_tokens() -> None:
    counter = TiktokenCounter("cl100k_base")
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    with pytest.warns(DeprecationWarning, match="exact_tokens"):
        count_messages = tiermem.tokens.count_messages
    assert count_messages(counter, messages) == exact_tokens(
        counter, [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    )


def test_seeding_writes_into_the_users_cache_dir_without_changing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    folder = seed_tiktoken_cache()
    assert folder == tmp_path
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path)
    assert len(list(tmp_path.iterdir())) == 2  # both shipped encodings


def test_third_party_get_encoding_works_offline_in_a_fresh_process(tmp_path: Path) -> None:
    # a fresh cache folder and no network: only the seeded files can satisfy tiktoken
    script = (
        "import socket\n"
        "def deny(*a, **k): raise OSError('network disabled')\n"
        "socket.socket.connect = deny\n"
        "socket.getaddrinfo = deny\n"
        "from tiermem import TiktokenCounter\n"
        "TiktokenCounter('cl100k_base')\n"
        "import tiktoken\n"
        "print(len(tiktoken.get_encoding('o200k_base').encode('hello world')))\n"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "2"
