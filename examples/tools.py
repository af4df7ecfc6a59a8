"""Tools for an agent: validated, rate-limited, run concurrently, observed; memory as tools."""

from tiermem import MetricsCallback, TieredMemory
from tiermem.tools import ToolRegistry, memory_tools

metrics = MetricsCallback()
registry = ToolRegistry(callbacks=[metrics])


@registry.tool(timeout=2.0, rate_limit=3, rate_window=60.0)
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny, 21 C in {city}"  # a real tool would call a weather API


print("schema:", registry.schemas()[0]["function"])  # what a model is shown
print(registry.call("weather", {"town": "Porto"}).as_text())  # refused before it runs
cities = ("Porto", "Oslo", "Rome", "Lima")
for result in registry.call_many([("weather", {"city": city}) for city in cities]):
    print(f"{result.tool}: {result.as_text()}")  # the fourth call is over the rate limit

with TieredMemory("memory://") as mem:
    memory_tools(mem, user_id="u1", registry=registry)  # remember, search_memory, forget_memory
    registry.call("remember", {"text": "Prefers green tea to coffee", "importance": 0.8})
    found = registry.call("search_memory", {"query": "tea or coffee?", "k": 1})
    print("search_memory:", found.value[0]["text"])

counters = metrics.snapshot()["counters"]
print(f"tool calls: {counters['tool_calls']:.0f} ({counters['tool_calls_failed']:.0f} failed)")
registry.close()
