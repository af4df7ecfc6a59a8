"""Static WordPiece embeddings distilled from all-MiniLM-L6-v2: semantic vectors with numpy only.

Every WordPiece token has one fixed vector (a model2vec distillation of the sentence
transformer, shipped in ``tiermem/data``; provenance in ``data/STATIC_EMBEDDER.md``). A
text's vector is the mean of its tokens' vectors scaled to unit length, which is what
``model2vec.StaticModel.encode`` computes: no torch, no download, tens of thousands of
short texts a second on one core.

The tokenizer re-implements BERT's uncased tokenizer as the Hugging Face ``tokenizers``
library runs it (``BertNormalizer`` + ``BertPreTokenizer`` + greedy longest-match
``WordPiece``), including model2vec's truncation: the first ``max_tokens *
median_token_length`` characters (3,072), then the first ``max_tokens`` pieces (512).
Two deliberate differences: literal special-token strings such as ``"[PAD]"`` are
tokenized as ordinary text, and Unicode tables are Python's (``unicodedata``).
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .embeddings import Embedder, embed_locally
from .errors import ConfigError, InvalidInputError

__all__ = ["DEFAULT_ARTIFACT", "StaticEmbedder"]

#: The artifact shipped in ``tiermem/data``.
DEFAULT_ARTIFACT = "static_minilm_256.npz"
_FORMAT_VERSION = 1
#: Cached whitespace-separated chunks before the cache is emptied; bounds memory on hostile input.
_CACHE_LIMIT = 1 << 17
#: Tokens gathered at once when pooling: a 2 MB block at 256 dims, small enough for the cache.
_POOL_TOKENS = 2048

# Python's str.split() splits on these, BERT's cleaner deletes them (control characters),
# so they go first or "a\x0bb" would become two words instead of one.
_DELETE_BEFORE_SPLIT = dict.fromkeys([0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x85])
# ASCII control characters left inside a chunk (tab, newline, CR cannot be: split() took them).
_ASCII_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F])
# In lowercased ASCII every character that is not a letter or digit is punctuation for BERT.
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[^a-z0-9]")
# Control, format, private-use (and lone surrogates) are deleted; unassigned ones are kept.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
# CJK ideographs get spaces around them (BertNormalizer.handle_chinese_chars).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _is_punctuation(char: str) -> bool:
    """BERT's rule: any ASCII symbol, or any Unicode punctuation (category P*)."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _normalize(chunk: str) -> str:
    """BertNormalizer on a chunk without whitespace: clean, pad CJK, strip accents, lowercase."""
    kept: list[str] = []
    for char in chunk:
        code = ord(char)
        if code in (0, 0xFFFD) or unicodedata.category(char) in _DROPPED_CATEGORIES:
            continue
        kept.append(f" {char} " if code >= 0x3400 and _is_cjk(code) else char)
    text = "".join(kept)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFD", text)
        text = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    if "Σ" in text:
        # the Rust tokenizer lowercases char by char: no final-sigma rule as in str.lower()
        return "".join(c.lower() for c in text)
    return text.lower()


def _pre_tokenize(text: str) -> list[str]:
    """BertPreTokenizer: split on whitespace, every punctuation character is its own word."""
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if char.isspace() or _is_punctuation(char):
            if current:
                words.append("".join(current))
                current = []
            if not char.isspace():
                words.append(char)
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


