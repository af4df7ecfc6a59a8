"""The in-RAM full-text index: LanceDB's terms and ranking, own writes, deletes at once."""

from __future__ import annotations

import numpy as np
import pytest
from hot_data import queries, turns

from tiermem.hot.text import ENGLISH_STOP_WORDS, TextIndex, analyzer
from tiermem.long_term import Filter, Insert, LanceStore, Optimize, Search

CODES = np.array([[1, 0, 1]], np.int32)


def _codes(n: int, user: int = 1) -> np.ndarray:
    return np.repeat(np.array([[user, 0, 1]], np.int32), n, axis=0)


def test_terms_drop_stop_words_after_stemming_as_lancedb_does() -> None:
    terms = analyzer().analyze("The runners WERE very happy; was it Café Über-naïve?")
    # "very" stems to "veri", which is no stop word: LanceDB keeps it, and so must we
    assert terms == ["runner", "veri", "happi", "cafe", "uber", "naiv"]
    assert {"was", "were", "the", "ourselves", "yourself"} <= set(ENGLISH_STOP_WORDS)


def test_a_token_of_forty_bytes_or_more_is_dropped() -> None:
    # tantivy's RemoveLongFilter keeps tokens strictly shorter than its limit
    assert analyzer().analyze("a" * 40 + " kept " + "b" * 39) == ["kept", "b" * 39]


@pytest.fixture(scope="module")
def corpus() -> list:
    return turns(3_000, seed=7)


@pytest.fixture(scope="module")
def lance_store(corpus: list) -> LanceStore:
    store = LanceStore("memory://", table="records", embedder="test", dimensions=4)
    store.run(Insert(corpus, np.ones((len(corpus), 4), np.float32)))
    store.run(Optimize())  # every row in the FTS index, as a long-lived store has them
    return store


def _hot(corpus: list, commit_rows: int = 10_000) -> TextIndex:
    index = TextIndex(commit_rows=commit_rows)
    index.add(list(range(len(corpus))), [r.text for r in corpus], _codes(len(corpus)))
    return index


def test_top_160_matches_lancedb_full_text_search(corpus: list, lance_store: LanceStore) -> None:
    """The same rows, the same queries: the same top 160 and the same BM25 scores."""
    hot = _hot(corpus)
    hot.commit()
    ids = [r.id for r in corpus]
    overlaps, gaps = [], []
    for query in queries(40):
        theirs, _ = lance_store.run(Search(query, None, Filter(), 160))
        rows, scores = hot.search(query, limit=160)
        if not theirs:
            assert len(rows) == 0
            continue
        ours = {ids[r]: float(s) for r, s in zip(rows, scores, strict=True)}
        lance = {rec.id: score for rec, score in theirs}
        # a tie at the 160th score may fall either way: count only rows above it
        floor = min(lance.values())
        sure = {i for i, s in lance.items() if s > floor * (1 + 1e-5)}
        overlaps.append(len(sure & ours.keys()) / max(len(sure), 1))
        gaps += [abs(ours[i] - lance[i]) / lance[i] for i in lance.keys() & ours.keys()]
    assert np.mean(overlaps) >= 0.99, np.mean(overlaps)
    assert np.median(gaps) < 1e-3, np.median(gaps)
    assert max(gaps) < 0.02, max(gaps)


def test_uncommitted_rows_are_found_and_scored_as_after_a_commit(corpus: list) -> None:
    hot = _hot(corpus[:2_000])
    hot.commit()
    tail = corpus[2_000:2_050]
    hot.add(list(range(2_000, 2_050)), [r.text for r in tail], _codes(len(tail)))
    assert hot.uncommitted == 50
    # every match, so that the sets compare whatever the order at a cut
    before = [dict(zip(*hot.search(q, limit=3_000), strict=True)) for q in queries(20)]
    hot.commit()
    after = [dict(zip(*hot.search(q, limit=3_000), strict=True)) for q in queries(20)]
    found_in_tail = 0
    for was, now in zip(before, after, strict=True):
        assert was.keys() == now.keys()  # own writes are found before any commit
        for row in (r for r in was if r >= 2_000):
            found_in_tail += 1
            assert was[row] == pytest.approx(now[row], rel=1e-4)
    assert found_in_tail > 20


def test_a_row_is_found_right_after_it_is_added() -> None:
    hot = TextIndex(commit_rows=1_000)
    hot.add([0], ["I moved to Lisbon in May"], CODES)
    rows, scores = hot.search("where is lisbon?", limit=5)
    assert rows.tolist() == [0]
    assert scores[0] > 0


def test_deletes_hide_rows_at_once_committed_or_not(corpus: list) -> None:
    hot = _hot(corpus[:500], commit_rows=100)  # 500 rows: five commits
    hot.add([500], ["zebra crossing"], CODES)  # uncommitted
    hot.add([501], ["zebra stripes"], CODES)
    hot.delete([500])
    assert hot.search("zebra", limit=5)[0].tolist() == [501]
    committed = int(hot.search("lisbon", limit=1)[0][0])
    hot.delete([committed])
    assert committed not in hot.search("lisbon", limit=500)[0].tolist()
    hot.commit()
    assert committed not in hot.search("lisbon", limit=500)[0].tolist()
    assert hot.search("zebra", limit=5)[0].tolist() == [501]


def test_scope_codes_and_mask_both_restrict_hits() -> None:
    hot = TextIndex(commit_rows=2)
    texts = ["zebra one", "zebra two", "zebra three", "zebra four"]
    codes = np.array([[1, 0, 1], [2, 0, 1], [1, 0, 2], [2, 0, 2]], np.int32)
    hot.add([0, 1, 2], texts[:3], codes[:3])  # two committed, one in the tail
    hot.add([3], texts[3:], codes[3:])
    assert sorted(hot.search("zebra", limit=9, codes=(1, None, None))[0].tolist()) == [0, 2]
    assert sorted(hot.search("zebra", limit=9, codes=(2, None, 2))[0].tolist()) == [3]
    mask = np.array([False, True, False, False])  # row 3 lies beyond the mask: not allowed
    assert hot.search("zebra", limit=9, allowed=mask)[0].tolist() == [1]


def test_a_mask_keeping_few_rows_still_fills_the_limit(corpus: list) -> None:
    hot = _hot(corpus[:2_000])
    hot.commit()
    allowed = np.zeros(2_000, np.bool_)
    allowed[::50] = True  # 40 rows
    wanted = hot.search("the lisbon tickets", limit=2_000, allowed=allowed)[0]
    rows = hot.search("the lisbon tickets", limit=10, allowed=allowed)[0]
    assert len(rows) == min(10, len(wanted))
    assert set(rows.tolist()) <= set(np.flatnonzero(allowed))


def test_a_query_of_only_stop_words_finds_nothing() -> None:
    hot = TextIndex()
    hot.add([0], ["the and of"], CODES)
    assert hot.search("The AND of!", limit=5)[0].tolist() == []


def test_commit_rows_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="commit_rows"):
        TextIndex(commit_rows=0)
