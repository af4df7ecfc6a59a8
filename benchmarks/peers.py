"""Peer memory systems for ``speed.py``, each behind the same three calls.

Every peer gets tiermem's `StaticEmbedder` (wrapped in the peer's own embeddings
class), so the comparison measures the memory systems, not their embedders. The
frameworks are imported only when their peer is built: the mem0 peer runs in a
separate environment where LangChain and LlamaIndex may be missing.

- ``llamaindex``: LlamaIndex `Memory` with a `VectorMemoryBlock` over `SimpleVectorStore`;
- ``lc-vector``: LangChain classic `VectorStoreRetrieverMemory` over `InMemoryVectorStore`;
- ``lc-summary``: LangChain classic `ConversationSummaryBufferMemory` with a fake LLM;
- ``mem0``: mem0 `Memory` with ``infer=False`` (raw turns, no LLM) on in-memory Qdrant.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AGENT",
    "CONTEXT_TOKENS",
    "PEERS",
    "RECENT_TOKENS",
    "TOP_K",
    "Embedder",
    "Message",
    "Peer",
    "make_peer",
]

#: (role, content) of one chat turn.
Message = tuple[str, str]

#: tiermem's default context budget; the peers get the same where they have one.
CONTEXT_TOKENS = 4_000
#: tiermem's default short-term window: the peers' verbatim buffers get the same.
RECENT_TOKENS = 2_000
#: Hits asked of the peers' vector searches (mem0's default ``top_k``).
TOP_K = 20
#: The agent every benchmark turn belongs to: its scope holds every record.
AGENT = "assistant-1"
_SUMMARY = "The human and the AI talked about people, places, plans, prices and dates."

#: name -> label in the report, in report order.
PEERS: dict[str, str] = {
    "llamaindex": "LlamaIndex Memory + VectorMemoryBlock",
    "lc-vector": "LangChain VectorStoreRetrieverMemory",
    "lc-summary": "LangChain ConversationSummaryBufferMemory",
    "mem0": "mem0 (infer=False)",
}


class Embedder(Protocol):
    """The part of tiermem's `Embedder` protocol the wrappers use."""

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class Peer(Protocol):
    """One memory system as the benchmark drives it."""

    label: str
    #: turns per ``add`` call: 2 when the API stores a (human, AI) exchange
    unit: int
    #: whether one ingest answers both per-user and one-scope queries
    shared_scope: bool

    def add(self, user: str, turns: Sequence[Message]) -> None:
        """One call of the peer's own add API with ``unit`` turns."""

    def add_bulk(self, user: str, turns: Sequence[Message]) -> None:
        """Many turns of one user through the peer's bulk path (or its add API)."""

    def context(self, query: str, user: str | None) -> str:
        """What the peer gives a model for ``query``: in ``user``'s scope, or everyone's."""


def make_peer(name: str, embedder: Embedder, *, one_scope: bool = False) -> Peer:
    """A fresh, empty peer; ``one_scope`` puts every user into one memory (unshared peers)."""
    if name == "llamaindex":
        return _LlamaIndexPeer(embedder, one_scope=one_scope)
    if name == "lc-vector":
        return _LangChainVectorPeer(embedder)
    if name == "lc-summary":
        return _LangChainSummaryPeer(one_scope=one_scope)
    if name == "mem0":
        return _Mem0Peer(embedder)
    raise ValueError(f"unknown peer {name!r}; choose among {', '.join(PEERS)}")


def _pairs(turns: Sequence[Message]) -> Iterator[tuple[str, str]]:
    """(input, output) exchanges; an odd last turn gets an empty output."""
    for i in range(0, len(turns), 2):
        yield turns[i][1], turns[i + 1][1] if i + 1 < len(turns) else ""


@cache
def _encode() -> Callable[[str], list[int]]:
    """cl100k_base token ids, offline: tiermem ships the BPE file."""
    from tiermem.tokens import TiktokenCounter

    encoding = TiktokenCounter("cl100k_base").encoding
    return lambda text: encoding.encode(text, disallowed_special=())


# --- LlamaIndex --------------------------------------------------------------------


