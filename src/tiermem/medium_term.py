"""The medium-term tier: rolling summaries of the turns evicted from short-term.

Evicted turns wait in a pending list; once they hold `trigger_tokens`, they are
folded into one summary that records the ids of the turns it covers. When a
session holds more than `max_summaries`, its two oldest summaries are merged, so
the tier stays bounded however long the session runs. The source turns stay
verbatim in the long-term tier: a summary is a shortcut, never the only copy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .callbacks import Summarized
from .config import MediumTermConfig
from .context import memory_line
from .effects import Embed, Flow, Summarize, ask
from .long_term import Delete, Filter, Insert
from .messages import truncate
from .records import COVERS_SEQ, Kind, MemoryRecord, new_id
from .tokens import TokenCounter

__all__ = [
    "DEFAULT_PROMPT",
    "ExtractiveSummarizer",
    "MediumTerm",
    "PromptSummarizer",
    "Summarizer",
]

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_WORD = re.compile(r"[^\W_][\w'\u2019-]*")
_SPEAKER_LINE = re.compile(r"^([^:\n]{1,60}): (.+)$")
_MONTH = re.compile(
    r"(jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)|"
    r"(january|february|march|april|june|july|august|september|october|november|december)"
)
_DATE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thurs fri "
    "sat sun yesterday tomorrow today tonight week weekend month year ago last next".split()
)
# function words: they carry grammar, not facts
_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's i
    i'd i'll i'm i've if in into is isn't it it's its itself just let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't
    what what's when when's where where's which while who who's whom why why's will with won't
    would wouldn't you you'd you'll you're you've your yours yourself yourselves also even
    still ever much many lot lots something anything everything thing things gonna wanna
    gotta got get gets getting go going goes one ya u im ive dont thats its""".split()
)
# greetings, thanks and exclamations: in any chat they say how, not what
_PHATIC = frozenset(
    """hey hi hello hiya yo bye goodbye cya thanks thank thx ty welcome cheers wow whoa woah
    yay yeah yea yes yep yup nope ok okay oh ah aw aww haha hah hehe lol omg hmm um uh cool
    awesome great amazing nice wonderful fantastic incredible lovely sweet glad sorry congrats
    congratulations totally definitely absolutely sure agree agreed sounds sound really true
    right exactly indeed appreciate appreciated good fun stoked""".split()
)
_MIN_CONTENT_WORDS = 2  # below this a sentence is a pleasantry, not information
_NEAR_DUPLICATE = 0.8  # share of a sentence's content words another kept one already holds


@dataclass(frozen=True, slots=True)
class _Sentence:
    order: int
    line: str
    content: frozenset[str]
    score: float


@runtime_checkable
class Summarizer(Protocol):
    """Folds records into one short text. An LLM summarizer plugs in here."""

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        """A summary of ``records`` of at most ``max_tokens`` tokens."""
        ...

    async def asummarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        """Async `summarize`; by default `summarize` on a worker thread, so a slow sync
        summarizer never blocks the event loop (an LLM client overrides it natively)."""
        return await asyncio.to_thread(
            self.summarize, records, max_tokens=max_tokens, token_counter=token_counter
        )


class ExtractiveSummarizer(Summarizer):
    """Keeps the sentences that carry information; no model, deterministic.

    A sentence's information is its content words: what is left once function words,
    pleasantries ("Hey", "Thanks", "Wow") and the participants' own names are taken
    out, with names of others, numbers and dates counting double. Sentences with
    fewer than two content words ("Thanks, Mel!") and near-repeats of a kept sentence
    are never kept, so a summary may be shorter than its budget rather than padded.
    The best are kept within the budget, printed in their original order with their
    speaker. Summaries being merged keep their lines' speakers.
    """

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        said = [(speaker, s) for record in records for speaker, s in _sentences(record)]
        participants = _participants(speaker for speaker, _ in said)
        candidates = [
            sentence
            for order, (speaker, text) in enumerate(said)
            if (sentence := _sentence(order, speaker, text, participants)) is not None
        ]
        chosen: list[_Sentence] = []
        used = 0
        for sentence in sorted(candidates, key=lambda c: (-c.score, c.order)):
            if any(_repeats(sentence, other) for other in chosen):
                continue
            cost = token_counter.count(sentence.line) + 1
            if used + cost <= max_tokens:
                chosen.append(sentence)
                used += cost
        return "\n".join(s.line for s in sorted(chosen, key=lambda c: c.order))


