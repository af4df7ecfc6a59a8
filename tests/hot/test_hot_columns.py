"""Row columns: exact scope masks whatever the ids hold, tombstones, neighbour lookup."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hot_data import turns

from tiermem.hot.columns import NONE_CODE, Columns, Interner, ScopeFilter
from tiermem.records import Kind

HOSTILE = ["u1", "u1 ", "U1", "u1' OR '1'='1", "u1\u200b", "", "None", "%", "*"]


def test_interner_gives_none_its_own_code_and_never_reuses_one() -> None:
    names = Interner()
    assert names.code(None) == NONE_CODE
    assert names.find("never") is None
    codes = [names.code(n) for n in HOSTILE]
    assert len(set(codes)) == len(HOSTILE)
    assert NONE_CODE not in codes
    assert [names.code(n) for n in HOSTILE] == codes


def _columns_of(user_ids: list[str | None], session: str = "s") -> Columns:
    columns = Columns()
    records = [dataclasses.replace(r, user_id=u, session_id=session)
               for r, u in zip(turns(len(user_ids)), user_ids, strict=True)]  # fmt: skip
    columns.append(records, [r.tokens for r in records])
    return columns


@pytest.mark.parametrize("user", HOSTILE)
def test_a_scope_mask_holds_exactly_the_rows_of_its_id(user: str) -> None:
    columns = _columns_of([*HOSTILE, None])
    mask = columns.scope_mask(ScopeFilter(user_id=user))
    assert np.flatnonzero(mask).tolist() == [HOSTILE.index(user)]


def test_an_unknown_id_matches_nothing() -> None:
    columns = _columns_of(["a", "b"])
    assert not columns.scope_mask(ScopeFilter(user_id="c")).any()
    assert columns.scope_codes(ScopeFilter(user_id="c")) is None


def test_none_is_unrestricted_by_default_and_anonymous_when_exact() -> None:
    columns = _columns_of(["a", None, "b"])
    assert columns.scope_mask(ScopeFilter()).tolist() == [True, True, True]
    assert columns.scope_mask(ScopeFilter(session_id="s", exact=True)).tolist() == [
        False, True, False,
    ]  # fmt: skip
    assert columns.scope_codes(ScopeFilter(exact=True)) == (NONE_CODE, NONE_CODE, NONE_CODE)
    # a session id alone, not exact: every user's rows of that session
    assert columns.scope_mask(ScopeFilter(session_id="s")).all()


def test_owns_agrees_with_the_mask() -> None:
    records = [dataclasses.replace(r, user_id=u, agent_id=a)
               for r, (u, a) in zip(turns(4), [("a", None), ("a", "x"), (None, "x"),
                                               (None, None)], strict=True)]  # fmt: skip
    columns = Columns()
    columns.append(records, [1] * 4)
    for scope in (ScopeFilter(user_id="a"), ScopeFilter(agent_id="x", exact=True),
                  ScopeFilter(exact=True, session_id="s1"), ScopeFilter(agent_id="x")):  # fmt: skip
        assert columns.scope_mask(scope).tolist() == [scope.owns(r) for r in records]


def test_deleted_rows_leave_every_mask_and_the_turn_lookup() -> None:
    records = turns(3)
    columns = Columns()
    rows = columns.append(records, [5, 6, 7])
    assert columns.turn_at("u1", None, "s1", 1) == 1
    assert columns.delete([records[1].id, "unknown"]).tolist() == [1]
    assert columns.scope_mask(ScopeFilter()).tolist() == [True, False, True]
    assert columns.turn_at("u1", None, "s1", 1) is None
    assert columns.row_of(records[1].id) is None
    assert columns.live_count == 2
    assert columns.tokens(rows).tolist() == [5, 6, 7]


def test_a_record_written_again_moves_to_a_new_row() -> None:
    records = turns(2)
    columns = Columns()
    columns.append(records, [1, 1])
    rows = columns.append([dataclasses.replace(records[0], importance=0.9)], [3])
    assert rows.tolist() == [2]
    assert columns.row_of(records[0].id) == 2
    assert columns.scope_mask(ScopeFilter()).tolist() == [False, True, True]
    assert columns.turn_at("u1", None, "s1", 0) == 2
    assert columns.importance(rows).tolist() == pytest.approx([0.9])


def test_neighbours_are_keyed_by_the_whole_scope_triple() -> None:
    mine = turns(3, user_id="u1", session_id="shared")
    theirs = turns(3, user_id="u2", session_id="shared", prefix="x")
    columns = Columns()
    columns.append(mine + theirs, [1] * 6)
    assert columns.turn_at("u1", None, "shared", 2) == 2
    assert columns.turn_at("u2", None, "shared", 2) == 5
    assert columns.turn_at(None, None, "shared", 2) is None


def test_columns_grow_past_their_first_capacity_and_keep_values() -> None:
    columns = Columns()
    records = turns(2_500)
    for start in range(0, 2_500, 700):
        columns.append(
            records[start : start + 700], [r.tokens for r in records[start : start + 700]]
        )
    rows = np.arange(2_500)
    assert len(columns) == 2_500
    assert columns.seq(rows).tolist() == list(range(2_500))
    assert columns.tokens(rows).tolist() == [r.tokens for r in records]
    assert (columns.kind(rows) == 0).all()
    micros = columns.micros(rows)
    assert (np.diff(micros) == 60_000_000).all()
    assert records[0].kind is Kind.TURN


def test_a_price_per_record_is_required() -> None:
    with pytest.raises(ValueError, match="tokens"):
        Columns().append(turns(2), [1])


def test_expiry_time_and_pin_masks() -> None:
    from datetime import UTC, datetime, timedelta

    from tiermem.long_term import micros

    start = datetime(2024, 1, 1, tzinfo=UTC)
    records = [
        dataclasses.replace(r, timestamp=start + timedelta(days=i)) for i, r in enumerate(turns(3))
    ]
    records[0] = dataclasses.replace(records[0], expires_at=start + timedelta(days=10))
    records[1] = dataclasses.replace(records[1], pinned=True)
    columns = Columns()
    columns.append(records, [1, 1, 1])
    assert (columns.may_expire, columns.may_pin) == (True, True)
    at = micros(start + timedelta(days=10))
    assert columns.alive_at(at - 1).tolist() == [True, True, True]
    assert columns.alive_at(at).tolist() == [False, True, True]  # expired at its very time
    assert columns.expired_at(at).tolist() == [True, False, False]
    assert columns.before(micros(start + timedelta(days=1))).tolist() == [True, False, False]
    assert columns.pinned(True).tolist() == [False, True, False]
    assert columns.pinned(False).tolist() == [True, False, True]
    assert (Columns().may_expire, Columns().may_pin) == (False, False)
