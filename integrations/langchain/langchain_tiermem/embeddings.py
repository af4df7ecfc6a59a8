"""`LangChainEmbedder`: any LangChain `Embeddings` as tiermem's `Embedder`."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from tiermem.embeddings import FunctionEmbedder

__all__ = ["LangChainEmbedder"]

_MODEL_ATTRIBUTES = ("model", "model_name", "model_id", "deployment")


def _model_name(embeddings: Embeddings) -> str:
    for attribute in _MODEL_ATTRIBUTES:
        value = getattr(embeddings, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


class LangChainEmbedder(FunctionEmbedder):
    """Embeds with ``embed_documents`` (``aembed_documents`` in async calls).

    ``name`` defaults to the class and model (a store refuses vectors of another
    model, so changing it means a new store); shapes, unit rows and the one probe of
    ``dimensions`` are the core's `tiermem.embeddings.FunctionEmbedder`.
    """

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        name: str | None = None,
        dimensions: int | None = None,
    ) -> None:
        self.embeddings = embeddings
        parts = ("langchain", type(embeddings).__name__, _model_name(embeddings))
        super().__init__(
            embeddings.embed_documents,
            aembed=embeddings.aembed_documents,
            name=name or "/".join(part for part in parts if part),
            dimensions=dimensions,
        )