def _sentences(record: MemoryRecord) -> list[tuple[str, str]]:
    """(speaker, sentence) pairs; a summary's lines already name their speakers."""
    pairs: list[tuple[str, str]] = []
    if record.kind is Kind.SUMMARY:
        for line in record.text.splitlines():
            match = _SPEAKER_LINE.match(line.strip())
            if match is not None:
                pairs.append((match[1], match[2]))
            elif line.strip():
                pairs.append((record.speaker, line.strip()))
        return pairs
    return [(record.speaker, s) for s in _SENTENCE.split(record.text.strip()) if s]


def _participants(speakers: Iterable[str]) -> frozenset[str]:
    """The speakers' names, lower case, each word of them (a first name is enough), and
    every start of three letters or more of each ("Mel" for Melanie is a short form)."""
    names = {word.lower() for speaker in speakers for word in _WORD.findall(speaker)}
    starts = {name[:end] for name in names for end in range(3, len(name) + 1)}
    return frozenset(names | starts)


def _sentence(
    order: int, speaker: str, text: str, participants: frozenset[str]
) -> _Sentence | None:
    words = _WORD.findall(text)
    content: set[str] = set()
    facts = 0
    for position, word in enumerate(words):
        lower = word.lower().replace("\u2019", "'")
        if lower in _STOP_WORDS or lower in _PHATIC or lower in participants:
            continue
        content.add(lower)
        if any(map(str.isdigit, word)) or lower in _DATE_WORDS:
            facts += 1
        elif word[0].isupper() and (_MONTH.fullmatch(lower) or position > 0):
            facts += 1  # a month, or a name that is not the sentence's first word
    if len(content) < _MIN_CONTENT_WORDS:
        return None
    score = (len(content) + facts) / max(len(words), 1) ** 0.5
    return _Sentence(order, f"{speaker}: {text}", frozenset(content), score)


def _repeats(sentence: _Sentence, kept: _Sentence) -> bool:
    shared = len(sentence.content & kept.content)
    return shared >= _NEAR_DUPLICATE * len(sentence.content)


class MediumTerm:
    """One session's pending evicted turns and its summaries (oldest first), and the
    policy that folds the one into the other and merges the oldest summaries.

    ``lock`` guards the two lists; it is the orchestrator's, so a window's evictions
    and their admission here happen in one step, in order.
    """

    def __init__(
        self,
        config: MediumTermConfig,
        counter: TokenCounter,
        lock: threading.RLock,
        summaries: Iterable[MemoryRecord] = (),
    ) -> None:
        self.config = config
        self._counter = counter
        self._lock = lock
        self.pending: list[MemoryRecord] = []
        self.summaries: list[MemoryRecord] = sorted(summaries, key=lambda s: s.seq)

    def admit(self, evicted: Sequence[MemoryRecord]) -> list[list[MemoryRecord]]:
        """Take turns evicted from short-term; return the folds now due (caller holds
        the lock, so evictions are admitted in the order they happened)."""
        if not evicted:
            return []
        self.hold(evicted)
        if sum(r.tokens for r in self.pending) < self.config.trigger_tokens:
            return []
        taken, self.pending = self.pending, []
        return [taken]

    def hold(self, evicted: Sequence[MemoryRecord]) -> None:
        """Keep evicted turns pending without folding them (a session being restored)."""
        if self.config.enabled:
            self.pending.extend(evicted)

    def drop(self, record_id: str) -> None:
        """Forget one record, pending or summary."""
        with self._lock:
            self.pending = [r for r in self.pending if r.id != record_id]
            self.summaries = [s for s in self.summaries if s.id != record_id]

    def covered_seq(self) -> int:
        """The highest turn sequence number any summary covers (-1 if none)."""
        return max((s.seq for s in self.summaries), default=-1)

    def absorb(
        self, folds: Sequence[Sequence[MemoryRecord]], emit: Callable[[Summarized], None]
    ) -> Flow[None]:
        """Summarise each fold; merge the oldest summaries when there are too many.

        The summaries of every fold are written together, then the merged-away ones
        deleted: insert before delete, so a crash leaves a duplicate, never a gap.
        """
        limit = self.config.summary_tokens
        created: list[MemoryRecord] = []
        merged_away: list[MemoryRecord] = []
        for turns in folds:
            started = time.perf_counter()
            text = yield from ask(Summarize(turns, limit))
            if not text.strip():
                continue
            summary = self._summary(text, turns, [t.id for t in turns], turns[0].seq)
            created.append(summary)
            with self._lock:
                self.summaries.append(summary)
                # the two oldest, once the tier holds too many
                over = len(self.summaries) > self.config.max_summaries
                oldest = self.summaries[:2] if over else []
            emit(
                Summarized(
                    summary.session_id or "", len(turns), sum(t.tokens for t in turns),
                    summary.tokens, time.perf_counter() - started,
                )
            )  # fmt: skip
            if not oldest:
                continue
            merged_text = yield from ask(Summarize(oldest, limit))
            if not merged_text.strip():
                continue
            # a span, not every id: the oldest summary stands for most of a long session
            first = min(s.covered_seqs.start for s in oldest)
            merged = self._summary(merged_text, oldest, (), first)
            created.append(merged)
            merged_away.extend(oldest)
            with self._lock:
                folded = {s.id for s in oldest}  # by id: the list may have changed meanwhile
                kept = (s for s in self.summaries if s.id not in folded)
                self.summaries = sorted([merged, *kept], key=lambda s: s.seq)
        gone = {s.id for s in merged_away}
        fresh = [s for s in created if s.id not in gone]
        if fresh:
            vectors = yield from ask(Embed([s.text for s in fresh]))
            yield from ask(Insert(fresh, vectors))
        made = {s.id for s in created}
        stored = [s.id for s in merged_away if s.id not in made]  # the rest were never written
        if stored:
            yield from ask(Delete(Filter(ids=tuple(stored))))

    def _summary(
        self, text: str, sources: Sequence[MemoryRecord], covers: Sequence[str], first_seq: int
    ) -> MemoryRecord:
        """A summary of ``sources``, standing for the session's turns ``first_seq`` on."""
        last = sources[-1]
        summary = MemoryRecord(
            id=new_id(), kind=Kind.SUMMARY, text=text, timestamp=last.timestamp,
            role=None, session_id=last.session_id, user_id=last.user_id,
            agent_id=last.agent_id, seq=max(r.seq for r in sources), covers=tuple(covers),
            metadata={COVERS_SEQ: [first_seq, max(r.seq for r in sources)]},
        )  # fmt: skip
        return dataclasses.replace(summary, tokens=self._counter.count(memory_line(summary)))


