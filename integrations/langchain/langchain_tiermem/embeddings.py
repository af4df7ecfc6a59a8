"""`LangChainEmbedder`: any LangChain `Embeddings` as tiermem's `Embedder`."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from tiermem.embeddings import normalize_rows

__all__ = ["LangChainEmbedder"]

_PROBE = "dimension probe"
_MODEL_ATTRIBUTES = ("model", "model_name", "model_id", "deployment")


def _model_name(embeddings: Embeddings) -> str:
    for attribute in _MODEL_ATTRIBUTES:
        value = getattr(embeddings, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


class LangChainEmbedder:
    """Wraps `Embeddings.embed_documents`; rows come back float32 and of unit length.

    ``name`` defaults to the class and model (a store refuses vectors of another
    model, so changing it means a new store); ``dimensions`` is probed once with
    one embedding call unless given.
    """

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        name: str | None = None,
        dimensions: int | None = None,
    ) -> None:
        self.embeddings = embeddings
        model = _model_name(embeddings)
        self._name = name or "/".join(
            part for part in ("langchain", type(embeddings).__name__, model) if part
        )
        self._dimensions = dimensions
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            with self._lock:
                if self._dimensions is None:
                    self._dimensions = len(self.embeddings.embed_query(_PROBE))
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimensions):
            raise ValueError(
                f"{type(self.embeddings).__name__} returned vectors of shape {vectors.shape}, "
                f"expected {(len(texts), self.dimensions)}"
            )
        return normalize_rows(vectors)

    def __repr__(self) -> str:
        return f"LangChainEmbedder({self._name!r})"