@cache
def _llama_index_types() -> tuple[type[Any], type[Any]]:
    """The embedding wrapper and a text-keeping `SimpleVectorStore`, built on first use."""
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.schema import BaseNode, TextNode
    from llama_index.core.vector_stores import SimpleVectorStore
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult

    class StaticEmbedding(BaseEmbedding):  # type: ignore[misc]
        _embedder: Any = PrivateAttr()

        def __init__(self, embedder: Embedder) -> None:
            super().__init__(model_name=embedder.name, embed_batch_size=1_000)
            self._embedder = embedder

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            vector: list[float] = self._embedder.embed([text])[0].tolist()
            return vector

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            vectors: list[list[float]] = self._embedder.embed(texts).tolist()
            return vectors

    class TextSimpleVectorStore(SimpleVectorStore):  # type: ignore[misc]
        """`SimpleVectorStore` that also returns the nodes' text.

        `VectorMemoryBlock` refuses a store without ``stores_text`` and SimpleVectorStore
        keeps only vectors; search itself is SimpleVectorStore's, unchanged.
        """

        stores_text: bool = True
        _nodes: dict[str, Any] = PrivateAttr(default_factory=dict)

        def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
            ids: list[str] = super().add(nodes, **kwargs)
            for node in nodes:
                self._nodes[node.node_id] = TextNode(
                    id_=node.node_id, text=node.get_content(), metadata=dict(node.metadata)
                )
            return ids

        def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
            result = super().query(query, **kwargs)
            result.nodes = [self._nodes[i] for i in result.ids or []]
            return result

    return StaticEmbedding, TextSimpleVectorStore


class _LlamaIndexPeer:
    """One `Memory` per user (its session), all on one vector store and one chat store.

    The chat window is tiermem's short-term budget (2,000 of 4,000 tokens); older turns
    are flushed to the `VectorMemoryBlock` 500 tokens at a time, one node per flush.
    """

    label = PEERS["llamaindex"]
    unit = 1
    shared_scope = False  # a Memory only ever sees its own session

    def __init__(self, embedder: Embedder, *, one_scope: bool) -> None:
        from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

        embedding_type, store_type = _llama_index_types()
        self._embedding = embedding_type(embedder)
        self._store = store_type()
        self._chat_store = SQLAlchemyChatStore(table_name="benchmark")
        self._one_scope = one_scope
        self._memories: dict[str, Any] = {}

    def _memory(self, user: str | None) -> Any:
        from llama_index.core.memory import Memory, VectorMemoryBlock

        key = "everyone" if self._one_scope or user is None else user
        memory = self._memories.get(key)
        if memory is None:
            # one block per Memory: a block remembers the first session it filtered on
            block = VectorMemoryBlock(
                vector_store=self._store, embed_model=self._embedding, similarity_top_k=4
            )
            memory = self._memories[key] = Memory.from_defaults(
                session_id=key,
                chat_store=self._chat_store,
                memory_blocks=[block],
                tokenizer_fn=_encode(),
                token_limit=CONTEXT_TOKENS,
                chat_history_token_ratio=RECENT_TOKENS / CONTEXT_TOKENS,
                token_flush_size=500,
            )
        return memory

    def add(self, user: str, turns: Sequence[Message]) -> None:
        from llama_index.core.llms import ChatMessage

        for role, content in turns:
            self._memory(user).put(ChatMessage(role=role, content=content))

    def add_bulk(self, user: str, turns: Sequence[Message]) -> None:
        from llama_index.core.llms import ChatMessage

        messages = [ChatMessage(role=role, content=content) for role, content in turns]
        self._memory(user).put_messages(messages)

    def context(self, query: str, user: str | None) -> str:
        messages = self._memory(user).get(input=query)
        return "\n".join(str(m.content) for m in messages)


# --- LangChain ---------------------------------------------------------------------


@cache
def _langchain_types() -> tuple[type[Any], type[Any]]:
    """The embeddings wrapper and a `VectorStoreRetrieverMemory` that tags its user."""
    from langchain_classic.memory import VectorStoreRetrieverMemory
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

    class StaticEmbeddings(Embeddings):
        def __init__(self, embedder: Embedder) -> None:
            self._embedder = embedder

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors: list[list[float]] = self._embedder.embed(texts).tolist()
            return vectors

        def embed_query(self, text: str) -> list[float]:
            vector: list[float] = self._embedder.embed([text])[0].tolist()
            return vector

    class UserVectorMemory(VectorStoreRetrieverMemory):  # type: ignore[misc]
        """Stores each exchange with its user, so one store serves every user."""

        user_id: str = ""

        def _form_documents(self, inputs: dict[str, Any], outputs: dict[str, str]) -> list[Any]:
            documents: list[Document] = super()._form_documents(inputs, outputs)
            for document in documents:
                document.metadata["user_id"] = self.user_id
            return documents

        def documents(self, exchanges: Sequence[tuple[str, str]]) -> list[Any]:
            """The documents ``save_context`` would write, for a bulk ``add_documents``."""
            return [
                document
                for text, reply in exchanges
                for document in self._form_documents({"input": text}, {"output": reply})
            ]

    return StaticEmbeddings, UserVectorMemory


