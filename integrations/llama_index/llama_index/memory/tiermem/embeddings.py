"""`LlamaIndexEmbedder`: any LlamaIndex `BaseEmbedding` as a tiermem `Embedder`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from numpy.typing import NDArray

from tiermem.embeddings import normalize_rows

__all__ = ["LlamaIndexEmbedder"]

_PROBE = "dimension probe"


class LlamaIndexEmbedder:
    """Embeds with ``embed_model.get_text_embedding_batch``; rows float32 of unit length.

    The dimensions are probed once, with one embedding, the first time they are asked
    for (tiermem asks when it opens its store).
    """

    def __init__(self, embed_model: BaseEmbedding, *, name: str | None = None) -> None:
        self.embed_model = embed_model
        self._name = name or f"llama-index/{embed_model.class_name()}/{embed_model.model_name}"
        self._dimensions: int | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = len(self.embed_model.get_text_embedding(_PROBE))
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.embed_model.get_text_embedding_batch(list(texts))
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        self._dimensions = self._dimensions or matrix.shape[1]
        return normalize_rows(matrix)

    def __repr__(self) -> str:
        return f"LlamaIndexEmbedder({self._name!r})"
