"""Budgeted context: the pure packer, the rendering, and the `Context` it returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .config import ContextConfig

# the message functions lived here before `messages` held them: still importable here
from .messages import ChatMessage, chat_message, exact_tokens, message_tokens, turn_message
from .records import Kind, MemoryRecord, ScoreParts, SearchHit
from .tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, CachedCounter, TokenCounter

__all__ = [
    "MEMORY_HEADER",
    "Candidate",
    "Context",
    "ContextBuilder",
    "Decision",
    "Heading",
    "Packing",
    "Tier",
    "chat_message",
    "exact_tokens",
    "fit",
    "memory_candidate",
    "message_tokens",
    "pack",
    "render",
    "turn_message",
]

MEMORY_HEADER = "Relevant memory from earlier conversations (oldest first):"
_MEMORY_ROLE = "system"
_SECTION_MEMORY = "memory"
_SECTION_RECENT = "recent"


class Tier(StrEnum):
    SHORT_TERM = "short_term"
    MEDIUM_TERM = "medium_term"
    LONG_TERM = "long_term"


@dataclass(frozen=True, slots=True)
class Heading:
    """The dated line that the memory lines of one day share, and what it costs.

    A day's time goes into its heading when every kept line of that day shares it
    (``[2023-05-08 13:56]``), else in front of each line (``13:56 John: ...``).
    """

    day: str
    tokens: int  # the heading line without a time, newline included
    time: str
    time_tokens: int  # the time inside the heading
    line_time_tokens: int  # the time in front of this candidate's line


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something that may go into a context: one or more records, kept or left whole.

    ``tokens`` is the candidate's own cost; a memory line's ``heading`` is paid once
    per day, by the first line of that day that is kept.
    """

    key: str
    tier: Tier
    records: tuple[MemoryRecord, ...]
    tokens: int
    score: float
    parts: ScoreParts | None = None
    pinned: bool = False
    heading: Heading | None = None
    #: holds a turn its user pinned (``add_message(pinned=True)``), not only a recent one
    held: bool = False

    @property
    def section(self) -> str:
        return _SECTION_RECENT if self.tier is Tier.SHORT_TERM else _SECTION_MEMORY


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a candidate was kept or left out."""

    candidate: Candidate
    kept: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Packing:
    decisions: tuple[Decision, ...]
    tokens: int

    @property
    def kept(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if d.kept]


@dataclass(slots=True)
class _Day:
    """What one day's heading and times cost, for the lines of that day kept so far."""

    times: dict[str, int]  # each distinct time kept, and its cost inside the heading
    line_times: int = 0  # what putting the time in front of every kept line costs

    def extra(self, heading: Heading) -> int:
        """What keeping one more line of this day adds to the heading and the times."""
        if not self.times:
            return heading.tokens + heading.time_tokens
        if len(self.times) > 1:
            return heading.line_time_tokens
        ((only, in_heading),) = self.times.items()
        if heading.time == only:
            return 0
        # a second time: it leaves the heading, and every line gets its own
        return self.line_times + heading.line_time_tokens - in_heading

    def add(self, heading: Heading) -> None:
        self.times.setdefault(heading.time, heading.time_tokens)
        self.line_times += heading.line_time_tokens


