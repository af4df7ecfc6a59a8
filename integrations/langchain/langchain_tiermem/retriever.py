"""`TieredMemoryRetriever`: tiermem's hybrid search as a LangChain retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

import tiermem

__all__ = ["TieredMemoryRetriever", "hit_to_document"]


def hit_to_document(hit: tiermem.SearchHit) -> Document:
    """A search hit as a `Document`: the verbatim text, where it came from and why it ranks."""
    record = hit.record
    parts = hit.parts
    metadata: dict[str, Any] = {
        "id": record.id,
        "kind": record.kind.value,
        "score": hit.score,
        "score_parts": {
            "text": parts.text,
            "vector": parts.vector,
            "recency": parts.recency,
            "importance": parts.importance,
        },
        "timestamp": record.timestamp.isoformat(),
        "session_id": record.session_id,
        "user_id": record.user_id,
        "agent_id": record.agent_id,
        "role": record.role,
        "importance": record.importance,
        "tags": list(record.tags),
    }
    if record.metadata:
        metadata["metadata"] = dict(record.metadata)
    return Document(id=record.id, page_content=record.text, metadata=metadata)


class TieredMemoryRetriever(BaseRetriever):
    """Searches tiermem's long-term tier (BM25 and vectors, fused) within a scope.

    ``k`` may also be given per call: ``retriever.invoke(query, k=3)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: tiermem.TieredMemory
    k: int = Field(default=4, ge=1, le=10_000)
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    tags: list[str] | None = None

    @property
    def scope(self) -> tiermem.Scope:
        """Whose records the search spans."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        hits = self.memory.search(query, k=k or self.k, scope=self.scope, tags=self.tags)
        return [hit_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        hits = await self.memory.asearch(query, k=k or self.k, scope=self.scope, tags=self.tags)
        return [hit_to_document(hit) for hit in hits]
