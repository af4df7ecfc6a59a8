"""The hard guarantee: a context never exceeds its budget, whatever the inputs.

The packer and `fit` are pure, so the guarantee is checked on them directly over
thousands of generated candidate sets, with the real tokenizer; a few hundred
end-to-end contexts then check that `build_context` hands them what it should.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiermem import MemoryConfig, TieredMemory
from tiermem.config import ContextConfig
from tiermem.context import (
    MEMORY_HEADER,
    Candidate,
    Context,
    ContextBuilder,
    Packing,
    Tier,
    exact_tokens,
    fit,
    memory_section_cost,
    message_tokens,
    pack,
    turn_message,
)
from tiermem.records import COVERS_SEQ, Kind, MemoryRecord, ScoreParts, SearchHit
from tiermem.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, CachedCounter, TiktokenCounter

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=300,
).filter(lambda s: s.strip())

# --- the packer and `fit`, directly -----------------------------------------------

TOKENIZER = TiktokenCounter("cl100k_base")
COUNTER = CachedCounter(TOKENIZER)  # as the builder prices with; the check counts afresh
BUILDER = ContextBuilder(TOKENIZER, ContextConfig())
BASE = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
# pieces whose seams BPE merges or splits: digits, spaces, newlines, emoji, specials
PIECES = [
    "Ok.", "short", " ", "\n", "\n\n", "\t", "x" * 40, "1", "2024", "-05-08", " 13:56",
    "Ünïcödé ☃ 東京", "🙂", "🙂🙂🙂", "<|endoftext|>", "Dr. O'Neil", " / ", "a.b.c.d.e.f ",
    "The meeting is on 2024-05-08 at 13:56.", "  trailing  ", "line one\nline two",
    "Caroline", "ferry to Porto", "{\"json\": [1, 2]}", "'; DROP TABLE records; --",
]  # fmt: skip
# odd characters for text of its own: accents, CJK, emoji, combining marks, controls
ODD = "aé東京🙂\u0301\u200b \n\t.:-'\"0123456789<|>/\\ΩЖ"
SPEAKERS = [None, "Caroline", "Melanie", "Dr. O'Neil", "東京", "a b"]
# minutes between turns: the same minute, a few apart, hours, a day
STEPS = [0, 0, 1, 7, 600, 1440]


@dataclass(frozen=True)
class Case:
    candidates: list[Candidate]
    budget: int
    pinned_budget: int
    token_exponent: float


#: a budget: tiny (nothing fits), a few turns' worth, or most of everything
BUDGETS = st.tuples(
    st.one_of(st.integers(1, 40), st.integers(1, 400), st.integers(1, 4000)),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),  # the recent turns' share
    st.sampled_from([0.0, 0.5, 1.0]),  # the token exponent
)


def _text(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return "".join(rng.choices(PIECES, k=rng.randint(1, 5)))
    return "".join(rng.choices(ODD, k=rng.randint(1, 60)))


def _record(seq: int, text: str, minute: int, **fields: Any) -> MemoryRecord:
    return MemoryRecord(
        id=f"r{seq:04d}" if "id" not in fields else fields.pop("id"),
        kind=fields.pop("kind", Kind.TURN), text=text,
        timestamp=BASE + timedelta(minutes=minute), seq=seq, **fields,
    )  # fmt: skip


def _priced(record: MemoryRecord) -> MemoryRecord:
    """A turn with its message cost, as `add_message` stores it."""
    return replace(record, tokens=message_tokens(COUNTER, turn_message(record)))


def _unit(rng: random.Random, seq: int, minute: int) -> list[MemoryRecord]:
    """A turn, or an assistant turn calling tools followed by every tool result."""
    owner = {"session_id": "s", "user_id": "u"}
    pinned = rng.random() < 0.15  # by its user, now and then
    calls = rng.randint(1, 2) if rng.random() < 0.25 else 0
    if not calls:
        role = rng.choice(["user", "assistant", "user", "system"])
        name = rng.choice(SPEAKERS)
        metadata = {"name": name} if name else {}
        return [_priced(_record(seq, _text(rng), minute, role=role, pinned=pinned,
                                metadata=metadata, **owner))]  # fmt: skip
    ids = [f"call_{seq}_{i}" for i in range(calls)]
    tool_calls = [{"id": i, "type": "function",
                   "function": {"name": "lookup", "arguments": json.dumps({"q": _text(rng)})}}
                  for i in ids]  # fmt: skip
    call = _record(seq, rng.choice(["", "Let me check."]), minute, role="assistant",
                   pinned=pinned, metadata={"tool_calls": tool_calls}, **owner)  # fmt: skip
    results = [
        _record(seq + 1 + n, _text(rng), minute, role="tool",
                metadata={"tool_call_id": i}, **owner)
        for n, i in enumerate(ids)
    ]  # fmt: skip
    return [_priced(call), *(_priced(r) for r in results)]


@st.composite
def cases(draw: st.DrawFn) -> list[Case]:
    """Candidates as `ContextBuilder` makes them for `TieredMemory` from a session's
    window (units with tool calls, some pinned by their user), its summaries, its
    pinned turns, and search hits of every kind with their scores.

    Hypothesis draws the shape and the budget; the texts, times and scores come from a
    random generator it seeds, as drawing each of them costs more than the check.
    """
    rng = random.Random(draw(st.integers(0, 2**32)))
    units: list[list[MemoryRecord]] = []
    seq, minute = 0, 0
    for _ in range(draw(st.integers(0, 14))):
        minute += rng.choice(STEPS)
        units.append(_unit(rng, seq, minute))
        seq += len(units[-1])
    in_window = draw(st.integers(0, len(units)))
    evicted, window = units[: len(units) - in_window], units[len(units) - in_window :]
    old = [r for unit in evicted for r in unit]
    summaries = []
    for n in range(draw(st.integers(0, 2)) if old else 0):
        first = rng.randrange(len(old))
        last = rng.randrange(first, len(old))
        span = [old[first].seq, old[last].seq]
        summaries.append(_record(old[last].seq, _text(rng), minute, id=f"sum{n}",
                                 kind=Kind.SUMMARY, session_id="s", user_id="u",
                                 metadata={COVERS_SEQ: span}))  # fmt: skip
    others = [
        _record(1000 + n, _text(rng), rng.randrange(3 * 24 * 60), id=f"hit{n}", kind=kind,
                role="user" if kind is Kind.TURN else None, session_id="elsewhere",
                user_id="u", metadata={"name": rng.choice(SPEAKERS) or "user"})
        for n in range(draw(st.integers(0, 8)))
        for kind in [rng.choice([Kind.MEMORY, Kind.TURN])]
    ]  # fmt: skip
    # found by the search: some of every tier (a turn of the window, a summary, an
    # older turn of the session) and whatever else matched
    found = [r for r in [*(r for u in window for r in u), *summaries, *old] if rng.random() < 0.5]
    hits = [SearchHit(r, rng.random(), ScoreParts()) for r in [*found, *others]]
    held = [r for unit in units for r in unit if r.pinned]  # the session's pinned turns
    candidates = BUILDER.candidates(window, summaries, hits, held)
    # each set under several budgets: building it costs more than packing it
    budgets = draw(st.lists(BUDGETS, min_size=2, max_size=10))
    return [Case(candidates, budget, int(budget * share), exponent)
            for budget, share, exponent in budgets]  # fmt: skip


def _pack(case: Case) -> tuple[Packing, Context]:
    packing = pack(
        candidates=case.candidates, budget=case.budget, pinned_budget=case.pinned_budget,
        section_costs={"memory": memory_section_cost(COUNTER)},
        token_exponent=case.token_exponent,
    )  # fmt: skip
    return packing, fit(packing.decisions, budget=case.budget, counter=COUNTER)


def _counted_afresh(messages: Sequence[Mapping[str, Any]]) -> int:
    """What a chat request of these messages costs, from the encoding itself."""
    encode = TOKENIZER.encoding.encode
    if not messages:
        return 0

    def tokens(text: str) -> int:
        return len(encode(text, disallowed_special=()))

    total = REPLY_PRIMING
    for m in messages:
        total += MESSAGE_OVERHEAD + tokens(m["role"]) + tokens(m["content"])
        total += tokens(json.dumps(m["tool_calls"], ensure_ascii=False)) if "tool_calls" in m else 0
        total += tokens(m["tool_call_id"]) if "tool_call_id" in m else 0
    return total


def _most_it_costs(candidate: Candidate) -> int:
    """The most a candidate can add: its line, its day's heading, a time in each."""
    heading = candidate.heading
    if heading is None:
        return candidate.tokens
    return candidate.tokens + heading.tokens + heading.time_tokens + heading.line_time_tokens


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(budgeted=cases())
def test_a_packed_and_fitted_context_is_within_budget_and_decides_each_candidate_once(
    budgeted: list[Case],
) -> None:
    for case in budgeted:
        _check(case)