def pack(
    *,
    candidates: Sequence[Candidate],
    budget: int,
    pinned_budget: int,
    section_costs: Mapping[str, int],
    base_cost: int = REPLY_PRIMING,
    token_exponent: float = 0.0,
) -> Packing:
    """Choose candidates best-first so that their token cost stays within ``budget``.

    Pinned candidates (the newest turns, newest first) go first while they fit in
    ``pinned_budget``; the newest one goes in whenever it fits the whole budget.
    Right after the newest, every ``held`` candidate (a turn pinned by its user) goes
    in that fits the whole budget, ahead of the other recent turns (whose share it
    does not take). Pinning stops
    at the first that does not fit, so recent turns stay contiguous;
    the rest compete with everything else by score. The first candidate of a
    section also pays that section's cost (a message header), and the first of
    all pays ``base_cost`` (the reply priming). With ``token_exponent`` above 0 the
    rest are ranked by ``score / tokens ** token_exponent``, so a short relevant turn
    goes before a long one. A candidate with a heading also pays what its day's
    heading costs more once it is kept: the heading itself for the day's first line,
    and, when its time differs from the others', the times moving onto every line.

    A summary stands for turns that are also in the store verbatim: when some of the
    turns it covers are candidates themselves (the relevant ones), it waits until they
    are decided. If they are all kept it is left out, as it would only repeat them in
    part; if some are left out, it may take their place, if it fits.
    """
    used = 0
    opened: set[str] = set()
    days: dict[str, _Day] = {}
    decisions: list[Decision] = []

    def cost(candidate: Candidate) -> int:
        extra = 0 if used else base_cost
        if candidate.section not in opened:
            extra += section_costs.get(candidate.section, 0)
        heading = candidate.heading
        if heading is not None:
            day = days.get(heading.day)
            extra += day.extra(heading) if day else heading.tokens + heading.time_tokens
        return candidate.tokens + extra

    def keep(candidate: Candidate, reason: str) -> None:
        nonlocal used
        used += cost(candidate)
        opened.add(candidate.section)
        heading = candidate.heading
        if heading is not None:
            days.setdefault(heading.day, _Day({})).add(heading)
        decisions.append(Decision(candidate, True, reason))

    held, pinned, pool = _split(candidates)
    held_tokens = 0  # what the user's pins took: the recent turns keep their own share
    for position, candidate in enumerate(pinned):
        limit = budget if position == 0 else min(pinned_budget + held_tokens, budget)
        if used + cost(candidate) > limit:
            pool.extend(pinned[position:])
            break
        recent = "newest turn" if position == 0 else "recent turn"
        keep(candidate, f"{recent}, pinned by user" if candidate.held else recent)
        if position == 0:
            before = used
            pool += _hold(held, lambda c: used + cost(c) <= budget, keep)
            held_tokens = used - before
    # no newest turn kept: the turns pinned by their user still go first
    pool += _hold(held, lambda c: used + cost(c) <= budget, keep)
    pool.sort(key=lambda c: (-c.score / max(c.tokens, 1) ** token_exponent, -_newest(c), c.key))
    covered = _covered(pool)
    kept: set[str] = set()
    for rank, candidate in _summaries_after_their_turns(pool, covered):
        turns = covered.get(candidate.key, frozenset())
        if turns and turns <= kept:
            reason = f"covered: its {len(turns)} relevant turns are kept verbatim"
            decisions.append(Decision(candidate, False, reason))
            continue
        needed = cost(candidate)
        if used + needed <= budget:
            why = f", stands for {len(turns - kept)} covered turns left out" if turns else ""
            keep(candidate, f"rank {rank} by score {candidate.score:.3f}{why}")
            kept.add(candidate.key)
        else:
            decisions.append(
                Decision(candidate, False, f"over budget: needs {needed}, {budget - used} left")
            )
    return Packing(decisions=tuple(decisions), tokens=used)


def _hold(
    held: list[Candidate], fits: Callable[[Candidate], bool],
    keep: Callable[[Candidate, str], None],
) -> list[Candidate]:  # fmt: skip
    """Keep each turn its user pinned while it fits, newest first; empties ``held`` and
    returns those that did not fit."""
    waiting, held[:] = sorted(held, key=lambda c: -_newest(c)), []
    left = []
    for candidate in waiting:
        if fits(candidate):
            keep(candidate, "pinned by user")
        else:
            left.append(candidate)
    return left


def _split(
    candidates: Sequence[Candidate],
) -> tuple[list[Candidate], list[Candidate], list[Candidate]]:
    """(pinned by their user, the recent turns, the rest); the newest turn stays first
    among the recent ones even when its user pinned it."""
    newest = next((c for c in candidates if c.pinned), None)
    held = [c for c in candidates if c.held and c is not newest]
    pinned = [c for c in candidates if c.pinned and (c is newest or not c.held)]
    return held, pinned, [c for c in candidates if not c.pinned and not c.held]


