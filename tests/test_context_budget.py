"""The hard guarantee: a context never exceeds its budget, whatever the inputs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiermem import MemoryConfig, TieredMemory
from tiermem.context import exact_tokens

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=300,
).filter(lambda s: s.strip())


@pytest.fixture(scope="module")
def varied() -> Iterator[TieredMemory]:
    config = MemoryConfig(tokenizer="cl100k_base", short_term={"max_tokens": 300},
                          medium_term={"trigger_tokens": 200})  # fmt: skip
    samples = [
        "short", "Ünïcödé ☃ 東京 🙂 " * 5, "line one\nline two\n\n\tindented", "x" * 900,
        "The meeting is on 2024-05-08 at 13:56 with Dr. O'Neil.", "<|endoftext|> tokens",
        "\n\n\n", "a.b.c.d.e.f " * 40, "Ok.", "🙂" * 60,
    ]  # fmt: skip
    mem = TieredMemory("memory://", config=config)
    for i in range(60):
        role = ("user", "assistant")[i % 2]
        mem.add_message(role, samples[i % len(samples)] + f" #{i}", session_id="s", user_id="u")
    mem.remember("Prefers tea over coffee", user_id="u", importance=0.9)
    yield mem
    mem.close()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.one_of(st.none(), TEXT), budget=st.integers(1, 3000))
def test_context_never_exceeds_budget(varied: TieredMemory, query: str | None,
                                      budget: int) -> None:  # fmt: skip
    ctx = varied.build_context(query, session_id="s", user_id="u", max_tokens=budget)
    assert ctx.token_count <= budget
    assert ctx.token_count == exact_tokens(varied.token_counter, ctx.messages)
    for message in ctx.messages[1:]:
        assert message["role"] in {"user", "assistant"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT, min_size=1, max_size=6), budget=st.integers(1, 600))
def test_any_conversation_fits(texts: list[str], budget: int) -> None:
    with TieredMemory("memory://", config=MemoryConfig(short_term={"max_tokens": 100})) as mem:
        for text in texts:
            mem.add_message("user", text)
        ctx = mem.build_context(texts[-1], max_tokens=budget)
        assert ctx.token_count <= budget
        assert ctx.token_count == exact_tokens(mem.token_counter, ctx.messages)
        newest = ctx.messages[-1]["content"] if ctx.messages else None
        if mem.token_counter.count_message("user", texts[-1]) + 3 <= budget:
            assert newest == texts[-1]  # the newest turn is kept whenever it can be