def _check(case: Case) -> None:
    packing, context = _pack(case)
    assert packing.tokens <= case.budget
    for d in packing.decisions:
        if d.reason.startswith("over budget"):
            needs, left = (int(w.strip(",")) for w in d.reason.split()[3:5])
            assert needs > left >= 0
    _check_fitted(case, packing, context, case.budget)
    _check_pinning(case, packing)
    _check_summaries(case, packing)
    # the packer's estimate is seldom over: squeezed below the exact count, `fit` must
    # give back kept candidates until the rest fits, by the same rules
    if context.token_count:
        squeezed = context.token_count * 2 // 3
        tight = fit(packing.decisions, budget=squeezed, counter=COUNTER)
        assert tight.left_out != context.left_out
        _check_fitted(case, packing, tight, squeezed)


def _check_fitted(case: Case, packing: Packing, context: Context, budget: int) -> None:
    assert context.token_count <= budget
    assert context.token_count == _counted_afresh(context.messages)
    # every candidate exactly once, kept or left out, in the packing and in the context
    for decisions in (packing.decisions, context.decisions):
        assert sorted(id(d.candidate) for d in decisions) == sorted(map(id, case.candidates))
    assert len(context.kept) + len(context.left_out) == len(case.candidates)
    # `fit` only gives back: what it leaves out that the packer kept, it says why
    kept_by_pack = {id(c) for c in packing.kept}
    dropped = [d for d in context.decisions if not d.kept and id(d.candidate) in kept_by_pack]
    assert {id(c) for c in context.kept} <= kept_by_pack
    assert all(d.reason == "dropped: exact count over budget" for d in dropped)
    # ... and the weakest first: the user's pins last, then the recent turns, then by score
    for d in dropped:
        weakest = (d.candidate.held, d.candidate.pinned, d.candidate.score)
        assert all((c.held, c.pinned, c.score) >= weakest for c in context.kept)
    _check_rendered(context)