def _summaries_after_their_turns(
    pool: Sequence[Candidate], covered: Mapping[str, frozenset[str]]
) -> list[tuple[int, Candidate]]:
    """The pool with its rank by score, each summary moved after the turns it covers."""
    position = {c.key: i for i, c in enumerate(pool)}

    def slot(ranked: tuple[int, Candidate]) -> tuple[int, int]:
        rank, candidate = ranked
        turns = covered.get(candidate.key)
        if not turns:
            return rank, 0
        return max(rank, 1 + max(position[key] for key in turns)), 1

    return sorted(enumerate(pool, start=1), key=slot)


def _covered(pool: Sequence[Candidate]) -> dict[str, frozenset[str]]:
    """For each summary in ``pool``, the keys of the candidates that are turns it covers."""
    turns: dict[tuple[str | None, ...], list[tuple[int, str]]] = {}
    for candidate in pool:
        for record in candidate.records:
            if record.kind is Kind.TURN:
                turns.setdefault(_session_of(record), []).append((record.seq, candidate.key))
    covered: dict[str, frozenset[str]] = {}
    for candidate in pool:
        summary = candidate.records[0]
        if len(candidate.records) != 1 or summary.kind is not Kind.SUMMARY:
            continue
        span = summary.covered_seqs
        keys = frozenset(key for seq, key in turns.get(_session_of(summary), ()) if seq in span)
        if keys:
            covered[candidate.key] = keys
    return covered


def _session_of(record: MemoryRecord) -> tuple[str | None, ...]:
    return (record.user_id, record.agent_id, record.session_id)


def _newest(candidate: Candidate) -> float:
    return max(r.timestamp.timestamp() for r in candidate.records)


# --- rendering -------------------------------------------------------------------


def _stamp(record: MemoryRecord) -> tuple[str, str]:
    """The record's day (YYYY-MM-DD) and time (HH:MM), at a fifth of strftime's cost."""
    stamp = record.timestamp.isoformat()
    return stamp[:10], stamp[11:16]


def memory_line(record: MemoryRecord) -> str:
    """One record as a standalone line: date, speaker, verbatim text (its largest form)."""
    day, time = _stamp(record)
    return f"- [{day} {time}] {memory_label(record)}: {_memory_text(record)}"


def memory_label(record: MemoryRecord) -> str:
    """Who a memory line is from; summaries and explicit memories say what they are."""
    if record.kind is Kind.SUMMARY:
        return f"summary of {len(record.covered_seqs)} earlier turns"
    return "memory" if record.kind is Kind.MEMORY else record.speaker


def _memory_text(record: MemoryRecord) -> str:
    if record.kind is Kind.SUMMARY:
        return record.text.replace("\n", " / ")
    return record.text


def _line(record: MemoryRecord, time: str | None) -> str:
    line = f"{memory_label(record)}: {_memory_text(record)}"
    return f"{time} {line}" if time else line


def _heading_line(day: str, time: str | None) -> str:
    return f"[{day} {time}]" if time else f"[{day}]"


def memory_candidate(
    record: MemoryRecord,
    *,
    tier: Tier,
    score: float,
    parts: ScoreParts | None,
    count: Callable[[str], int],
) -> Candidate:
    """A memory-section candidate, priced as `render` will write it (newlines included).

    Only the line itself is new text to count: days, times and speakers repeat across
    records, so a caching ``count`` prices the rest once.
    """
    day, time = _stamp(record)
    # counted with their newline, which BPE often merges into the last token
    line = count(_line(record, None) + "\n")
    undated_heading = count(_heading_line(day, None) + "\n")
    # a time costs what its digits do in a heading; before a line, its space also joins
    # the label's first token ("Car|oline" -> " Caroline"); `fit` corrects any other seam
    label = memory_label(record)
    heading = Heading(
        day=day,
        tokens=undated_heading,
        time=time,
        time_tokens=count(f" {time}"),
        line_time_tokens=count(f"{time} {label}") - count(label),
    )
    return Candidate(
        key=record.id, tier=tier, records=(record,), tokens=line, score=score,
        parts=parts, heading=heading,
    )  # fmt: skip