@dataclass(frozen=True, slots=True)
class _Model:
    """One loaded artifact; shared by every embedder on the same file in the process."""

    name: str
    vectors: NDArray[np.float32]  # (vocab, dims); the [UNK] row is zero so it drops out of sums
    vocab: dict[str, int]
    tokens: list[str]  # id -> piece
    unk_id: int
    prefix: str
    max_word_chars: int
    max_tokens: int
    max_chars: int
    cache: dict[str, tuple[int, ...]]  # raw whitespace-free chunk -> its token ids

    def wordpiece(self, word: str) -> list[int]:
        """Greedy longest-match-first; a word with any unmatched part is one [UNK]."""
        if len(word) > self.max_word_chars:
            return [self.unk_id]
        vocab, ids, start, end = self.vocab, [], 0, len(word)
        while start < end:
            stop = end
            found = None
            while start < stop:
                piece = word[start:stop] if start == 0 else self.prefix + word[start:stop]
                found = vocab.get(piece)
                if found is not None:
                    break
                stop -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = stop
        return ids

    def chunk_ids(self, chunk: str) -> tuple[int, ...]:
        """Token ids of one whitespace-free chunk of raw text, computed once and cached."""
        if chunk.isascii():
            words = _ASCII_WORDS.findall(chunk.translate(_ASCII_CONTROLS).lower())
        else:
            words = _pre_tokenize(_normalize(chunk))
        ids: list[int] = []
        for word in words:
            ids.extend(self.wordpiece(word))
        result = tuple(ids)
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()  # bounded: hostile input cannot grow it forever
        self.cache[chunk] = result
        return result

    def append_ids(self, text: str, out: list[int]) -> None:
        """Append the ids of ``text`` after model2vec's truncation ([UNK] included)."""
        start = len(out)
        cache = self.cache
        for chunk in text[: self.max_chars].translate(_DELETE_BEFORE_SPLIT).split():
            ids = cache.get(chunk)
            out.extend(self.chunk_ids(chunk) if ids is None else ids)
        if len(out) - start > self.max_tokens:
            del out[start + self.max_tokens :]


def _scalar(archive: np.lib.npyio.NpzFile, key: str) -> object:
    try:
        return archive[key].item()
    except KeyError:
        raise ConfigError(f"artifact: no {key!r} in the file; rebuild it") from None


def _int(archive: np.lib.npyio.NpzFile, key: str) -> int:
    value = _scalar(archive, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"artifact: {key!r} must be an integer")
    return value


def _str(archive: np.lib.npyio.NpzFile, key: str) -> str:
    value = _scalar(archive, key)
    if not isinstance(value, str):
        raise ConfigError(f"artifact: {key!r} must be a string")
    return value