def _check_rendered(context: Context) -> None:
    """The memory message first, then exactly the kept recent turns in order, each tool
    result right after the call it answers."""
    memory = [r for c in context.kept if c.tier is not Tier.SHORT_TERM for r in c.records]
    recent = sorted((r for c in context.kept if c.tier is Tier.SHORT_TERM for r in c.records),
                    key=lambda r: r.seq)  # fmt: skip
    messages = context.messages
    if memory:
        assert messages[0]["role"] == "system"
        assert messages[0]["content"].startswith(MEMORY_HEADER)
        for record in memory:
            shown = record.text.replace("\n", " / ") if record.kind is Kind.SUMMARY else record.text
            assert shown in messages[0]["content"]
        messages = messages[1:]
    assert messages == [turn_message(r) for r in recent]
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_calls
            open_calls.discard(message["tool_call_id"])
        else:
            assert not open_calls  # no call was left without its result
            open_calls = {c["id"] for c in message.get("tool_calls", ())}
    assert not open_calls


def _check_pinning(case: Case, packing: Packing) -> None:
    """The rules `pack` documents for the newest turn, the recent ones, and pinned ones."""
    reasons = {id(d.candidate): d.reason for d in packing.decisions if d.kept}
    pinned = [c for c in case.candidates if c.pinned]
    if not pinned:
        return
    newest, rest = pinned[0], [c for c in pinned[1:] if not c.held]
    newest_kept = reasons.get(id(newest), "").startswith("newest turn")
    # the newest turn goes in whenever it fits the whole budget
    assert newest_kept == (newest.tokens + REPLY_PRIMING <= case.budget)
    # the recent turns kept as such are the newest ones, unbroken, within their share
    recent = [c for c in rest if reasons.get(id(c)) == "recent turn"]
    assert recent == rest[: len(recent)]
    assert newest_kept or not recent
    if recent:
        shared = REPLY_PRIMING + newest.tokens + sum(c.tokens for c in recent)
        assert shared <= case.pinned_budget
    held = [c for c in case.candidates if c.held and c is not newest]
    if newest_kept and not any(reasons.get(id(c), "").endswith("pinned by user") for c in held):
        # nothing pinned by its user went in: the first recent turn left out did not fit
        following = rest[len(recent) :]
        if following:
            used = REPLY_PRIMING + newest.tokens + sum(c.tokens for c in recent)
            assert used + following[0].tokens > min(case.pinned_budget, case.budget)
    # the turns their user pinned all go in when all of them fit together
    section = memory_section_cost(COUNTER)
    together = sum(_most_it_costs(c) for c in held) + section + REPLY_PRIMING
    together += newest.tokens if newest_kept else 0
    if together <= case.budget:
        assert all(reasons.get(id(c), "").endswith("pinned by user") for c in held)


