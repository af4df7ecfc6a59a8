"""ToolRegistry: registration, schemas, validation, output, errors, events, redaction."""

from __future__ import annotations

import dataclasses
import logging
import math
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import tiermem.tools
from tiermem.callbacks import CallbackHandler, ToolCalled
from tiermem.errors import TieredMemoryError
from tiermem.testing import RecordingCallback
from tiermem.tools import (
    ToolCallError,
    ToolRegistrationError,
    ToolRegistry,
    UnknownToolError,
)
from tiermem.tools.output import shape

SECRET = "sk-live-7f3a9c1e5b"


class Broken(CallbackHandler):
    def on_tool_called(self, event: ToolCalled) -> None:
        raise RuntimeError("handler bug")


@pytest.fixture
def recorder() -> RecordingCallback:
    return RecordingCallback()


@pytest.fixture
def registry(recorder: RecordingCallback) -> Any:
    with ToolRegistry(callbacks=[recorder]) as reg:
        yield reg


def test_exports_are_pinned() -> None:
    assert tiermem.tools.__all__ == [
        "Approval",
        "MemoryStore",
        "Permission",
        "Tool",
        "ToolCallError",
        "ToolError",
        "ToolOptions",
        "ToolRegistrationError",
        "ToolRegistry",
        "ToolResult",
        "UnknownToolError",
        "memory_tools",
    ]
    for name in tiermem.tools.__all__:
        assert hasattr(tiermem.tools, name), name


def test_tool_is_built_from_the_signature(registry: ToolRegistry) -> None:
    @registry.tool(timeout=2.0, rate_limit=10, rate_window=60.0, tags=("web",), category="info")
    def weather(
        city: str, days: int = 1, units: Annotated[str, Field(description="C or F")] = "C"
    ) -> str:
        """Current weather for a city.

        Longer notes that the model does not need.
        """
        return f"{city}: sunny for {days} day(s) in {units}"

    tool = registry.get("weather")
    assert tool.name == "weather"
    assert tool.description == "Current weather for a city."
    assert not tool.is_async
    assert tool.timeout == 2.0
    assert tool.rate_limit == 10
    assert set(tool.args_model.model_fields) == {"city", "days", "units"}
    assert weather("Porto") == "Porto: sunny for 1 day(s) in C"  # the decorator returns fn as is
    assert registry.call("weather", {"city": "Porto", "days": 2}).value == (
        "Porto: sunny for 2 day(s) in C"
    )
    assert tool.call({"city": "Oslo"}).value == "Oslo: sunny for 1 day(s) in C"
    assert "weather" in registry
    assert "other" not in registry
    assert len(registry) == 1
    assert list(registry) == [tool]


def test_unannotated_parameters_are_any(registry: ToolRegistry) -> None:
    def echo(value, note: str = "-"):  # type: ignore[no-untyped-def]
        return [value, note]

    tool = registry.register(echo, description="Echo back.")
    assert tool.description == "Echo back."
    assert "type" not in tool.parameters["properties"]["value"]
    assert registry.call("echo", {"value": {"any": [1, 2]}}).value == [{"any": [1, 2]}, "-"]


def test_schema_has_openai_function_calling_shape(registry: ToolRegistry) -> None:
    @registry.tool
    def search(query: str, k: int = 5, tags: list[str] | None = None) -> list[str]:
        """Search the web."""
        return []

    (schema,) = registry.schemas()
    assert schema["type"] == "function"
    function = schema["function"]
    assert set(function) == {"name", "description", "parameters"}
    assert function["name"] == "search"
    assert function["description"] == "Search the web."
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["query"]
    assert parameters["properties"]["query"] == {"type": "string"}
    assert parameters["properties"]["k"] == {"type": "integer", "default": 5}
    assert parameters["additionalProperties"] is False
    assert "title" not in parameters  # generated titles are tokens a model does not need


def test_schemas_filter_by_name_tag_and_category(registry: ToolRegistry) -> None:
    def a() -> int:
        return 1

    def b() -> int:
        return 2

    def c() -> int:
        return 3

    registry.register(a, tags=("read", "web"), category="net")
    registry.register(b, tags=("read",), category="disk")
    registry.register(c, tags=("write",), category="disk")

    def names(schemas: list[dict[str, Any]]) -> list[str]:
        return [s["function"]["name"] for s in schemas]

    assert names(registry.schemas()) == ["a", "b", "c"]
    assert names(registry.schemas(["c", "a"])) == ["c", "a"]
    assert names(registry.schemas(tags=["read"])) == ["a", "b"]
    assert names(registry.schemas(tags=["read", "web"])) == ["a"]
    assert names(registry.schemas(category="disk")) == ["b", "c"]
    assert [t.name for t in registry.find(tags=["read"], category="disk")] == ["b"]
    with pytest.raises(UnknownToolError):
        registry.schemas(["zzz"])
    with pytest.raises(KeyError):
        registry.get("zzz")


