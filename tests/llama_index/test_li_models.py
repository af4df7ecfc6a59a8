"""LlamaIndex models inside tiermem: `BaseEmbedding` as Embedder, `LLM` as Summarizer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from llama_index.core.base.llms.types import CompletionResponse
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.memory.tiermem import LlamaIndexEmbedder, LLMSummarizer

import tiermem


class CountingEmbedding(MockEmbedding):
    """MockEmbedding that counts how many texts it embedded."""

    calls: int = 0

    def _get_text_embedding(self, text: str) -> list[float]:
        self.calls += 1
        return [float(len(text)), 1.0, 2.0, 0.0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [self._get_text_embedding(t) for t in texts]


class Wordy(MockLLM):
    """Answers with far more than it was asked for, sync and async."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="Ana moved to Lisbon in May 2021. " * 50)


def test_embedder_is_an_embedder_with_unit_float32_rows() -> None:
    model = CountingEmbedding(embed_dim=4)
    embedder = LlamaIndexEmbedder(model)
    assert isinstance(embedder, tiermem.Embedder)
    assert embedder.name == "llama-index/MockEmbedding/unknown"
    assert embedder.dimensions == 4
    assert embedder.dimensions == 4
    assert model.calls == 1  # probed once
    vectors = embedder.embed(["a", "abcd", "abcdefgh"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert embedder.embed([]).shape == (0, 4)


def test_summarizer_trims_to_the_budget_sync_and_async() -> None:
    counter = tiermem.TiktokenCounter("cl100k_base")
    summarizer = LLMSummarizer(Wordy(max_tokens=None))
    assert isinstance(summarizer, tiermem.Summarizer)
    record = tiermem.MemoryRecord(
        id="r1",
        kind=tiermem.Kind.TURN,
        text="I moved.",
        role="user",
        timestamp=datetime(2024, 5, 1, tzinfo=UTC),
    )
    text = summarizer.summarize([record], max_tokens=20, token_counter=counter)
    assert text.startswith("Ana moved to Lisbon")
    assert 0 < counter.count(text) <= 20


async def test_tiermem_awaits_the_llm_summarizer_in_async_calls(
    li_config: tiermem.MemoryConfig,
) -> None:
    embedder = LlamaIndexEmbedder(MockEmbedding(embed_dim=8))
    with tiermem.TieredMemory(
        "memory://",
        config=li_config,
        embedder=embedder,
        summarizer=LLMSummarizer(Wordy(max_tokens=None)),
    ) as mem:
        for i in range(40):
            await mem.aadd_message("user", f"Message {i} about the garden.", session_id="s")
        summaries = [
            hit.record
            for hit in await mem.asearch("Lisbon", session_id="s")
            if hit.record.kind is tiermem.Kind.SUMMARY
        ]
    assert summaries
    limit = li_config.medium_term.summary_tokens
    assert all(s.text.startswith("Ana moved") for s in summaries)
    assert all(mem.token_counter.count(s.text) <= limit for s in summaries)