def _check_summaries(case: Case, packing: Packing) -> None:
    """A summary is left out as covered only when every turn it covers is kept."""
    kept = {id(c) for c in packing.kept}
    for d in packing.decisions:
        if not d.reason.startswith("covered"):
            continue
        summary = d.candidate.records[0]
        covering = [
            c for c in case.candidates
            if any(r.kind is Kind.TURN and r.session_id == summary.session_id
                   and r.seq in summary.covered_seqs for r in c.records)
        ]  # fmt: skip
        assert covering
        assert all(id(c) in kept for c in covering)


# --- end to end: `build_context` on a real store -------------------------------------


@pytest.fixture(scope="module")
def varied() -> Iterator[TieredMemory]:
    """Every tier filled for user u in session s, and a neighbour sharing the session id."""
    config = MemoryConfig(tokenizer="cl100k_base", short_term={"max_tokens": 300},
                          medium_term={"trigger_tokens": 200})  # fmt: skip
    samples = [
        "short", "Ünïcödé ☃ 東京 🙂 " * 5, "line one\nline two\n\n\tindented", "x" * 900,
        "The meeting is on 2024-05-08 at 13:56 with Dr. O'Neil.", "<|endoftext|> tokens",
        "\n\n\n", "a.b.c.d.e.f " * 40, "Ok.", "🙂" * 60,
    ]  # fmt: skip
    mem = TieredMemory("memory://", config=config)
    for i in range(60):
        role = ("user", "assistant")[i % 2]
        mem.add_message(role, samples[i % len(samples)] + f" #{i}", session_id="s", user_id="u")
        if i % 20 == 5:  # a tool call and its result, which must stay together
            call = {"id": f"call_{i}", "type": "function",
                    "function": {"name": "lookup", "arguments": "{\"q\": \"tea\"}"}}  # fmt: skip
            mem.add_message("assistant", "", session_id="s", user_id="u",
                            metadata={"tool_calls": [call]})  # fmt: skip
            mem.add_message("tool", f"found {i}", session_id="s", user_id="u",
                            metadata={"tool_call_id": f"call_{i}"})  # fmt: skip
        if i == 30:
            mem.add_message("user", "pinned: my passport number ends 4411",
                            session_id="s", user_id="u", pinned=True)  # fmt: skip
    mem.remember("Prefers tea over coffee", user_id="u", importance=0.9)
    # another user in a session of the same id: nothing of theirs may show
    mem.add_message("user", "NEIGHBOUR secret: tea #1 short", session_id="s", user_id="v")
    mem.remember("NEIGHBOUR prefers coffee", user_id="v")
    assert mem.stats(user_id="u")["summaries"] > 0  # every tier is in play
    yield mem
    mem.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.one_of(st.none(), TEXT), budget=st.integers(1, 3000))
def test_context_never_exceeds_budget(varied: TieredMemory, query: str | None,
                                      budget: int) -> None:  # fmt: skip
    ctx = varied.build_context(query, session_id="s", user_id="u", max_tokens=budget)
    assert ctx.token_count <= budget
    assert ctx.token_count == exact_tokens(varied.token_counter, ctx.messages)
    for message in ctx.messages[1:]:
        assert message["role"] in {"user", "assistant", "tool"}
    assert "NEIGHBOUR" not in ctx.text
    assert {r.user_id for c in ctx.kept for r in c.records} <= {"u"}
    for i, message in enumerate(ctx.messages):
        if message["role"] == "tool":
            assert ctx.messages[i - 1]["tool_calls"][0]["id"] == message["tool_call_id"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT, min_size=1, max_size=6), budget=st.integers(1, 600))
def test_any_conversation_fits(texts: list[str], budget: int) -> None:
    with TieredMemory("memory://", config=MemoryConfig(short_term={"max_tokens": 100})) as mem:
        for text in texts:
            mem.add_message("user", text)
        ctx = mem.build_context(texts[-1], max_tokens=budget)
        assert ctx.token_count <= budget
        assert ctx.token_count == exact_tokens(mem.token_counter, ctx.messages)
        newest = ctx.messages[-1]["content"] if ctx.messages else None
        if mem.token_counter.count_message("user", texts[-1]) + 3 <= budget:
            assert newest == texts[-1]  # the newest turn is kept whenever it can be