DEFAULT_PROMPT = (
    "Summarize the conversation excerpt below for an assistant's long-term memory. "
    "Keep every fact a later question may need: names, numbers, dates, decisions, "
    "preferences, and who said what. Write plain sentences, no preamble. "
    "Use at most {max_tokens} tokens.\n\n{turns}\n\nSummary:"
)


class PromptSummarizer(Summarizer):
    """A language model as a `Summarizer`: one prompt in, its answer cut to the budget.

    ``complete`` answers a prompt (any LLM client: the framework adapters pass their
    model's); ``acomplete``, when given, is awaited by `asummarize`, which otherwise
    runs ``complete`` in a worker thread. ``prompt`` is formatted with ``max_tokens``
    and ``turns`` (one dated ``speaker: text`` line per record). The model is told the
    target; a longer answer is cut at a word boundary with the memory's token counter,
    so a summary never exceeds ``max_tokens``.
    """

    def __init__(
        self,
        complete: Callable[[str], str],
        *,
        acomplete: Callable[[str], Awaitable[str]] | None = None,
        prompt: str = DEFAULT_PROMPT,
    ) -> None:
        self.complete = complete
        self.acomplete = acomplete
        self.prompt = prompt

    def prompt_for(self, records: Sequence[MemoryRecord], max_tokens: int) -> str:
        """The prompt that asks for a summary of ``records`` in ``max_tokens`` tokens."""
        turns = "\n".join(f"[{r.timestamp:%Y-%m-%d %H:%M}] {r.speaker}: {r.text}" for r in records)
        return self.prompt.format(max_tokens=max_tokens, turns=turns)

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        answer = self.complete(self.prompt_for(records, max_tokens))
        return truncate(answer.strip(), max_tokens=max_tokens, counter=token_counter)

    async def asummarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        if self.acomplete is None:  # `summarize` on a worker thread
            return await super().asummarize(
                records, max_tokens=max_tokens, token_counter=token_counter
            )
        answer = await self.acomplete(self.prompt_for(records, max_tokens))
        return truncate(answer.strip(), max_tokens=max_tokens, counter=token_counter)
