"""Embedders: the protocol, and a default that needs no model, no torch and no download."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Embedder", "FunctionEmbedder", "HashingEmbedder", "normalize_rows"]

#: What an embedding function returns: one vector per text.
Vectors = Sequence[Sequence[float]]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP_WORDS = frozenset(
    """
    a about above after again all am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would
    you your yours yourself yourselves s t d ll m re ve don didn doesn isn wasn
    """.split()
)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors; plug in any model."""

    @property
    def name(self) -> str:
        """Identifies the model; a store refuses vectors from a different one."""
        ...

    @property
    def dimensions(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Vectors for ``texts``, shape ``(len(texts), dimensions)``, rows of unit length."""
        ...

    async def aembed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Async `embed`; by default `embed` on a worker thread, so a slow sync embedder
        never blocks the event loop (a network client overrides it natively)."""
        return await asyncio.to_thread(self.embed, texts)


#: texts a local embedder embeds on the event loop itself: a thread hop costs more
INLINE_TEXTS = 32


async def embed_locally(embedder: Embedder, texts: Sequence[str]) -> NDArray[np.float32]:
    """`aembed` of a fast in-process embedder: a query inline, a bulk batch on a thread."""
    if len(texts) <= INLINE_TEXTS:
        return embedder.embed(texts)
    return await asyncio.to_thread(embedder.embed, texts)


def normalize_rows(matrix: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale each row to unit length; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    normalized: NDArray[np.float32] = (matrix / norms).astype(np.float32, copy=False)
    return normalized


class HashingEmbedder(Embedder):
    """Signed feature hashing of words, word pairs and character trigrams.

    Deterministic across processes (CRC32, not Python's salted ``hash``), tens of
    thousands of texts a second on one core, and no weights at all. It matches words
    and their variants (trigrams), not meanings.
    """

    def __init__(self, dimensions: int = 256) -> None:
        if dimensions < 8:
            raise ValueError("dimensions: must be at least 8")
        self._dim = dimensions
        self._word_cache: dict[str, tuple[tuple[int, float], ...]] = {}

    @property
    def name(self) -> str:
        return f"hashing-v1-{self._dim}"

    @property
    def dimensions(self) -> int:
        return self._dim

    def _slot(self, feature: str) -> tuple[int, float]:
        h = zlib.crc32(feature.encode("utf-8"))
        return h % self._dim, (1.0 if h & 0x80000000 else -1.0)

    def _word_features(self, word: str) -> tuple[tuple[int, float], ...]:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        padded = f"<{word}>"
        grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
        weight = 1.0 / max(len(grams), 1) ** 0.5
        features = [self._slot("w:" + word)]
        for gram in grams:
            col, sign = self._slot("g:" + gram)
            features.append((col, sign * weight))
        result = tuple(features)
        if len(self._word_cache) < 200_000:  # bounded: hostile input cannot grow it forever
            self._word_cache[word] = result
        return result

    async def aembed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return await embed_locally(self, texts)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS]
            # a dict accumulates faster than numpy for the ~100 features of a turn
            acc: dict[int, float] = {}
            for word in words:
                for col, val in self._word_features(word):
                    acc[col] = acc.get(col, 0.0) + val
            for first, second in itertools.pairwise(words):
                col, sign = self._slot(f"b:{first} {second}")
                acc[col] = acc.get(col, 0.0) + 0.5 * sign
            if acc:
                out[row, list(acc)] = list(acc.values())
        return normalize_rows(out)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimensions={self._dim})"


class FunctionEmbedder(Embedder):
    """An embedding function as an `Embedder`: rows come back float32 and of unit length.

    ``embed`` maps a list of texts to one vector each (any client: the framework
    adapters pass their model's batch call); ``aembed``, when given, is awaited by
    `aembed`, which otherwise runs ``embed`` in a worker thread. ``name`` identifies
    the model (a store refuses vectors of another one). ``dimensions`` is probed with
    one embedding the first time it is needed, unless given or already seen.
    """

    def __init__(
        self,
        embed: Callable[[list[str]], Vectors],
        *,
        name: str,
        dimensions: int | None = None,
        aembed: Callable[[list[str]], Awaitable[Vectors]] | None = None,
    ) -> None:
        self._embed = embed
        self._aembed = aembed
        self._name = name
        self._dimensions = dimensions
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            with self._lock:
                if self._dimensions is None:
                    self._dimensions = len(self._embed(["dimension probe"])[0])
        return self._dimensions

    def _rows(self, texts: Sequence[str], vectors: Vectors) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        matrix = np.asarray(vectors, dtype=np.float32)
        if self._dimensions is None and matrix.ndim == 2:
            self._dimensions = matrix.shape[1]  # seen: no probe needed
        if matrix.shape != (len(texts), self.dimensions):
            raise ValueError(
                f"{self._name}: returned vectors of shape {matrix.shape}, "
                f"expected {(len(texts), self.dimensions)}"
            )
        return normalize_rows(matrix)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._rows(texts, self._embed(list(texts)) if texts else [])

    async def aembed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self._aembed is None:
            return await super().aembed(texts)  # `embed` on a worker thread
        return self._rows(texts, await self._aembed(list(texts)) if texts else [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"