def test_parameters_named_like_pydantic_attributes_keep_their_names(
    registry: ToolRegistry,
) -> None:
    def lookup(schema: str, _private: int = 0, model_config: str = "x") -> list[Any]:
        return [schema, _private, model_config]

    tool = registry.register(lookup)
    assert set(tool.parameters["properties"]) == {"schema", "_private", "model_config"}
    result = registry.call("lookup", {"schema": "s", "_private": 3})
    assert result.value == ["s", 3, "x"]


def test_positional_only_parameters_are_passed_by_position(registry: ToolRegistry) -> None:
    def power(base: int, /, exponent: int = 2) -> int:
        return int(base**exponent)

    registry.register(power)
    assert registry.call("power", {"base": 3, "exponent": 3}).value == 27


def test_name_collision_raises_unless_replace(registry: ToolRegistry) -> None:
    def ping() -> str:
        return "one"

    def ping_again() -> str:
        return "two"

    registry.register(ping)
    with pytest.raises(ToolRegistrationError, match="already registered") as caught:
        registry.register(ping_again, name="ping")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TieredMemoryError)
    assert registry.call("ping").value == "one"
    registry.register(ping_again, name="ping", replace=True)
    assert registry.call("ping").value == "two"


@pytest.mark.parametrize("name", ["has space", "x" * 65, "", "dot.ted", "ümlaut"])
def test_bad_names_are_refused(registry: ToolRegistry, name: str) -> None:
    with pytest.raises(ToolRegistrationError, match="must be 1 to 64"):
        registry.register(lambda: 1, name=name)


def test_a_lambda_needs_a_name(registry: ToolRegistry) -> None:
    with pytest.raises(ToolRegistrationError, match="pass name="):
        registry.register(lambda: 1)
    assert registry.register(lambda: 1, name="one").name == "one"


def test_star_args_and_kwargs_are_refused(registry: ToolRegistry) -> None:
    def spread(*items: int) -> int:
        return sum(items)

    def loose(**options: str) -> str:
        return ""

    with pytest.raises(ToolRegistrationError, match=r"\*items"):
        registry.register(spread)
    with pytest.raises(ToolRegistrationError, match=r"\*\*options"):
        registry.register(loose)


def test_bad_settings_are_refused(registry: ToolRegistry) -> None:
    def fetch(url: str, token: str) -> str:
        return url

    async def afetch(address: str) -> str:
        return address

    with pytest.raises(ToolRegistrationError, match="sensitive"):
        registry.register(fetch, sensitive=("api_key",))
    with pytest.raises(ToolRegistrationError, match="timeout"):
        registry.register(fetch, timeout=0)
    with pytest.raises(ToolRegistrationError, match="rate_limit"):
        registry.register(fetch, rate_limit=0)
    with pytest.raises(ToolRegistrationError, match="same parameters"):
        registry.register(fetch, coroutine=afetch)
    with pytest.raises(ToolRegistrationError, match="async"):
        registry.register(fetch, coroutine=fetch)
    assert len(registry) == 0


def test_unknown_tool_is_a_failed_result(
    registry: ToolRegistry, recorder: RecordingCallback
) -> None:
    result = registry.call("nope", {})
    assert not result.ok
    assert result.error is not None
    assert result.error.type == "UnknownTool"
    assert "nope" in result.error.message
    assert recorder.of(ToolCalled)[-1].error_type == "UnknownTool"


def test_validation_errors_name_the_field(registry: ToolRegistry) -> None:
    @registry.tool
    def weather(city: str, days: int = 1) -> str:
        return city

    cases = {
        "extra": ({"city": "Porto", "country": "PT"}, "country"),
        "missing": ({"days": 2}, "city"),
        "wrong type": ({"city": "Porto", "days": "many"}, "days"),
        "not an object": ("[1, 2]", "JSON object"),
        "bad json": ("{city: Porto", "not valid JSON"),
    }
    for case, (arguments, field) in cases.items():
        result = registry.call("weather", arguments)
        assert not result.ok, case
        assert result.error is not None
        assert result.error.type == "ValidationError", case
        assert field in result.error.message, case
    assert registry.call("weather", '{"city": "Porto"}').value == "Porto"


def test_tool_exceptions_become_failed_results(registry: ToolRegistry) -> None:
    @registry.tool
    def divide(a: float, b: float) -> float:
        return a / b

    result = registry.call("divide", {"a": 1, "b": 0})
    assert not result.ok
    assert result.error is not None
    assert result.error.type == "ZeroDivisionError"
    assert "division by zero" in result.error.message
    assert result.as_text() == "Error (ZeroDivisionError): float division by zero"