def memory_lines(records: Sequence[MemoryRecord]) -> list[str]:
    """Records grouped under one heading per day, oldest first (the dates said once)."""
    ordered = sorted(records, key=lambda r: (r.timestamp, r.seq, r.id))
    days: dict[str, list[tuple[str, MemoryRecord]]] = {}
    for record in ordered:
        day, time = _stamp(record)
        days.setdefault(day, []).append((time, record))
    lines: list[str] = []
    for day, members in days.items():
        times = {time for time, _ in members}
        shared = times.pop() if len(times) == 1 else None
        lines.append(_heading_line(day, shared))
        lines.extend(_line(r, None if shared else time) for time, r in members)
    return lines


def memory_section_cost(counter: TokenCounter) -> int:
    return MESSAGE_OVERHEAD + counter.count(_MEMORY_ROLE) + counter.count(MEMORY_HEADER)


def render(kept: Sequence[Candidate]) -> list[ChatMessage]:
    """Messages for the kept candidates: one memory message, then the recent turns."""
    memory = [r for c in kept if c.section == _SECTION_MEMORY for r in c.records]
    recent = sorted(
        (r for c in kept if c.section == _SECTION_RECENT for r in c.records),
        key=lambda r: r.seq,
    )
    messages: list[ChatMessage] = []
    if memory:
        lines = "\n".join(memory_lines(memory))
        messages.append(ChatMessage(role=_MEMORY_ROLE, content=f"{MEMORY_HEADER}\n{lines}"))
    messages.extend(turn_message(r) for r in recent)
    return messages


def fit(decisions: Sequence[Decision], *, budget: int, counter: TokenCounter) -> Context:
    """Render, count exactly, and drop the weakest kept candidate while over budget."""
    decided = list(decisions)
    while True:
        messages = render([d.candidate for d in decided if d.kept])
        tokens = exact_tokens(counter, messages)
        if tokens <= budget:
            return Context(messages, tokens, budget, tuple(decided))
        # BPE is not exactly additive across joined lines: give back the weakest
        weakest = min(
            (i for i, d in enumerate(decided) if d.kept),
            key=lambda i: (
                decided[i].candidate.held,
                decided[i].candidate.pinned,
                decided[i].candidate.score,
            ),
        )
        decided[weakest] = Decision(
            decided[weakest].candidate, False, "dropped: exact count over budget"
        )


@dataclass(frozen=True, slots=True)
class Context:
    """A context ready for a chat model, within its budget, and why it holds what it holds."""

    messages: list[ChatMessage]
    token_count: int
    max_tokens: int
    decisions: tuple[Decision, ...] = field(default=())

    @property
    def text(self) -> str:
        """The messages as one string, ``role: content`` blocks."""
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in self.messages)

    @property
    def kept(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if d.kept]

    @property
    def left_out(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if not d.kept]

    def tokens_per_tier(self) -> dict[str, int]:
        totals = {tier.value: 0 for tier in Tier}
        for candidate in self.kept:
            totals[candidate.tier.value] += candidate.tokens
        return totals

    def explain(self) -> str:
        """Every candidate considered: tier, score parts, tokens, kept or not, and why."""
        lines = [
            f"context: {self.token_count}/{self.max_tokens} tokens, "
            f"{len(self.kept)} kept, {len(self.left_out)} left out"
        ]
        for d in self.decisions:
            c = d.candidate
            parts = ""
            if c.parts is not None:
                p = c.parts
                parts = (
                    f" text={p.text:.2f} vector={p.vector:.2f}"
                    f" recency={p.recency:.2f} importance={p.importance:.2f}"
                )
                # only when they played a part: most lines have neither
                parts += f" speaker={p.speaker:.2f}" if p.speaker != 1.0 else ""
                parts += f" neighbor={p.neighbor:.2f}" if p.neighbor else ""
            preview = c.records[0].text.replace("\n", " ")
            preview = preview if len(preview) <= 60 else preview[:57] + "..."
            lines.append(
                f"{'KEPT' if d.kept else 'LEFT'} {c.tier.value:<11} {c.tokens:>5} tok "
                f"score={c.score:.3f}{parts} | {d.reason} | {preview!r}"
            )
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.messages)


# --- candidates from every tier, priced once ----------------------------------------

#: memory lines and prices kept between contexts: the same ones come back query after query
_PRICE_CACHE = 100_000
#: the score parts of a candidate no search found (frozen: one serves them all)
_NO_PARTS = ScoreParts()


