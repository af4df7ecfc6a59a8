"""Full-text search in RAM with tantivy, tokenised and scored the way LanceDB's FTS is.

LanceDB's index (``FTS(stem=True, remove_stop_words=True, language="English")``) runs
tantivy's simple tokenizer, drops tokens over 40 bytes, lowercases, stems (Snowball
English), *then* removes stop words, then folds to ASCII. The stop words are checked
after stemming, so "very" (stemmed "veri") is kept while "was" is not: the same order
here keeps the same terms. Its stop list is NLTK's English one, not tantivy's shorter
built-in list (which cut the top-160 overlap with LanceDB's BM25 to about a half).

A tantivy commit costs milliseconds, so rows are committed in batches; until then
they sit in a small tail scored here with the same BM25, so a process always reads
its own writes. Deletes are applied at commit and hidden from results at once.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import tantivy

__all__ = ["ENGLISH_STOP_WORDS", "TextIndex", "analyzer"]

#: The English stop words LanceDB removes (NLTK's list; forms with an apostrophe never
#: reach the filter, as the simple tokenizer splits on it). Matched after stemming.
ENGLISH_STOP_WORDS: tuple[str, ...] = tuple(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now d ll m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma
    mightn mustn needn shan shouldn wasn weren won wouldn""".split()
)
#: LanceDB's default ``max_token_length``: tokens this long or longer are dropped, not cut.
MAX_TOKEN_LENGTH = 40
#: BM25 as LanceDB (and tantivy) compute it.
_K1, _B = 1.2, 0.75
_TOKENIZER = "tiermem_en"
#: rows held uncommitted before a commit: a commit per row costs 4.5 to 8 ms, per 200 about 2.6
DEFAULT_COMMIT_ROWS = 256
# tantivy's smallest writer heap per thread: memory is what a long-lived process keeps
_WRITER_HEAP = 15_000_000

Rows = NDArray[np.int64]
Scores = NDArray[np.float32]
Codes = tuple[int | None, int | None, int | None]
_SCOPE_FIELDS = ("user", "agent", "session")


def analyzer() -> tantivy.TextAnalyzer:
    """The analyzer LanceDB's English FTS index uses, filter for filter, in its order."""
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_LENGTH))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .filter(tantivy.Filter.custom_stopword(list(ENGLISH_STOP_WORDS)))
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


class _Tail:
    """Rows added since the last commit, as term counts: scored in Python until committed."""

    def __init__(self) -> None:
        self.lengths: dict[int, int] = {}
        self.codes: dict[int, tuple[int, int, int]] = {}
        self.postings: dict[str, dict[int, int]] = {}
        self.tokens = 0

    def add(self, row: int, terms: list[str], codes: tuple[int, int, int]) -> None:
        self.lengths[row] = len(terms)
        self.codes[row] = codes
        self.tokens += len(terms)
        for term, freq in Counter(terms).items():
            self.postings.setdefault(term, {})[row] = freq

    def discard(self, row: int) -> bool:
        length = self.lengths.pop(row, None)
        if length is None:
            return False
        self.tokens -= length
        del self.codes[row]
        for posting in self.postings.values():
            posting.pop(row, None)
        return True

    def clear(self) -> None:
        self.lengths.clear()
        self.codes.clear()
        self.postings.clear()
        self.tokens = 0