class _LangChainVectorPeer:
    """One `InMemoryVectorStore`; a memory per user filters on the user, one does not."""

    label = PEERS["lc-vector"]
    unit = 2  # save_context stores a (human, AI) exchange as one document
    shared_scope = True

    def __init__(self, embedder: Embedder) -> None:
        from langchain_core.vectorstores import InMemoryVectorStore

        embeddings_type, self._memory_type = _langchain_types()
        self._store = InMemoryVectorStore(embedding=embeddings_type(embedder))
        self._everyone = self._make(None)
        self._memories: dict[str, Any] = {}

    def _make(self, user: str | None) -> Any:
        search: dict[str, Any] = {"k": TOP_K}
        if user is not None:
            search["filter"] = lambda doc: doc.metadata.get("user_id") == user
        retriever = self._store.as_retriever(search_kwargs=search)
        return self._memory_type(retriever=retriever, input_key="input", user_id=user or "")

    def _memory(self, user: str | None) -> Any:
        if user is None:
            return self._everyone
        memory = self._memories.get(user)
        if memory is None:
            memory = self._memories[user] = self._make(user)
        return memory

    def add(self, user: str, turns: Sequence[Message]) -> None:
        for text, reply in _pairs(turns):
            self._memory(user).save_context({"input": text}, {"output": reply})

    def add_bulk(self, user: str, turns: Sequence[Message]) -> None:
        self._store.add_documents(self._memory(user).documents(list(_pairs(turns))))

    def context(self, query: str, user: str | None) -> str:
        history: str = self._memory(user).load_memory_variables({"input": query})["history"]
        return history


class _LangChainSummaryPeer:
    """One `ConversationSummaryBufferMemory` per user; the fake LLM returns a fixed summary."""

    label = PEERS["lc-summary"]
    unit = 2
    shared_scope = False

    def __init__(self, *, one_scope: bool) -> None:
        from langchain_core.language_models.fake import FakeListLLM

        # token counts offline with cl100k, not GPT-2 through transformers
        self._llm = FakeListLLM(responses=[_SUMMARY], custom_get_token_ids=_encode())
        self._one_scope = one_scope
        self._memories: dict[str, Any] = {}

    def _memory(self, user: str | None) -> Any:
        from langchain_classic.memory import ConversationSummaryBufferMemory

        key = "everyone" if self._one_scope or user is None else user
        memory = self._memories.get(key)
        if memory is None:
            memory = self._memories[key] = ConversationSummaryBufferMemory(
                llm=self._llm, max_token_limit=RECENT_TOKENS, input_key="input"
            )
        return memory

    def add(self, user: str, turns: Sequence[Message]) -> None:
        for text, reply in _pairs(turns):
            self._memory(user).save_context({"input": text}, {"output": reply})

    # no bulk API: an exchange at a time, as an app would feed it
    add_bulk = add

    def context(self, query: str, user: str | None) -> str:
        history: str = self._memory(user).load_memory_variables({"input": query})["history"]
        return history


# --- mem0 --------------------------------------------------------------------------


class _Mem0Peer:
    """mem0 with ``infer=False``: each turn stored verbatim, searched by vector.

    Qdrant and the history database are in memory, mem0's fastest setting (its default
    on-disk layout ingested about ten times slower in a trial). mem0 builds an OpenAI
    client at construction, never called with ``infer=False``; telemetry is off.
    """

    label = PEERS["mem0"]
    unit = 1
    shared_scope = True  # every turn carries its user and the agent

    def __init__(self, embedder: Embedder) -> None:
        os.environ["MEM0_TELEMETRY"] = "False"
        os.environ.setdefault("OPENAI_API_KEY", "unused-offline")
        from mem0 import Memory
        from mem0.embeddings.base import EmbeddingBase

        class StaticEmbedding(EmbeddingBase):  # type: ignore[misc]
            def embed(self, text: str, memory_action: str | None = None) -> list[float]:
                vector: list[float] = embedder.embed([text])[0].tolist()
                return vector

            def embed_batch(
                self, texts: list[str], memory_action: str = "add"
            ) -> list[list[float]]:
                vectors: list[list[float]] = embedder.embed(texts).tolist()
                return vectors

        store = {
            "collection_name": "benchmark",
            "embedding_model_dims": embedder.dimensions,
            "path": ":memory:",
        }
        self._memory = Memory.from_config(
            {"vector_store": {"provider": "qdrant", "config": store}, "history_db_path": ":memory:"}
        )
        # mem0 has no embedder slot for an object from outside: replace the one it built
        self._memory.embedding_model = StaticEmbedding()

    def add(self, user: str, turns: Sequence[Message]) -> None:
        messages = [{"role": role, "content": content} for role, content in turns]
        self._memory.add(messages, user_id=user, agent_id=AGENT, infer=False)

    # add() takes a list of turns: the same call is mem0's bulk path
    add_bulk = add

    def context(self, query: str, user: str | None) -> str:
        filters = {"user_id": user} if user is not None else {"agent_id": AGENT}
        found = self._memory.search(query, filters=filters, top_k=TOP_K)
        return "\n".join(hit["memory"] for hit in found["results"])
