"""Effects: what a flow asks of the world, and the two drivers that answer it.

Every public call of `TieredMemory` is written once, as a flow: a generator that
validates its input, changes in-memory state, and yields an `Effect` for anything
that may block (a store operation, embedding, summarising). `run` answers effects
synchronously, `arun` natively on the event loop; a sync-only embedder or summarizer
is moved off the loop to a thread. `blocking` and `awaiting` turn one flow method
into the sync and the async method, so the two cannot drift apart (the sans-I/O
shape of psycopg 3's generators).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .embeddings import Embedder
    from .medium_term import Summarizer
    from .records import MemoryRecord
    from .tokens import TokenCounter

__all__ = [
    "Effect",
    "Embed",
    "Flow",
    "Summarize",
    "adrive",
    "arun",
    "ask",
    "awaiting",
    "blocking",
    "drive",
    "run",
]

R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")


class Effect(Generic[R]):
    """Something a flow needs done outside itself; the driver sends back an ``R``."""

    __slots__ = ()


#: a flow: yields effects, is sent each one's result, returns a ``T``
Flow = Generator[Effect[Any], Any, T]


def ask(effect: Effect[R]) -> Generator[Effect[R], Any, R]:
    """``result = yield from ask(effect)``: the one place a result is typed."""
    result: R = yield effect
    return result


@dataclass(frozen=True, slots=True)
class Embed(Effect[NDArray[np.float32]]):
    """Vectors for ``texts``: a network embedder is I/O, a local one is CPU time."""

    texts: Sequence[str]


@dataclass(frozen=True, slots=True)
class Summarize(Effect[str]):
    """Fold ``records`` into at most ``max_tokens`` (the summarizer may be an LLM)."""

    records: Sequence[MemoryRecord]
    max_tokens: int


class Parts(Protocol):
    """What the drivers answer effects with: the memory's swappable parts and store."""

    embedder: Embedder
    summarizer: Summarizer
    token_counter: TokenCounter

    def _store_run(self, op: Effect[Any]) -> Any: ...

    async def _store_arun(self, op: Effect[Any]) -> Any: ...


def drive(steps: Generator[Any, Any, T], answer: Callable[[Any], Any]) -> T:
    """Run a sans-I/O generator to its end, sending back ``answer`` of each thing it yields:
    the one synchronous driver (flows here, LanceDB requests in the store)."""
    result: Any = None
    while True:
        try:
            asked = steps.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result = answer(asked)


async def adrive(steps: Generator[Any, Any, T], answer: Callable[[Any], Awaitable[Any]]) -> T:
    """`drive` for an ``answer`` that is awaited: the one asynchronous driver."""
    result: Any = None
    while True:
        try:
            asked = steps.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result = await answer(asked)


def run(flow: Flow[T], parts: Parts) -> T:
    """Drive ``flow`` to its end, answering each effect synchronously."""

    def answer(effect: Effect[Any]) -> Any:
        if isinstance(effect, Embed):
            return parts.embedder.embed(effect.texts)
        if isinstance(effect, Summarize):
            return parts.summarizer.summarize(
                effect.records, max_tokens=effect.max_tokens, token_counter=parts.token_counter
            )
        return parts._store_run(effect)

    return drive(flow, answer)


async def arun(flow: Flow[T], parts: Parts) -> T:
    """Drive ``flow`` to its end on the event loop, never blocking it on a sync part."""

    async def answer(effect: Effect[Any]) -> Any:
        if isinstance(effect, Embed):
            return await aembed(parts.embedder, effect.texts)
        if isinstance(effect, Summarize):
            return await asummarize(parts, effect)
        return await parts._store_arun(effect)

    return await adrive(flow, answer)


async def aembed(embedder: Embedder, texts: Sequence[str]) -> NDArray[np.float32]:
    """The embedder's own ``aembed``, or its ``embed`` on a worker thread."""
    native = getattr(embedder, "aembed", None)  # a duck-typed embedder may lack it
    if native is not None:
        vectors: NDArray[np.float32] = await native(texts)
        return vectors
    return await asyncio.to_thread(embedder.embed, texts)


async def asummarize(parts: Parts, effect: Summarize) -> str:
    """The summarizer's own ``asummarize``, or its ``summarize`` on a worker thread."""
    summarizer, counter = parts.summarizer, parts.token_counter
    native = getattr(summarizer, "asummarize", None)  # a duck-typed one may lack it
    if native is not None:
        text: str = await native(
            effect.records, max_tokens=effect.max_tokens, token_counter=counter
        )
        return text
    return await asyncio.to_thread(
        summarizer.summarize, effect.records, max_tokens=effect.max_tokens, token_counter=counter
    )


class Driven(Protocol):
    """An object whose flows `blocking` and `awaiting` can drive."""

    def _run(self, flow: Flow[T]) -> T: ...

    async def _arun(self, flow: Flow[T]) -> T: ...


S = TypeVar("S", bound=Driven)


def blocking(flow: Callable[Concatenate[S, P], Flow[T]]) -> Callable[Concatenate[S, P], T]:
    """The synchronous method of a flow method: same signature, same docstring."""

    @functools.wraps(flow)
    def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(flow(self, *args, **kwargs))

    call.__name__ = flow.__name__.lstrip("_")
    call.__qualname__ = _renamed(flow.__qualname__, call.__name__)
    return call


def awaiting(
    flow: Callable[Concatenate[S, P], Flow[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The async method of a flow method, named with an ``a`` prefix."""

    @functools.wraps(flow)
    async def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._arun(flow(self, *args, **kwargs))

    call.__name__ = "a" + flow.__name__.lstrip("_")
    call.__qualname__ = _renamed(flow.__qualname__, call.__name__)
    return call


def _renamed(qualname: str, name: str) -> str:
    owner, _, _ = qualname.rpartition(".")
    return f"{owner}.{name}" if owner else name
