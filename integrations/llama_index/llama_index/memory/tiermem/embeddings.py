"""`LlamaIndexEmbedder`: any LlamaIndex `BaseEmbedding` as a tiermem `Embedder`."""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding

from tiermem.embeddings import FunctionEmbedder

__all__ = ["LlamaIndexEmbedder"]


class LlamaIndexEmbedder(FunctionEmbedder):
    """Embeds with ``get_text_embedding_batch`` (``aget_text_embedding_batch`` in async
    calls); shapes, unit rows and the one probe of ``dimensions`` are the core's
    `tiermem.embeddings.FunctionEmbedder`."""

    def __init__(self, embed_model: BaseEmbedding, *, name: str | None = None) -> None:
        self.embed_model = embed_model
        super().__init__(
            embed_model.get_text_embedding_batch,
            aembed=embed_model.aget_text_embedding_batch,
            name=name or f"llama-index/{embed_model.class_name()}/{embed_model.model_name}",
        )
