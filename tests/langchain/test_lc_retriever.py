"""`TieredMemoryRetriever`: LangChain's standard retriever suite, metadata, scopes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_tiermem import TieredMemoryRetriever
from tiermem import MemoryConfig, TieredMemory

FACTS = [
    "Ana moved to Lisbon in May and works as a nurse.",
    "Ana's brother Rui lives in Porto near the river.",
    "Ana prefers green tea to coffee in the morning.",
    "Ana is learning to sail on weekends in Cascais.",
    "Ana's cat is called Miso and is eleven years old.",
]


@pytest.fixture(scope="module")
def filled() -> Iterator[TieredMemory]:
    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        for fact in FACTS:
            mem.remember(fact, user_id="ana", tags=["profile"])
        mem.add_message("user", "Ana asked about ferry times to Porto.", session_id="s1",
                        user_id="ana")  # fmt: skip
        mem.remember("Bo lives in Porto too.", user_id="bo")
        yield mem


class TestTieredMemoryRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _memory(self, filled: TieredMemory) -> None:
        self._filled = filled

    @property
    def retriever_constructor(self) -> type[TieredMemoryRetriever]:
        return TieredMemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"memory": self._filled, "user_id": "ana", "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "Where does Ana live?"


def test_documents_carry_record_metadata(filled: TieredMemory) -> None:
    retriever = TieredMemoryRetriever(memory=filled, user_id="ana", k=2)
    docs = retriever.invoke("Which city did Ana move to?")
    top = docs[0]
    assert isinstance(top, Document)
    assert top.page_content == FACTS[0]
    meta = top.metadata
    assert top.id == meta["id"]
    assert meta["kind"] == "memory"
    assert meta["user_id"] == "ana"
    assert meta["tags"] == ["profile"]
    assert set(meta["score_parts"]) == {"text", "vector", "recency", "importance"}
    assert meta["score"] >= docs[1].metadata["score"]
    assert datetime.fromisoformat(meta["timestamp"]).tzinfo is not None


async def test_scopes_hold(filled: TieredMemory) -> None:
    bo = await TieredMemoryRetriever(memory=filled, user_id="bo", k=10).ainvoke("Porto")
    assert [d.page_content for d in bo] == ["Bo lives in Porto too."]
    session = TieredMemoryRetriever(memory=filled, session_id="s1", k=10)
    assert [d.metadata["kind"] for d in session.invoke("Porto")] == ["turn"]
    tagged = TieredMemoryRetriever(memory=filled, user_id="ana", tags=["profile"], k=10)
    assert all(d.metadata["kind"] == "memory" for d in tagged.invoke("Porto"))
    assert len(tagged.invoke("Porto", k=1)) == 1