def test_raise_errors_per_registry_and_per_call(recorder: RecordingCallback) -> None:
    def fail() -> None:
        raise ValueError("boom")

    with ToolRegistry(raise_errors=True) as strict:
        strict.register(fail)
        with pytest.raises(ToolCallError, match="boom") as caught:
            strict.call("fail")
        assert caught.value.result.error is not None
        assert caught.value.result.error.type == "ValueError"
        assert isinstance(caught.value, TieredMemoryError)
        assert strict.call("fail", raise_errors=False).ok is False
    with ToolRegistry() as lenient:
        lenient.register(fail)
        assert lenient.call("fail").ok is False
        with pytest.raises(ToolCallError):
            lenient.call("fail", raise_errors=True)


class Forecast(BaseModel):
    city: str
    when: datetime


@dataclass
class Reading:
    sensor: str
    values: tuple[float, ...]
    at: datetime


def test_results_are_made_json_safe(registry: ToolRegistry) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    registry.register(lambda: Forecast(city="Porto", when=when), name="model")
    registry.register(lambda: Reading("t1", (1.5, 2.5), when), name="dataclass")
    registry.register(lambda: {"tags": {"b"}, "pair": (1, 2)}, name="containers")
    registry.register(lambda: when, name="moment")

    assert registry.call("model").value == {"city": "Porto", "when": "2024-05-01T12:00:00Z"}
    assert registry.call("dataclass").value == {
        "sensor": "t1",
        "values": [1.5, 2.5],
        "at": "2024-05-01T12:00:00Z",
    }
    assert registry.call("containers").value == {"tags": ["b"], "pair": [1, 2]}
    assert registry.call("moment").value == "2024-05-01T12:00:00Z"
    assert registry.call("model").as_text() == '{"city": "Porto", "when": "2024-05-01T12:00:00Z"}'


def test_values_with_no_json_form_fail(registry: ToolRegistry) -> None:
    class Opaque:
        pass

    registry.register(Opaque, name="opaque")
    registry.register(lambda: math.nan, name="nan")
    for name in ("opaque", "nan"):
        result = registry.call(name)
        assert not result.ok, name
        assert result.error is not None
        assert result.error.type == "NotSerializable", name


def test_huge_outputs_are_truncated_with_a_marker() -> None:
    with ToolRegistry(max_output_chars=100) as registry:
        registry.register(lambda: "x" * 1000, name="text")
        registry.register(lambda: list(range(1000)), name="numbers")
        registry.register(lambda: "y" * 1000, name="roomy", max_output_chars=500)
        registry.register(lambda: "short", name="short")

        text = registry.call("text")
        assert text.ok
        assert text.truncated
        assert len(text.value) <= 100
        assert text.value.startswith("xxx")
        assert text.value.endswith(f"…[truncated {1000 - text.value.index('…')} chars]")

        numbers = registry.call("numbers")
        assert numbers.truncated
        assert isinstance(numbers.value, str)
        assert numbers.value.startswith("[0, 1, 2")
        assert "…[truncated " in numbers.value

        roomy = registry.call("roomy")
        assert roomy.truncated
        assert 400 < len(roomy.value) <= 500

        short = registry.call("short")
        assert short.value == "short"
        assert not short.truncated


def test_recursion_is_limited() -> None:
    with ToolRegistry(max_depth=3) as registry:

        @registry.tool
        def dive(level: int) -> dict[str, Any]:
            inner = registry.call("dive", {"level": level + 1})
            assert inner.error is None or inner.error.type == "RecursionLimit"
            return {"level": level, "inner": inner.value if inner.ok else inner.error.type}

        result = registry.call("dive", {"level": 1})
        assert result.value == {
            "level": 1,
            "inner": {"level": 2, "inner": {"level": 3, "inner": "RecursionLimit"}},
        }


async def test_recursion_is_limited_for_async_tools() -> None:
    with ToolRegistry(max_depth=2) as registry:

        @registry.tool
        async def dive(level: int) -> Any:
            inner = await registry.acall("dive", {"level": level + 1})
            return [level, inner.value if inner.ok else inner.error and inner.error.type]

        assert (await registry.acall("dive", {"level": 1})).value == [
            1,
            [2, "RecursionLimit"],
        ]


async def test_depth_reaches_the_worker_thread_of_a_sync_tool() -> None:
    with ToolRegistry(max_depth=1) as registry:
        registry.register(lambda: "leaf", name="leaf")
        registry.register(lambda: registry.call("leaf").as_text(), name="outer")
        assert (await registry.acall("outer")).value == (
            "Error (RecursionLimit): tool calls nested deeper than 1"
        )
        assert registry.call("outer").value == (
            "Error (RecursionLimit): tool calls nested deeper than 1"
        )
        assert registry.call("leaf").value == "leaf"


