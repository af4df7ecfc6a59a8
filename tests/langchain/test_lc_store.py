"""`TieredMemoryStore`: LangGraph's store operations over tiermem, and in a real agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.config import get_store
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from lc_fakes import scripted

from langchain_tiermem import TieredMemoryStore
from tiermem import MemoryConfig, TieredMemory


@pytest.fixture
def store() -> Iterator[TieredMemoryStore]:
    with TieredMemory("memory://", config=MemoryConfig(tokenizer="cl100k_base")) as mem:
        yield TieredMemoryStore(mem, user_id="u1", fields=["text"])


def test_put_get_replace_delete(store: TieredMemoryStore) -> None:
    ns = ("memories", "u1")
    store.put(ns, "tea", {"text": "Likes green tea", "n": 1})
    first = store.get(ns, "tea")
    assert first is not None
    assert first.value == {"text": "Likes green tea", "n": 1}
    assert (first.namespace, first.key) == (ns, "tea")
    store.put(ns, "tea", {"text": "Likes black coffee now", "n": 2})
    second = store.get(ns, "tea")
    assert second is not None
    assert second.value["n"] == 2
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert store.memory.stats()["memories"] == 1  # replaced in place, not added
    assert store.get(ns, "other") is None
    assert store.get(("memories", "u2"), "tea") is None
    store.delete(ns, "tea")
    assert store.get(ns, "tea") is None
    assert store.memory.stats()["memories"] == 0


def test_search_prefix_query_filter_and_paging(store: TieredMemoryStore) -> None:
    store.put(("docs", "a"), "1", {"text": "The ferry to Porto leaves at nine", "stars": 5})
    store.put(("docs", "a"), "2", {"text": "Bake bread with rye flour", "stars": 3})
    store.put(("docs", "b"), "3", {"text": "Porto wine cellars open at ten", "stars": 4})
    store.put(("other",), "4", {"text": "Porto is in the north", "stars": 5})
    hits = store.search(("docs",), query="Porto ferry")
    assert [h.key for h in hits][:2] == ["1", "3"]
    assert all(h.score is not None for h in hits)
    assert "4" not in {h.key for h in hits}
    assert [h.key for h in store.search(("docs", "a"))] == ["2", "1"]  # newest first
    assert {h.key for h in store.search((), filter={"stars": 5})} == {"1", "4"}
    assert {h.key for h in store.search(("docs",), filter={"stars": {"$gte": 4}})} == {"1", "3"}
    assert [h.key for h in store.search(("docs",), query="Porto", filter={"stars": 3})] == ["2"]
    assert len(store.search(("docs",), limit=1, offset=1)) == 1
    assert store.search(("nothing",)) == []


def test_list_namespaces(store: TieredMemoryStore) -> None:
    for ns in [("a", "x", "1"), ("a", "y"), ("b", "x"), ("b", "x", "2")]:
        store.put(ns, "k", {"text": "v"})
    assert store.list_namespaces() == [("a", "x", "1"), ("a", "y"), ("b", "x"), ("b", "x", "2")]
    assert store.list_namespaces(prefix=("a",)) == [("a", "x", "1"), ("a", "y")]
    assert store.list_namespaces(suffix=("x",)) == [("b", "x")]
    assert store.list_namespaces(prefix=("*", "x")) == [
        ("a", "x", "1"),
        ("b", "x"),
        ("b", "x", "2"),
    ]
    assert store.list_namespaces(max_depth=1) == [("a",), ("b",)]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "y"), ("b", "x")]
    ops = [ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("b",)),), max_depth=2)]
    assert store.batch(ops) == [[("b", "x")]]


def test_batch_runs_in_order_and_validates(store: TieredMemoryStore) -> None:
    ns = ("n",)
    results = store.batch([
        PutOp(ns, "k", {"text": "one"}),
        GetOp(ns, "k"),
        PutOp(ns, "k", None),
        GetOp(ns, "k"),
        SearchOp(ns),
    ])  # fmt: skip
    assert results[0] is None
    assert results[1] is not None
    assert results[1].value == {"text": "one"}
    assert results[2:] == [None, None, []]
    with pytest.raises(InvalidNamespaceError):
        store.put((), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.put(("ok", ""), "k", {"text": "x"})


def test_items_are_tiermem_memories_in_the_users_scope(store: TieredMemoryStore) -> None:
    store.put(("profile",), "city", {"text": "Lives in Lisbon since May", "source": "chat"})
    store.put(("profile",), "silent", {"text": "Hidden from search text"}, index=False)
    hits = store.memory.search("Where does the user live?", user_id="u1", k=1)
    assert hits[0].record.text == "Lives in Lisbon since May"
    assert store.memory.search("Lisbon", user_id="someone-else") == []
    context = store.memory.build_context("where do I live?", session_id="x", user_id="u1")
    assert "Lives in Lisbon since May" in context.text
    silent = store.get(("profile",), "silent")
    assert silent is not None
    assert silent.value == {"text": "Hidden from search text"}


def test_listings_stay_in_the_stores_scope(store: TieredMemoryStore) -> None:
    mem = store.memory
    other = TieredMemoryStore(mem, user_id="u2", fields=["text"])
    store.put(("notes",), "a", {"text": "mine"})
    other.put(("notes",), "a", {"text": "theirs"})
    other.put(("extra",), "b", {"text": "theirs too"})
    mem.add_message("user", "a chat turn is not a store item", user_id="u1")
    mem.remember("a memory without the store's tags", user_id="u1")
    assert store.list_namespaces() == [("notes",)]
    assert other.list_namespaces() == [("extra",), ("notes",)]
    assert [i.value["text"] for i in store.search(("notes",))] == ["mine"]
    assert store.get(("notes",), "a").value == {"text": "mine"}  # type: ignore[union-attr]
    other.delete(("notes",), "a")
    assert store.get(("notes",), "a") is not None


async def test_async_operations(store: TieredMemoryStore) -> None:
    ns = ("async", "u1")
    await store.aput(ns, "a", {"text": "Plays the cello"})
    await store.aput(ns, "b", {"text": "Runs marathons"})
    item = await store.aget(ns, "a")
    assert item is not None
    assert item.value == {"text": "Plays the cello"}
    hits = await store.asearch(("async",), query="cello music")
    assert hits[0].key == "a"
    assert await store.alist_namespaces() == [ns]
    await store.adelete(ns, "a")
    assert await store.aget(ns, "a") is None
    results = await store.abatch([GetOp(ns, "b"), SearchOp(ns, filter={"text": "Runs marathons"})])
    assert results[0] is not None
    assert [i.key for i in results[1]] == ["b"]  # type: ignore[union-attr]


@tool
def save_note(key: str, text: str, runtime: ToolRuntime) -> str:
    """Save a note for later."""
    assert runtime.store is not None
    runtime.store.put(("notes",), key, {"text": text})
    return f"saved {key}"


@tool
def read_note(key: str) -> str:
    """Read a saved note."""
    item = get_store().get(("notes",), key)
    return item.value["text"] if item else "no such note"


WIFI = "The wifi password is kiwi42"


def test_agent_tools_use_the_store(store: TieredMemoryStore) -> None:
    model = scripted(
        AIMessage("", tool_calls=[{"name": "save_note", "id": "c1",
                                   "args": {"key": "wifi", "text": WIFI}}]),
        "Saved.",
        AIMessage("", tool_calls=[{"name": "read_note", "id": "c2", "args": {"key": "wifi"}}]),
        "The wifi password is kiwi42.",
    )  # fmt: skip
    agent = create_agent(model, tools=[save_note, read_note], store=store)
    agent.invoke({"messages": [HumanMessage("Remember: the wifi password is kiwi42.")]})
    result = agent.invoke({"messages": [HumanMessage("What is the wifi password?")]})
    tool_result = result["messages"][2]
    assert tool_result.text == "The wifi password is kiwi42"
    item = store.get(("notes",), "wifi")
    assert item is not None
    assert item.value == {"text": "The wifi password is kiwi42"}
