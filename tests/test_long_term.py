"""The long-term tier: the LanceDB store's own operations, on real LanceDB.

Every test goes through `LanceStore.run` or `AsyncLanceStore.run` with the operation
values the rest of tiermem sends, so the store's internals may change freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tiermem.errors import StoreError
from tiermem.long_term import (
    AsyncLanceStore,
    Changes,
    Count,
    Delete,
    Export,
    Fetch,
    Filter,
    Insert,
    LanceStore,
    Operation,
    Optimize,
    Search,
    Take,
    Upsert,
    Version,
    micros,
)
from tiermem.records import Kind, MemoryRecord, Owner

DIMENSIONS = 4
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
#: ids that collide by case, spaces, SQL wildcards and quoting, or try to end a filter
HOSTILE = [
    "alice", "alice ", "ALICE", "al_ce", "al%", "%", "_", "alice' OR '1'='1", "'", "\"",
    "x'); DELETE FROM records; --", "None", "NULL", "a\\", "東京", "alice\u200b",
]  # fmt: skip


def record(n: int, text: str = "", **fields: Any) -> MemoryRecord:
    return MemoryRecord(
        id=fields.pop("id", f"r{n:05d}"),
        kind=fields.pop("kind", Kind.TURN),
        text=text or f"turn number {n}",
        timestamp=fields.pop("timestamp", BASE + timedelta(minutes=n)),
        seq=fields.pop("seq", n),
        **fields,
    )


def vectors(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, DIMENSIONS)).astype(np.float32)


def new_store(uri: str = "memory://") -> LanceStore:
    return LanceStore(uri, table="records", embedder="test", dimensions=DIMENSIONS)


@pytest.fixture
def store() -> Iterator[LanceStore]:
    lance = new_store()
    yield lance
    lance.close()


def insert(store: LanceStore, records: list[MemoryRecord], seed: int = 0) -> np.ndarray:
    matrix = vectors(len(records), seed)
    store.run(Insert(records, matrix))
    return matrix


def ids(found: list[MemoryRecord]) -> list[str]:
    return sorted(r.id for r in found)


# --- writing and reading back ----------------------------------------------------------


FULL = record(
    7,
    "Ünïcödé ☃ 東京 🙂\nsecond line, 'quoted' and \"double\" <|endoftext|>",
    kind=Kind.MEMORY, role="assistant", session_id="s'1", user_id="u%", agent_id="a_",
    timestamp=BASE + timedelta(microseconds=123_457), importance=0.25,
    tags=("travel", "it's", "100%"), metadata={"name": "Dr. O'Neil", "nested": {"k": [1, 2.5]}},
    covers=("r00001", "r00002"), tokens=42, expires_at=BASE + timedelta(days=400), pinned=True,
)  # fmt: skip


def test_every_field_comes_back_as_written() -> None:
    with_store = new_store()
    insert(with_store, [FULL, record(1)])
    (found,) = with_store.run(Fetch(Filter(ids=(FULL.id,))))
    assert found == FULL
    (plain,) = with_store.run(Fetch(Filter(ids=("r00001",))))
    assert plain == record(1)  # no owner, no tags, no expiry: None and empty, not ""
    with_store.close()


def test_a_folder_store_keeps_its_rows_across_a_reopen(tmp_path: Path) -> None:
    first = new_store(str(tmp_path / "store"))
    written = insert(first, [FULL, record(1), record(2)])
    first.close()
    again = new_store(str(tmp_path / "store"))
    assert again.run(Count(Filter())) == 3
    exported = again.run(Export(offset=0, limit=10))
    by_id = {r.id: (r, v) for r, v in exported}
    assert by_id[FULL.id][0] == FULL
    np.testing.assert_array_equal(by_id[FULL.id][1], written[0])
    again.close()


def test_another_embedder_or_size_is_refused_on_open(tmp_path: Path) -> None:
    new_store(str(tmp_path / "store")).close()
    with pytest.raises(StoreError, match="embedded with 'test'"):
        LanceStore(str(tmp_path / "store"), table="records", embedder="other", dimensions=4)
    with pytest.raises(StoreError, match="4 dims"):
        LanceStore(str(tmp_path / "store"), table="records", embedder="test", dimensions=8)


def test_upsert_replaces_by_id_and_adds_the_new(store: LanceStore) -> None:
    insert(store, [record(1), record(2)])
    before = store.run(Version())
    changed = record(2, "turn two, edited", pinned=True)
    store.run(Upsert([changed, record(3)], vectors(2, seed=5)))
    assert store.run(Version()) > before
    assert store.run(Count(Filter())) == 3
    (found,) = store.run(Fetch(Filter(ids=("r00002",))))
    assert found == changed
    taken = {r.id: v for r, v, _ in store.run(Take(["r00002", "r00003"]))}
    np.testing.assert_array_equal(taken["r00002"], vectors(2, seed=5)[0])


def test_fetch_limit_and_count_agree_with_the_scope(store: LanceStore) -> None:
    insert(store, [record(i, session_id="s" if i % 2 else "t") for i in range(10)])
    assert store.run(Count(Filter(session_id="s"))) == 5
    assert len(store.run(Fetch(Filter(session_id="s"), limit=3))) == 3
    assert len(store.run(Fetch(Filter(session_id="s")))) == 5
    assert store.run(Fetch(Filter(session_id="nobody"))) == []


def test_take_and_changes_report_when_each_row_was_written(store: LanceStore) -> None:
    store.run(Insert([record(1), record(2)], vectors(2), written=[1_000, 2_000]))
    store.run(Insert([record(3)], vectors(1), written=3_000))
    taken = store.run(Take(["r00001", "r00003", "missing"]))
    assert sorted((r.id, w) for r, _, w in taken) == [("r00001", 1_000), ("r00003", 3_000)]
    version, rows, gone = store.run(Changes(since=2_000))
    assert version == store.run(Version())
    assert sorted(rows) == [("r00002", 2_000), ("r00003", 3_000)]
    assert gone == []


# --- deleting -----------------------------------------------------------------------------


def test_delete_takes_its_scope_only_and_records_what_it_took(store: LanceStore) -> None:
    insert(store, [record(i, user_id="u" if i < 3 else "v") for i in range(6)])
    before = store.run(Version())
    store.run(Delete(Filter(user_id="u")))
    assert ids(store.run(Fetch(Filter()))) == ["r00003", "r00004", "r00005"]
    _, _, gone = store.run(Changes(since=0))
    assert sorted(i for i, _ in gone) == ["r00000", "r00001", "r00002"]
    assert store.run(Version()) > before


def test_a_delete_that_matches_nothing_writes_no_version(store: LanceStore) -> None:
    insert(store, [record(1, user_id="u")])
    before = store.run(Version())
    assert store.run(Delete(Filter(user_id="nobody"))) == before
    assert store.run(Count(Filter())) == 1


def test_a_delete_without_a_filter_is_refused(store: LanceStore) -> None:
    insert(store, [record(1)])
    with pytest.raises(StoreError, match="refusing to delete without a filter"):
        store.run(Delete(Filter()))
    assert store.run(Count(Filter())) == 1


# --- scopes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded() -> Iterator[LanceStore]:
    """Two rows for each hostile id as a user, an agent, a session and a tag."""
    lance = new_store()
    rows = []
    for n, value in enumerate(HOSTILE):
        rows += [
            record(100 + n, f"note of {value}", user_id=value, session_id="shared"),
            record(200 + n, f"note of {value}", user_id=value, session_id="shared"),
            record(300 + n, f"agent note {value}", agent_id=value, kind=Kind.MEMORY),
            record(400 + n, f"session note {value}", session_id=value),
            record(500 + n, f"tagged note {value}", tags=(value,), kind=Kind.MEMORY),
        ]
    insert(lance, rows)
    yield lance
    lance.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_or_colliding_id_selects_its_own_rows(crowded: LanceStore, value: str) -> None:
    n = HOSTILE.index(value)
    expected = [
        (Filter(user_id=value), [f"r{100 + n:05d}", f"r{200 + n:05d}"]),
        (Filter(agent_id=value), [f"r{300 + n:05d}"]),
        (Filter(session_id=value), [f"r{400 + n:05d}"]),
        (Filter(tags=(value,)), [f"r{500 + n:05d}"]),
    ]
    for scope, wanted in expected:
        assert ids(crowded.run(Fetch(scope))) == wanted
        assert crowded.run(Count(scope)) == len(wanted)
    # both halves of a search stay in the scope, however well other rows match
    text, nearest = crowded.run(Search(f"note of {value}", vectors(1)[0],
                                       Filter(user_id=value), limit=50))  # fmt: skip
    assert {r.user_id for r, _ in text + nearest} == {value}


def test_a_hostile_id_deletes_its_own_rows_only() -> None:
    lance = new_store()
    insert(lance, [record(n, user_id=value) for n, value in enumerate(HOSTILE)])
    for n, value in enumerate(HOSTILE):
        lance.run(Delete(Filter(user_id=value)))
        left = lance.run(Fetch(Filter()))
        assert sorted(r.user_id or "" for r in left) == sorted(HOSTILE[n + 1 :])
    lance.close()


def test_ids_that_are_not_ours_match_nothing(crowded: LanceStore) -> None:
    assert crowded.run(Fetch(Filter(ids=("r00100' OR '1'='1",)))) == []
    assert crowded.run(Count(Filter(ids=("%",)))) == 0
    found = crowded.run(Fetch(Filter(ids=("r00100", "r00100' OR '1'='1"))))
    assert ids(found) == ["r00100"]


OWNERS: list[Owner] = [
    (None, None, "s"), ("u", None, "s"), ("u", "a", "s"), (None, "a", "s"), ("u", None, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def owned() -> Iterator[LanceStore]:
    lance = new_store()
    insert(lance, [record(n, user_id=u, agent_id=a, session_id=s)
                   for n, (u, a, s) in enumerate(OWNERS)])  # fmt: skip
    yield lance
    lance.close()


def owners(found: list[MemoryRecord]) -> set[Owner]:
    return {r.owner for r in found}


def test_none_is_any_id_unless_exact(owned: LanceStore) -> None:
    assert owners(owned.run(Fetch(Filter(session_id="s")))) == set(OWNERS[:4])
    assert owners(owned.run(Fetch(Filter(user_id="u")))) == {OWNERS[1], OWNERS[2], OWNERS[4]}
    # exact: None means "without that id", as an anonymous session's window needs
    assert owners(owned.run(Fetch(Filter(session_id="s", exact=True)))) == {(None, None, "s")}
    assert owners(owned.run(Fetch(Filter(user_id="u", exact=True)))) == {("u", None, None)}
    for owner in OWNERS:
        assert owners(owned.run(Fetch(Filter.of(owner)))) == {owner}
        assert owned.run(Count(Filter.of(owner))) == 1


def test_an_exact_delete_leaves_the_owners_around_it() -> None:
    lance = new_store()
    insert(lance, [record(n, user_id=u, agent_id=a, session_id=s)
                   for n, (u, a, s) in enumerate(OWNERS)])  # fmt: skip
    lance.run(Delete(Filter.of((None, None, "s"))))
    assert owners(lance.run(Fetch(Filter()))) == set(OWNERS[1:])
    lance.close()


def test_kind_seq_time_pin_and_expiry_filters(store: LanceStore) -> None:
    expired, later = BASE - timedelta(days=1), BASE + timedelta(days=1)
    insert(store, [
        record(0, session_id="s"),
        record(1, session_id="s", pinned=True),
        record(2, session_id="s", kind=Kind.SUMMARY),
        record(3, kind=Kind.MEMORY, expires_at=expired),
        record(4, kind=Kind.MEMORY, expires_at=later),
    ])  # fmt: skip
    assert ids(store.run(Fetch(Filter(kinds=(Kind.MEMORY, Kind.SUMMARY))))) == [
        "r00002", "r00003", "r00004"]  # fmt: skip
    assert ids(store.run(Fetch(Filter(after_seq=2)))) == ["r00003", "r00004"]
    assert ids(store.run(Fetch(Filter(before=micros(BASE + timedelta(minutes=1)))))) == ["r00000"]
    assert ids(store.run(Fetch(Filter(pinned=True)))) == ["r00001"]
    assert len(store.run(Fetch(Filter(pinned=False)))) == 4
    assert "r00003" not in ids(store.run(Fetch(Filter(alive_at=micros(BASE)))))
    assert ids(store.run(Fetch(Filter(expired_at=micros(BASE))))) == ["r00003"]
    assert ids(store.run(Fetch(Filter(turns_at=((("u", None, "s"), 0),))))) == []
    anonymous = (None, None, "s")
    turns = Filter(turns_at=((anonymous, 0), (anonymous, 2)))  # seq 2 is a summary
    assert ids(store.run(Fetch(turns))) == ["r00000"]


# --- search, export, upkeep -----------------------------------------------------------------


def test_search_ranks_text_and_vectors_within_the_scope(store: LanceStore) -> None:
    texts = ["ferry to Porto on Friday", "a dentist appointment", "the ferry was late",
             "garden party", "Porto wine tasting"]  # fmt: skip
    matrix = insert(store, [record(n, t, user_id="u") for n, t in enumerate(texts)])
    insert(store, [record(9, "ferry ferry ferry Porto", user_id="v")], seed=9)
    text, nearest = store.run(Search("ferry Porto", matrix[3], Filter(user_id="u"), limit=2))
    # the turn with both words first, then one with either; the other user's none
    assert text[0][0].id == "r00000"
    assert text[1][0].id in {"r00002", "r00004"}
    assert text[0][1] > text[1][1]
    # the nearest vector first, then every text hit the vector half did not return
    assert nearest[0][0].id == "r00003"
    assert nearest[0][1] == pytest.approx(0.0, abs=1e-6)
    assert {r.id for r, _ in text} <= {r.id for r, _ in nearest}
    assert {r.user_id for r, _ in text + nearest} == {"u"}


def test_either_half_of_a_search_may_be_skipped(store: LanceStore) -> None:
    matrix = insert(store, [record(n, f"ferry {n}") for n in range(3)])
    text, nearest = store.run(Search("ferry", None, Filter(), limit=5))
    assert len(text) == 3
    assert nearest == []
    text, nearest = store.run(Search(None, matrix[1], Filter(), limit=1))
    assert text == []
    assert [r.id for r, _ in nearest] == ["r00001"]


def test_export_pages_cover_every_row_once_with_its_vector(store: LanceStore) -> None:
    rows = [record(n, expires_at=BASE if n == 4 else None) for n in range(7)]
    matrix = insert(store, rows)
    pages = [store.run(Export(offset=o, limit=3)) for o in (0, 3, 6)]
    exported = {r.id: v for page in pages for r, v in page}
    assert sorted(exported) == [r.id for r in rows]
    for n, row in enumerate(rows):
        np.testing.assert_array_equal(exported[row.id], matrix[n])
    alive = store.run(Export(offset=0, limit=10, alive_at=micros(BASE)))
    assert sorted(r.id for r, _ in alive) == [r.id for r in rows if r.id != "r00004"]


def test_optimize_keeps_every_row_and_search_finds_them(store: LanceStore) -> None:
    for n in range(3):  # three writes: three fragments to compact
        insert(store, [record(n, f"parcel {n}")], seed=n)
    store.run(Delete(Filter(ids=("r00001",))))
    assert store.run(Optimize()) == 2
    assert ids(store.run(Fetch(Filter()))) == ["r00000", "r00002"]
    text, _ = store.run(Search("parcel", None, Filter(), limit=5))
    assert sorted(r.id for r, _ in text) == ["r00000", "r00002"]


# --- async --------------------------------------------------------------------------------


def _comparable(result: Any) -> Any:
    """Results with vectors as lists, so that sync and async results compare with ==."""
    if isinstance(result, np.ndarray):
        return result.tolist()
    if isinstance(result, list | tuple):
        return [_comparable(r) for r in result]
    return result


READS: list[Operation] = [
    Fetch(Filter(user_id="u")),
    Fetch(Filter(session_id="s", exact=True), limit=2),
    Count(Filter(user_id="alice' OR '1'='1")),
    Count(Filter()),
    Search("ferry Porto", None, Filter(user_id="u"), limit=3),
    Search(None, vectors(1, seed=3)[0], Filter(session_id="s"), limit=3),
    Export(offset=1, limit=4),
    Take(["r00001", "r00003"]),
    Version(),
]


async def test_async_reads_match_the_sync_ones(store: LanceStore) -> None:
    insert(store, [
        record(n, ("ferry to Porto", "garden", "Porto again")[n % 3],
               user_id=("u", "alice' OR '1'='1", None)[n % 3], session_id="s")
        for n in range(6)
    ])  # fmt: skip
    native = AsyncLanceStore(store)
    for op in READS:
        assert _comparable(await native.run(op)) == _comparable(store.run(op)), op


async def test_async_writes_are_read_by_the_sync_store(store: LanceStore) -> None:
    native = AsyncLanceStore(store)
    await native.run(Insert([record(1, user_id="u"), record(2, user_id="v")], vectors(2)))
    await native.run(Upsert([record(2, "edited", user_id="v")], vectors(1)))
    assert [r.text for r in store.run(Fetch(Filter(user_id="v")))] == ["edited"]
    await native.run(Delete(Filter(user_id="u")))
    assert ids(store.run(Fetch(Filter()))) == ["r00002"]
    assert await native.run(Optimize()) == 1
    with pytest.raises(StoreError, match="refusing to delete without a filter"):
        await native.run(Delete(Filter()))