def test_nested_calls_from_sync_tools_cannot_deadlock_the_pool() -> None:
    with ToolRegistry(max_concurrency=2) as registry:
        registry.register(lambda n: n * 2, name="leaf")

        @registry.tool(timeout=3.0)
        def delegate(n: int) -> int:
            return int(registry.call("leaf", {"n": n}).value)

        results = registry.call_many([("delegate", {"n": n}) for n in range(6)])
        assert [r.value for r in results] == [0, 2, 4, 6, 8, 10]


def test_secrets_never_leave_the_call(
    recorder: RecordingCallback, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tiermem")
    seen: list[dict[str, Any]] = []

    def check(name: str, arguments: Any, user_id: str | None) -> bool:
        seen.append(dict(arguments))
        return True

    with ToolRegistry(callbacks=[recorder]) as registry:

        @registry.tool(sensitive=("api_key",), permission=check)
        def fetch(url: str, api_key: str) -> str:
            raise PermissionError(f"401 from {url}: key {api_key} was revoked")

        result = registry.call("fetch", {"url": "https://api.example", "api_key": SECRET})
        invalid = registry.call("fetch", {"url": 3, "api_key": SECRET, "extra": SECRET})
        with pytest.raises(ToolCallError) as caught:
            registry.call("fetch", {"url": "u", "api_key": SECRET}, raise_errors=True)

    assert result.error is not None
    assert invalid.error is not None
    assert result.error.message == "401 from https://api.example: key *** was revoked"
    assert SECRET not in invalid.error.message
    assert seen[0] == {"url": "https://api.example", "api_key": "***"}
    assert SECRET not in "".join(traceback.format_exception(caught.value))
    assert recorder.of(ToolCalled)
    assert SECRET not in repr(recorder.of(ToolCalled))
    assert "key *** was revoked" in caplog.text
    assert SECRET not in caplog.text


def test_every_call_emits_an_event(registry: ToolRegistry, recorder: RecordingCallback) -> None:
    registry.register(lambda x: x, name="same", pure=True)
    registry.call("same", {"x": 1})
    registry.call("same", {"x": 1})
    registry.call("same", {})
    assert [(e.tool, e.ok, e.cached, e.error_type) for e in recorder.of(ToolCalled)] == [
        ("same", True, False, None),
        ("same", True, True, None),
        ("same", False, False, "ValidationError"),
    ]
    assert all(e.duration >= 0 for e in recorder.of(ToolCalled))


def test_a_failing_handler_does_not_break_the_call(
    recorder: RecordingCallback, caplog: pytest.LogCaptureFixture
) -> None:
    with ToolRegistry(callbacks=[Broken(), recorder]) as registry:
        registry.register(lambda: "fine", name="ok")
        assert registry.call("ok").value == "fine"
    assert len(recorder.of(ToolCalled)) == 1
    assert "handler" in caplog.text


def test_a_closed_registry_refuses_calls() -> None:
    registry = ToolRegistry()
    registry.register(lambda: 1, name="one")
    registry.close()
    result = registry.call("one")
    assert result.error is not None
    assert result.error.type == "Closed"


async def test_call_and_acall_agree(recorder: RecordingCallback) -> None:
    with ToolRegistry(callbacks=[recorder], max_output_chars=50) as registry:
        registry.register(lambda a, b: a / b, name="div")
        registry.register(lambda: "z" * 80, name="long")

        @registry.tool(pure=True)
        async def shout(word: str) -> str:
            return word.upper()

        cases: list[tuple[str, Any]] = [
            ("div", {"a": 1, "b": 2}),
            ("div", {"a": 1, "b": 0}),
            ("div", {"a": 1}),
            ("long", None),
            ("shout", {"word": "hi"}),
            ("missing", {}),
        ]
        for name, arguments in cases:
            sync = registry.call(name, arguments)
            fresh = await registry.acall(name, arguments)
            assert dataclasses.replace(sync, duration=0, cached=False) == dataclasses.replace(
                fresh, duration=0, cached=False
            ), name


@given(text=st.text(max_size=500), limit=st.integers(min_value=30, max_value=600))
def test_truncation_fits_the_limit_and_counts_the_cut(text: str, limit: int) -> None:
    data, cut = shape(text, limit)
    assert len(data) <= limit
    if cut:
        kept, marker = data.rsplit("…[truncated ", 1)
        assert text.startswith(kept)
        assert marker == f"{len(text) - len(kept)} chars]"
    else:
        assert data == text
