"""memory_tools against a real TieredMemory on memory://, through sync and async calls."""

from __future__ import annotations

from datetime import datetime

from tiermem import TieredMemory
from tiermem.tools import ToolRegistry, memory_tools


def test_tools_are_registered_with_schemas(mem: TieredMemory) -> None:
    with ToolRegistry() as registry:
        tools = memory_tools(mem, user_id="ana", registry=registry)
        assert [t.name for t in tools] == [
            "remember",
            "search_memory",
            "update_memory",
            "forget_memory",
        ]
        assert [t.name for t in registry] == [
            "remember",
            "search_memory",
            "update_memory",
            "forget_memory",
        ]
        remember = registry.get("remember").parameters
        assert remember["required"] == ["text"]
        assert remember["properties"]["importance"]["maximum"] == 1.0
        assert remember["properties"]["tags"]["default"] == []
        assert registry.get("search_memory").description.startswith("Search long-term memory")


def test_remember_search_and_forget(mem: TieredMemory) -> None:
    (remember, search, _update, forget) = memory_tools(mem, user_id="ana")
    stored = remember.call(
        {"text": "Ana moved to Lisbon in May", "importance": 0.9, "tags": ["home"]}
    )
    assert stored.ok, stored.error
    record = mem.get(stored.value["id"])
    assert record.user_id == "ana"
    assert record.tags == ("home",)
    assert abs(record.importance - 0.9) < 1e-6  # stored as float32

    found = search.call({"query": "where does Ana live?", "k": 3})
    assert found.ok, found.error
    hit = found.value[0]
    assert set(hit) == {"id", "text", "score", "kind", "timestamp"}
    assert hit["id"] == stored.value["id"]
    assert hit["kind"] == "memory"
    assert datetime.fromisoformat(hit["timestamp"]) == record.timestamp

    assert forget.call({"memory_id": hit["id"]}).value == {"id": hit["id"], "forgotten": True}
    gone = forget.call({"memory_id": hit["id"]})
    assert gone.error is not None
    assert gone.error.type == "NotFoundError"


def test_tools_stay_inside_their_scope(mem: TieredMemory) -> None:
    with ToolRegistry() as ana_tools, ToolRegistry() as bo_tools:
        memory_tools(mem, user_id="ana", registry=ana_tools)
        memory_tools(mem, user_id="bo", registry=bo_tools)
        kept = ana_tools.call("remember", {"text": "Ana's door code is 4411"}).value

        found = bo_tools.call("search_memory", {"query": "door code"})
        assert all(hit["id"] != kept["id"] for hit in found.value)
        stolen = bo_tools.call("forget_memory", {"memory_id": kept["id"]})
        assert stolen.error is not None
        assert stolen.error.type == "NotFoundError"
        assert mem.get(kept["id"]).text == "Ana's door code is 4411"


def test_bad_arguments_are_refused_before_the_memory(mem: TieredMemory) -> None:
    (remember, search, _, _) = memory_tools(mem, user_id="ana")
    too_important = remember.call({"text": "x", "importance": 3})
    assert too_important.error is not None
    assert too_important.error.type == "ValidationError"
    assert "importance" in too_important.error.message
    assert search.call({"query": "x", "k": 0}).error is not None
    assert mem.search("x", user_id="ana") == []


async def test_async_calls_use_the_async_methods(mem: TieredMemory) -> None:
    (remember, search, _update, forget) = memory_tools(mem, agent_id="planner", session_id="s1")
    stored = await remember.acall({"text": "The launch moved to Friday"})
    assert stored.ok, stored.error
    record = await mem.aget(stored.value["id"])
    assert (record.agent_id, record.session_id) == ("planner", "s1")

    found = await search.acall({"query": "when is the launch?"})
    assert [hit["id"] for hit in found.value] == [stored.value["id"]]
    assert (await forget.acall({"memory_id": stored.value["id"]})).ok
    assert (await search.acall({"query": "launch"})).value == []
