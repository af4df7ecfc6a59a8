"""The core's one message model: the empty-content rule, truncation, the token count,
and the prompt summarizer and function embedder the framework adapters wrap."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tiermem import Kind, MemoryConfig, MemoryRecord, Summarizer, TieredMemory, TiktokenCounter
from tiermem.embeddings import Embedder, FunctionEmbedder
from tiermem.medium_term import PromptSummarizer
from tiermem.messages import (
    PLACEHOLDER,
    TRUNCATED,
    ChatMessage,
    Turn,
    chat_message,
    exact_tokens,
    message_tokens,
    split_context,
    to_turn,
    truncate,
    turn_content,
)

COUNTER = TiktokenCounter("cl100k_base")
CALL = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}


def _record(role: str, text: str, metadata: dict[str, object] | None = None) -> MemoryRecord:
    return MemoryRecord(id="r", kind=Kind.TURN, text=text, timestamp=datetime.now(UTC),
                        role=role, metadata=metadata or {})  # fmt: skip


@pytest.mark.parametrize("role", ["user", "system", "assistant"])
def test_empty_content_the_core_refuses_is_stored_as_a_flagged_stand_in(role: str) -> None:
    turn = to_turn(role, "  ", {"name": "Ana"})
    assert turn.content == f"[empty {role} message]"
    assert turn.metadata == {"name": "Ana", PLACEHOLDER: True}
    with TieredMemory("memory://") as mem:
        record = mem.add_message(turn.role, turn.content, metadata=turn.metadata)
        assert turn_content(record) == ""
        context = mem.build_context()
        assert context.messages[-1]["content"] == ""  # the rendered context agrees


def test_turns_that_may_be_empty_are_stored_as_they_are() -> None:
    assert to_turn("assistant", "", {"tool_calls": [CALL]}) == Turn(
        "assistant", "", {"tool_calls": [CALL]}
    )
    assert to_turn("tool", "", {"tool_call_id": "c1"}).content == ""
    assert to_turn("user", "hi").content == "hi"


@pytest.mark.parametrize(
    ("role", "text", "metadata"),
    [
        ("user", "(empty)", {}),
        ("tool", "(no output)", {"tool_call_id": "c1"}),
        ("assistant", "(calls lookup)", {"tool_calls": [CALL]}),
        ("user", "[empty user message]", {PLACEHOLDER: True}),
    ],
)
def test_stand_ins_of_earlier_versions_read_back_empty(
    role: str, text: str, metadata: dict[str, object]
) -> None:
    assert turn_content(_record(role, text, metadata)) == ""


def test_a_text_that_only_looks_like_a_stand_in_is_kept() -> None:
    assert turn_content(_record("user", "(calls lookup)")) == "(calls lookup)"
    assert turn_content(_record("user", "[empty user message]")) == "[empty user message]"


def test_message_tokens_count_tool_calls_and_the_call_id() -> None:
    plain = message_tokens(COUNTER, ChatMessage(role="assistant", content="ok"))
    calling = message_tokens(COUNTER, chat_message("assistant", "ok", {"tool_calls": [CALL]}))
    assert calling > plain
    tool = chat_message("tool", "42", {"tool_call_id": "c1"})
    assert tool["tool_call_id"] == "c1"
    assert message_tokens(COUNTER, tool) == COUNTER.count_message("tool", "42") + COUNTER.count(
        "c1"
    )
    assert exact_tokens(COUNTER, [tool]) == message_tokens(COUNTER, tool) + 3
    assert exact_tokens(COUNTER, []) == 0


def test_truncate_text_keeps_whole_words() -> None:
    assert truncate("short", max_tokens=10, counter=COUNTER) == "short"
    assert truncate("one two three four five six", max_tokens=3, counter=COUNTER) == "one two three"
    assert truncate("one two three", max_tokens=0, counter=COUNTER) == ""
    assert COUNTER.count(truncate("x" * 500, max_tokens=4, counter=COUNTER)) <= 4  # one long word
    long = " ".join(f"word{n}" for n in range(5_000))
    cut = truncate(long, max_tokens=100, counter=COUNTER)
    assert COUNTER.count(cut) <= 100
    assert long.startswith(cut)
    assert long[len(cut)] == " "


@pytest.mark.parametrize("words", [300, 5_000])
def test_truncate_turn_fits_and_says_how_much_was_cut(words: int) -> None:
    text = " ".join(f"row{n}=value" for n in range(words))
    turn = to_turn("tool", text, {"tool_call_id": "c1"})
    cut = truncate(turn, max_tokens=200, counter=COUNTER)
    assert cut is not None
    assert 190 <= message_tokens(COUNTER, cut.chat()) <= 200  # near the limit, not far below
    dropped = cut.metadata[TRUNCATED]
    assert cut.content.endswith(f"\n…[truncated {dropped} tokens]")
    kept = cut.content.rsplit("\n…[truncated", 1)[0]
    assert text.startswith(kept)
    assert dropped == COUNTER.count(text) - COUNTER.count(kept)
    assert cut.metadata["tool_call_id"] == "c1"
    assert truncate(cut, max_tokens=200, counter=COUNTER) == cut  # fits: unchanged


def test_truncate_turn_gives_up_when_the_tool_calls_fill_it() -> None:
    calls = [{**CALL, "id": f"c{n}"} for n in range(20)]
    turn = to_turn("assistant", "text " * 100, {"tool_calls": calls})
    assert truncate(turn, max_tokens=100, counter=COUNTER) is None


def _records() -> list[MemoryRecord]:
    return [_record("user", "I moved to Lisbon in May.")]


def test_prompt_summarizer_prompts_with_the_budget_and_cuts_the_answer() -> None:
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        return "  Ana moved to Lisbon in May. " * 40

    summarizer = PromptSummarizer(complete)
    assert isinstance(summarizer, Summarizer)
    text = summarizer.summarize(_records(), max_tokens=20, token_counter=COUNTER)
    assert "at most 20 tokens" in prompts[0]
    assert "user: I moved to Lisbon" in prompts[0]
    assert text.startswith("Ana moved")
    assert 0 < COUNTER.count(text) <= 20


async def test_prompt_summarizer_awaits_acomplete_or_runs_complete_in_a_thread() -> None:
    async def acomplete(prompt: str) -> str:
        return "async answer"

    native = PromptSummarizer(lambda p: "sync answer", acomplete=acomplete)
    threaded = PromptSummarizer(lambda p: "sync answer")
    assert await native.asummarize(_records(), max_tokens=9, token_counter=COUNTER) == (
        "async answer"
    )
    assert await threaded.asummarize(_records(), max_tokens=9, token_counter=COUNTER) == (
        "sync answer"
    )


def _vectors(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0, 0.0] for t in texts]


def test_function_embedder_normalizes_validates_and_probes_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return _vectors(texts)

    embedder = FunctionEmbedder(embed, name="fn")
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dimensions, embedder.dimensions) == ("fn", 3, 3)
    assert len(calls) == 1  # probed once
    rows = embedder.embed(["a", "abcd"])
    assert rows.dtype == np.float32
    assert rows.shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)
    assert embedder.embed([]).shape == (0, 3)
    wrong = FunctionEmbedder(embed, name="fn", dimensions=4)
    with pytest.raises(ValueError, match="shape"):
        wrong.embed(["x"])


async def test_function_embedder_aembed_native_or_threaded() -> None:
    async def aembed(texts: list[str]) -> list[list[float]]:
        return _vectors(texts)

    native = FunctionEmbedder(_vectors, name="fn", aembed=aembed)
    threaded = FunctionEmbedder(_vectors, name="fn")
    np.testing.assert_array_equal(await native.aembed(["ab"]), await threaded.aembed(["ab"]))
    assert native.dimensions == 3  # seen in the first batch: no probe


def test_function_embedder_and_prompt_summarizer_in_a_memory() -> None:
    config = MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 60},
        medium_term={"trigger_tokens": 30, "summary_tokens": 40},
    )
    summarizer = PromptSummarizer(lambda prompt: "Ana lives in Lisbon.")
    embedder = FunctionEmbedder(_vectors, name="lengths")
    with TieredMemory("memory://", config=config, embedder=embedder, summarizer=summarizer) as mem:
        for n in range(7):
            mem.add_message("user", f"Message {n}: I moved to Lisbon in May.", session_id="s")
        kinds = {r.kind for r in mem.records(session_id="s")}
    assert Kind.SUMMARY in kinds


def test_split_context_gives_the_memory_messages_and_the_recent_records() -> None:
    config = MemoryConfig(tokenizer="cl100k_base")
    with TieredMemory("memory://", config=config) as mem:
        mem.remember("Ana lives in Lisbon", user_id="u")
        first = mem.add_message("user", "Where do I live?", session_id="s", user_id="u")
        second = mem.add_message("assistant", "In Lisbon.", session_id="s", user_id="u")
        context = mem.build_context("Where do I live?", session_id="s", user_id="u")
    memory, recent = split_context(context)
    assert [m["role"] for m in memory] == ["system"]
    assert "Ana lives in Lisbon" in memory[0]["content"]
    assert [r.id for r in recent] == [first.id, second.id]