class ContextBuilder:
    """Turns the tiers' records into candidates, packs them and fits them to a budget.

    Every turn and memory line is priced once and its price reused: a context needs no
    tokenizer call but the final exact count of what was kept.
    """

    def __init__(self, counter: TokenCounter, config: ContextConfig) -> None:
        self.config = config
        self._counting = CachedCounter(counter, _PRICE_CACHE)
        self._priced: dict[tuple[Any, ...], Candidate] = {}
        self._priced_records: dict[tuple[str, Tier], Candidate] = {}

    def build(
        self,
        *,
        units: Sequence[Sequence[MemoryRecord]],
        summaries: Sequence[MemoryRecord],
        hits: Sequence[SearchHit],
        held: Sequence[MemoryRecord],
        budget: int,
    ) -> Context:
        """The best context under ``budget`` from the window's ``units`` (whole turns
        with their tool calls), the session's ``summaries``, search ``hits`` and the
        session's ``held`` (pinned) turns."""
        packing = pack(
            candidates=self.candidates(units, summaries, hits, held),
            budget=budget,
            pinned_budget=int(budget * self.config.recent_share),
            section_costs={"memory": memory_section_cost(self._counting)},
            token_exponent=self.config.token_exponent,
        )
        return fit(packing.decisions, budget=budget, counter=self._counting)

    def candidates(
        self,
        units: Sequence[Sequence[MemoryRecord]],
        summaries: Sequence[MemoryRecord],
        hits: Sequence[SearchHit],
        held: Sequence[MemoryRecord] = (),
    ) -> list[Candidate]:
        by_id = {h.record.id: h for h in hits}
        candidates: list[Candidate] = []
        in_window: set[str] = set()
        for unit in reversed(units):  # newest first: the order pinning wants
            in_window.update(r.id for r in unit)
            hit = max((by_id[r.id] for r in unit if r.id in by_id), key=lambda h: h.score,
                      default=None)  # fmt: skip
            candidates.append(
                Candidate(
                    key=unit[0].id, tier=Tier.SHORT_TERM, records=tuple(unit),
                    tokens=sum(r.tokens for r in unit),
                    score=hit.score if hit else 0.0, parts=hit.parts if hit else None,
                    pinned=True, held=any(r.pinned for r in unit),
                )
            )  # fmt: skip
        summary_ids = {s.id for s in summaries}
        for summary in summaries:
            candidates.append(self._candidate(summary, Tier.MEDIUM_TERM, by_id.get(summary.id)))
        for record in held:
            if record.id not in in_window:
                candidate = self._candidate(record, Tier.LONG_TERM, by_id.get(record.id))
                candidates.append(dataclasses.replace(candidate, held=True))
        taken = in_window | summary_ids | {r.id for r in held}
        for hit in hits:
            if hit.record.id not in taken:
                candidates.append(self._candidate(hit.record, Tier.LONG_TERM, hit))
        return candidates

    def _candidate(self, record: MemoryRecord, tier: Tier, hit: SearchHit | None) -> Candidate:
        # the same memories come back query after query: price each once; the hot index
        # hands back the very same record objects, so identity is the cheap first check
        known = self._priced_records.get((record.id, tier))
        if known is not None and known.records[0] is record:
            priced = known
        else:
            priced = self._price(record, tier)
            self._priced_records[(record.id, tier)] = priced
        # built directly: `dataclasses.replace` costs 2.7x as much, a few hundred times a context
        return Candidate(
            priced.key, priced.tier, priced.records, priced.tokens,
            hit.score if hit else 0.0, hit.parts if hit else _NO_PARTS, priced.pinned,
            priced.heading,
        )  # fmt: skip

    def _price(self, record: MemoryRecord, tier: Tier) -> Candidate:
        key = (record.id, record.text, record.timestamp, record.speaker,
               len(record.covered_seqs), tier)  # fmt: skip
        priced = self._priced.get(key)
        if priced is None:
            if len(self._priced) >= _PRICE_CACHE:
                self._priced.clear()
                self._priced_records.clear()
            priced = self._priced[key] = memory_candidate(
                record, tier=tier, score=0.0, parts=None, count=self._counting.count
            )
        return priced