class TextIndex:
    """BM25 over row texts, filtered by scope codes and an optional mask of rows.

    Args:
        commit_rows: rows kept uncommitted (scored from the tail) before a commit.
    """

    def __init__(self, *, commit_rows: int = DEFAULT_COMMIT_ROWS) -> None:
        import tantivy

        if commit_rows < 1:
            raise ValueError(f"commit_rows: must be at least 1, got {commit_rows}")
        self._analyzer = analyzer()
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("text", tokenizer_name=_TOKENIZER, index_option="freq")
        builder.add_unsigned_field("row", indexed=True, fast=True)
        for name in _SCOPE_FIELDS:
            builder.add_unsigned_field(name, indexed=True)
        self._schema = builder.build()
        self._index = tantivy.Index(self._schema)  # no path: in RAM
        self._index.register_tokenizer(_TOKENIZER, self._analyzer)
        self._index.config_reader(reload_policy="manual")
        self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        self._commit_rows = commit_rows
        self._lock = threading.RLock()
        self._tail = _Tail()
        self._dead: set[int] = set()  # committed rows deleted since the last commit
        self._docs = 0  # committed, live rows
        self._tokens = 0  # their tokens, for the average length the tail is scored with
        self._lengths: dict[int, int] = {}  # committed row -> its token count
        self._searcher = self._index.searcher()

    def terms(self, text: str) -> list[str]:
        """``text`` as the index's terms, in order, repeats kept."""
        return self._analyzer.analyze(text)

    def add(self, rows: Sequence[int], texts: Sequence[str], codes: NDArray[np.int32]) -> None:
        """Index ``texts`` as ``rows``; ``codes`` holds each row's (user, agent, session)."""
        import tantivy

        with self._lock:
            for row, text, (user, agent, session) in zip(rows, texts, codes, strict=True):
                doc = tantivy.Document()
                doc.add_text("text", text)
                doc.add_unsigned("row", int(row))
                doc.add_unsigned("user", int(user))
                doc.add_unsigned("agent", int(agent))
                doc.add_unsigned("session", int(session))
                self._writer.add_document(doc)
                self._tail.add(int(row), self.terms(text), (int(user), int(agent), int(session)))
            if len(self._tail.lengths) >= self._commit_rows:
                self.commit()

    def delete(self, rows: Iterable[int]) -> None:
        """Rows deleted now: no search returns them from this call on."""
        with self._lock:
            for row in map(int, rows):
                # by query: a term built from a Python int is typed i64 and misses the u64 field
                self._writer.delete_documents_by_query(self._row_query(row))
                if not self._tail.discard(row) and row in self._lengths:
                    self._dead.add(row)

    def commit(self) -> None:
        """Make tail rows and deletes part of the tantivy index."""
        with self._lock:
            if not self._tail.lengths and not self._dead:
                return
            self._writer.commit()
            self._index.reload()
            self._searcher = self._index.searcher()
            self._lengths.update(self._tail.lengths)
            self._docs += len(self._tail.lengths)
            self._tokens += self._tail.tokens
            for row in self._dead:
                self._tokens -= self._lengths.pop(row)
                self._docs -= 1
            self._tail.clear()
            self._dead.clear()

    @property
    def uncommitted(self) -> int:
        """Rows added or deleted since the last commit."""
        return len(self._tail.lengths) + len(self._dead)

    def search(
        self, query: str, *, limit: int, codes: Codes = (None, None, None),
        allowed: NDArray[np.bool_] | None = None,
    ) -> tuple[Rows, Scores]:  # fmt: skip
        """The best ``limit`` rows for ``query`` (BM25, best first) and their scores.

        ``codes`` narrows the search inside tantivy (None: any); ``allowed`` (a mask
        over row positions) is then checked on every hit, so it alone decides what may
        be returned. A row beyond the mask's length is not allowed.
        """
        terms = self.terms(query)  # a repeated term counts again, as in LanceDB's score
        if not terms or limit < 1:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        with self._lock:
            searcher = self._searcher
            committed = self._committed(searcher, terms, codes, allowed, limit)
            tail = self._tail_hits(searcher, terms, codes, allowed)
        rows = np.concatenate([committed[0], tail[0]])
        scores = np.concatenate([committed[1], tail[1]])
        # best first; ties by row, so the order never depends on which part found a row
        order = np.lexsort((rows, -scores))[:limit]
        return rows[order], scores[order]

    def _committed(
        self, searcher: tantivy.Searcher, terms: list[str], codes: Codes,
        allowed: NDArray[np.bool_] | None, limit: int,
    ) -> tuple[Rows, Scores]:  # fmt: skip
        if self._docs == 0 and not self._dead:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = self._query(terms, codes)
        wanted = limit + len(self._dead)
        while True:
            hits = searcher.search(query, wanted, count=False).hits
            addresses = [address for _, address in hits]
            rows = np.asarray(searcher.fast_field_values("row", addresses), dtype=np.int64)
            scores = np.asarray([score for score, _ in hits], dtype=np.float32)
            keep = np.asarray([int(r) not in self._dead for r in rows], dtype=np.bool_)
            if allowed is not None:
                keep &= _within(allowed, rows)
            if keep.sum() >= limit or len(hits) < wanted:
                return rows[keep], scores[keep]
            wanted *= 4  # the mask removed too many: look deeper

    def _row_query(self, row: int) -> tantivy.Query:
        import tantivy

        return tantivy.Query.term_query(self._schema, "row", row, index_option="basic")

    def _query(self, terms: list[str], codes: Codes) -> tantivy.Query:
        import tantivy as t

        text = t.Query.boolean_query(
            [(t.Occur.Should, t.Query.term_query(self._schema, "text", term, index_option="freq"))
             for term in terms]
        )  # fmt: skip
        clauses = [(t.Occur.Must, text)]
        for name, code in zip(_SCOPE_FIELDS, codes, strict=True):
            if code is not None:
                # a filter, not a scoring term: a constant 0 leaves the BM25 sum unchanged
                term = t.Query.term_query(self._schema, name, code, index_option="basic")
                clauses.append((t.Occur.Must, t.Query.const_score_query(term, 0.0)))
        return t.Query.boolean_query(clauses) if len(clauses) > 1 else text

    def _tail_hits(
        self, searcher: tantivy.Searcher, terms: list[str], codes: Codes,
        allowed: NDArray[np.bool_] | None,
    ) -> tuple[Rows, Scores]:  # fmt: skip
        tail = self._tail
        if not tail.lengths:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        # the statistics the index will have once the tail is committed
        docs = self._docs + len(tail.lengths)
        average = (self._tokens + tail.tokens) / docs
        scores: dict[int, float] = {}
        for term in terms:
            posting = tail.postings.get(term)
            if not posting:
                continue
            # deletes pending a commit still count in tantivy's frequencies: few, and brief
            frequency = searcher.doc_freq("text", term) + len(posting)
            idf = math.log(1.0 + (docs - frequency + 0.5) / (frequency + 0.5))
            for row, freq in posting.items():
                norm = _K1 * (1.0 - _B + _B * tail.lengths[row] / average)
                scores[row] = scores.get(row, 0.0) + idf * (_K1 + 1.0) * freq / (freq + norm)
        rows = np.fromiter(scores, dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float32, count=len(scores))
        keep = np.ones(len(rows), np.bool_) if allowed is None else _within(allowed, rows)
        for column, code in enumerate(codes):
            if code is not None:
                keep &= np.asarray([tail.codes[int(row)][column] == code for row in rows],
                                   dtype=np.bool_)  # fmt: skip
        return rows[keep], values[keep]


def _within(allowed: NDArray[np.bool_], rows: Rows) -> NDArray[np.bool_]:
    inside = rows < len(allowed)
    out = np.zeros(len(rows), np.bool_)
    out[inside] = allowed[rows[inside]]
    return out