def _open(path: Path | None, stack: ExitStack) -> np.lib.npyio.NpzFile:
    if path is None:
        ref = resources.files("tiermem").joinpath("data", DEFAULT_ARTIFACT)
        path = stack.enter_context(resources.as_file(ref))
    try:
        archive = stack.enter_context(np.load(path, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"artifact: cannot read {path}: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ConfigError(f"artifact: {path} is not an .npz file")
    if _scalar(archive, "format_version") != _FORMAT_VERSION:
        raise ConfigError(f"artifact: {path} has an unsupported format version")
    return archive


def _read_metadata(path: Path | None) -> tuple[str, int]:
    with ExitStack() as stack:
        archive = _open(path, stack)  # npz members load on access: the table is not read
        return _str(archive, "name"), _int(archive, "dimensions")


def _read_model(path: Path | None) -> _Model:
    with ExitStack() as stack:
        archive = _open(path, stack)
        # the runtime implements exactly one tokenizer: refuse artifacts that want another
        for flag in ("lowercase", "strip_accents", "clean_text", "handle_chinese_chars"):
            if _scalar(archive, flag) is not True:
                raise ConfigError(f"artifact: {flag}=False is not supported")
        vectors = archive["embeddings"].astype(np.float32)
        tokens = [str(t) for t in archive["vocab"].tolist()]
        vocab = {token: index for index, token in enumerate(tokens)}
        unk = _str(archive, "unk_token")
        if unk not in vocab or vectors.ndim != 2 or vectors.shape[0] != len(tokens):
            raise ConfigError("artifact: vocabulary and table do not match")
        if vectors.shape[1] != _int(archive, "dimensions"):
            raise ConfigError("artifact: 'dimensions' does not match the table")
        vectors[vocab[unk]] = 0.0  # model2vec drops unknown pieces; a zero row does the same
        max_tokens = _int(archive, "max_tokens")
        return _Model(
            name=_str(archive, "name"),
            vectors=vectors,
            vocab=vocab,
            tokens=tokens,
            unk_id=vocab[unk],
            prefix=_str(archive, "continuing_subword_prefix"),
            max_word_chars=_int(archive, "max_input_chars_per_word"),
            max_tokens=max_tokens,
            max_chars=max_tokens * _int(archive, "median_token_length"),
            cache={},
        )


_models: dict[str, _Model] = {}
_models_lock = threading.Lock()


def _shared_model(path: Path | None) -> _Model:
    """Load each artifact once per process: 30 MB and ~0.1 s that every memory would repeat."""
    key = "" if path is None else str(path.resolve())
    model = _models.get(key)
    if model is None:
        with _models_lock:
            model = _models.get(key)
            if model is None:
                model = _models[key] = _read_model(path)
    return model


class StaticEmbedder(Embedder):
    """A model2vec-style static embedder distilled from all-MiniLM-L6-v2 (Apache-2.0).

    Meaning, not just shared words: "I adopted a puppy" is closer to "we got a new dog"
    than to "I adopted a new policy". Needs only numpy. The ~15 MB table loads on the
    first ``embed`` (about 0.15 s, 30 MB of memory), not at import or construction, and
    once per process however many embedders use it; ``name`` and ``dimensions`` read only
    the file's header.

    A text with no known token (empty, whitespace, only unknown symbols) gets the zero
    vector, as with :class:`~tiermem.embeddings.HashingEmbedder`: it scores 0 against
    everything instead of pretending to a direction.

    Args:
        path: an artifact written by ``scripts/build_static_embedder.py``; default the
            256-dimension one shipped in the package.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = None if path is None else Path(path)
        self._meta: tuple[str, int] | None = None

    @property
    def name(self) -> str:
        return self._metadata()[0]

    @property
    def dimensions(self) -> int:
        return self._metadata()[1]

    def __repr__(self) -> str:
        where = "" if self._path is None else repr(str(self._path))
        return f"StaticEmbedder({where})"

    def _metadata(self) -> tuple[str, int]:
        if self._meta is None:
            self._meta = _read_metadata(self._path)
        return self._meta

    def token_ids(self, text: str) -> list[int]:
        """WordPiece ids of ``text`` after truncation, [UNK] included (for tests and debugging)."""
        ids: list[int] = []
        _shared_model(self._path).append_ids(text, ids)
        return ids

    def tokens(self, text: str) -> list[str]:
        """WordPiece strings of ``text``, e.g. ``["un", "##aff", "##able"]``."""
        tokens = _shared_model(self._path).tokens
        return [tokens[i] for i in self.token_ids(text)]

    async def aembed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return await embed_locally(self, texts)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit vectors for ``texts``, shape ``(len(texts), dimensions)``; see the class doc."""
        if isinstance(texts, str):
            raise InvalidInputError("texts", "must be a sequence of strings, not one string")
        model = _shared_model(self._path)
        out = np.zeros((len(texts), model.vectors.shape[1]), dtype=np.float32)
        if len(texts) == 1:
            # the common call (one new message): skip the batch bookkeeping
            ids: list[int] = []
            model.append_ids(texts[0], ids)
            if ids:
                model.vectors.take(ids, axis=0).sum(axis=0, out=out[0])
        elif len(texts) > 1:
            _pool(model, texts, out)
        norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
        np.maximum(norms, 1e-12, out=norms)  # zero rows (no known token) stay zero
        out /= norms
        return out


def _pool(model: _Model, texts: Sequence[str], out: NDArray[np.float32]) -> None:
    """Sum each text's token rows into ``out``, a few thousand tokens at a time."""
    flat: list[int] = []
    ends = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        model.append_ids(text, flat)
        ends[row] = len(flat)
    ids = np.asarray(flat, dtype=np.int64)
    starts = np.concatenate(([0], ends[:-1]))
    row = 0
    while row < len(texts):
        # small blocks stay in cache: 2-3x faster than one gather of the whole batch
        stop = max(row + 1, int(np.searchsorted(ends, starts[row] + _POOL_TOKENS, "right")))
        rows = np.arange(row, stop)
        rows = rows[ends[rows] > starts[rows]]  # reduceat cannot express empty segments
        if rows.size:
            first = starts[rows[0]]
            block = model.vectors[ids[first : ends[rows[-1]]]]
            out[rows] = np.add.reduceat(block, starts[rows] - first, axis=0)
        row = stop
