"""From a function's signature to a pydantic arguments model and an OpenAI-style schema."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model

from .errors import ToolRegistrationError

__all__ = ["Binding", "arguments_model", "describe", "json_schema"]

# Keys whose values are data, not sub-schemas: titles inside them are left alone.
_DATA_KEYS = frozenset({"default", "enum", "const", "examples"})


@dataclass(frozen=True, slots=True)
class Binding:
    """How validated fields map back onto the function's parameters."""

    positional: tuple[str, ...]
    keywords: tuple[tuple[str, str], ...]

    def bind(self, model: BaseModel) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = tuple(getattr(model, field) for field in self.positional)
        kwargs = {param: getattr(model, field) for param, field in self.keywords}
        return args, kwargs


def arguments_model(fn: Callable[..., Any], tool: str) -> tuple[type[BaseModel], Binding]:
    """A model with one field per parameter (hints or ``Any``, defaults kept), extras forbidden."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolRegistrationError(f"{tool}: cannot read the signature ({exc})") from None
    hints = _hints(fn, tool)
    fields: dict[str, Any] = {}
    positional: list[str] = []
    keywords: list[tuple[str, str]] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise ToolRegistrationError(
                f"{tool}: {star}{param.name} cannot be described to a model; "
                "name every parameter the tool takes"
            )
        default = ... if param.default is param.empty else param.default
        annotation = hints.get(param.name, Any)
        field = param.name
        if _clashes(field):
            # pydantic reserves these names; the parameter keeps its name as the alias
            field = f"field_{index}"
            default = Field(default, alias=param.name)
        fields[field] = (annotation, default)
        if param.kind is param.POSITIONAL_ONLY:
            positional.append(field)
        else:
            keywords.append((param.name, field))
    config = ConfigDict(extra="forbid", protected_namespaces=())
    try:
        model: type[BaseModel] = create_model(f"{tool}_arguments", __config__=config, **fields)
        model.model_json_schema()
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise ToolRegistrationError(f"{tool}: the parameters have no JSON schema ({exc})") from None
    return model, Binding(tuple(positional), tuple(keywords))


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without the generated titles (tokens a model does not need)."""
    stripped = _strip_titles(model.model_json_schema())
    assert isinstance(stripped, dict)  # a model's schema is always an object
    return stripped


def describe(fn: Callable[..., Any]) -> str:
    """The first paragraph of the docstring, on one line."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    doc = inspect.getdoc(target)
    if not doc and not inspect.isroutine(target):
        doc = inspect.getdoc(type(target).__call__)
    doc = doc or ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def _hints(fn: Callable[..., Any], tool: str) -> dict[str, Any]:
    target: Any = fn
    if isinstance(fn, functools.partial):
        target = fn.func
    elif not inspect.isroutine(fn):
        target = type(fn).__call__  # a callable object: its __call__ holds the hints
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise ToolRegistrationError(
            f"{tool}: cannot resolve the type hints ({type(exc).__name__}: {exc})"
        ) from None


def _clashes(name: str) -> bool:
    return name.startswith("_") or hasattr(BaseModel, name)


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value if key in _DATA_KEYS else _strip_titles(value)
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node
