"""LangChain parts plugged into tiermem: `LangChainEmbedder`, `ChatModelSummarizer`."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from lc_fakes import COUNTER, scripted

from langchain_tiermem import ChatModelSummarizer, LangChainEmbedder
from tiermem import Embedder, Kind, MemoryConfig, MemoryRecord, Summarizer, TieredMemory


def test_embedder_protocol_and_unit_rows() -> None:
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=32))
    assert isinstance(embedder, Embedder)
    assert embedder.name == "langchain/DeterministicFakeEmbedding"
    assert embedder.dimensions == 32
    vectors = embedder.embed(["a cat", "a dog", "a cat"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert embedder.embed([]).shape == (0, 32)


def test_embedder_in_a_memory() -> None:
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=16), name="fake-16")
    config = MemoryConfig(tokenizer="cl100k_base")
    with TieredMemory("memory://", config=config, embedder=embedder) as mem:
        mem.remember("Exact sentence that is stored", user_id="u")
        hits = mem.search("Exact sentence that is stored", user_id="u", k=1)
        assert hits[0].parts.vector == pytest.approx(1.0, abs=1e-5)


def test_embedder_refuses_wrong_shapes() -> None:
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=8), dimensions=9)
    with pytest.raises(ValueError, match="shape"):
        embedder.embed(["x"])


def test_summarizer_sync_async_and_truncation() -> None:
    long_reply = " ".join(f"fact{n} about the trip to Porto." for n in range(60))
    model = scripted("Ana moved to Lisbon in May.", long_reply)
    summarizer = ChatModelSummarizer(model)
    assert isinstance(summarizer, Summarizer)
    config = MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 60},
        medium_term={"trigger_tokens": 30, "summary_tokens": 40},
    )
    with TieredMemory("memory://", config=config, summarizer=summarizer) as mem:
        for n in range(7):  # two folds: turns 0-3 after the fifth, 4-5 after the seventh
            mem.add_message("user", f"Message {n}: I moved to Lisbon in May with my two cats.",
                            session_id="s")  # fmt: skip
        (prompt,) = model.received[0]  # one message: the core's prompt
        assert "at most 40 tokens" in prompt.text
        assert "I moved to Lisbon" in prompt.text
        summaries = mem.search("Lisbon", session_id="s", k=50)
        texts = [h.record.text for h in summaries if h.record.kind.value == "summary"]
        assert "Ana moved to Lisbon in May." in texts
        assert all(COUNTER.count(t) <= 40 for t in texts)
        assert any(t.startswith("fact0 about") for t in texts)  # cut, not dropped


async def test_async_summarize_uses_ainvoke() -> None:
    model = scripted("A short summary.")
    summarizer = ChatModelSummarizer(model)
    record = MemoryRecord(id="r1", kind=Kind.TURN, text="hello there", timestamp=datetime.now(UTC),
                          role="user")  # fmt: skip
    text = await summarizer.asummarize([record], max_tokens=3, token_counter=COUNTER)
    assert text == "A short summary."[: len(text)]
    assert COUNTER.count(text) <= 3


def test_instructions_of_earlier_versions_still_work_with_a_warning() -> None:
    model = scripted("A summary.")
    with pytest.warns(DeprecationWarning, match="prompt="):
        summarizer = ChatModelSummarizer(model, instructions="Sum up in {max_tokens} tokens.")
    record = MemoryRecord(id="r1", kind=Kind.TURN, text="hello there", timestamp=datetime.now(UTC),
                          role="user")  # fmt: skip
    assert summarizer.summarize([record], max_tokens=9, token_counter=COUNTER) == "A summary."
    (prompt,) = model.received[0]
    assert prompt.text.startswith("Sum up in 9 tokens.")
    assert "user: hello there" in prompt.text
