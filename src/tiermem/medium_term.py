"""The medium-term tier: rolling summaries of the turns evicted from short-term.

Evicted turns wait in a pending list; once they hold `trigger_tokens`, they are
folded into one summary that records the ids of the turns it covers. When a
session holds more than `max_summaries`, its two oldest summaries are merged, so
the tier stays bounded however long the session runs. The source turns stay
verbatim in the long-term tier: a summary is a shortcut, never the only copy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .records import MemoryRecord
from .tokens import TokenCounter

__all__ = ["ExtractiveSummarizer", "MediumTerm", "Summarizer"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_NUMBER = re.compile(r"\d")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_DATE_WORDS = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|tomorrow|"
    r"today|week|month|year|ago|last|next)\b",
    re.IGNORECASE,
)


@runtime_checkable
class Summarizer(Protocol):
    """Folds records into one short text. An LLM summarizer plugs in here."""

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        """A summary of ``records`` of at most ``max_tokens`` tokens."""
        ...


class ExtractiveSummarizer:
    """Keeps the sentences that carry names, numbers and dates; no model, deterministic.

    Sentences are scored for what a later question is likely to need (capitalised
    names, digits, date words, length), the best are kept within the budget, and
    they are printed in their original order with their speaker.
    """

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        candidates: list[tuple[float, int, str]] = []
        for record in records:
            for sentence in _SENTENCE.split(record.text.strip()):
                if sentence:
                    line = f"{record.speaker}: {sentence}"
                    candidates.append((_salience(sentence), len(candidates), line))
        chosen: list[tuple[int, str]] = []
        used = 0
        for _score, order, line in sorted(candidates, key=lambda c: (-c[0], c[1])):
            cost = token_counter.count(line) + 1
            if used + cost <= max_tokens:
                chosen.append((order, line))
                used += cost
        return "\n".join(line for _order, line in sorted(chosen))


def _salience(sentence: str) -> float:
    words = max(len(sentence.split()), 1)
    facts = (
        2.0 * len(_CAPITALISED.findall(sentence))
        + 2.0 * len(_NUMBER.findall(sentence)) ** 0.5
        + 1.5 * len(_DATE_WORDS.findall(sentence))
    )
    # favour dense sentences; very short ones ("Thanks!") carry little
    return float(facts / words**0.5 + min(words, 25) / 25)


@dataclass(slots=True)
class MediumTerm:
    """One session's pending evicted turns and its summaries (oldest first)."""

    pending: list[MemoryRecord] = field(default_factory=list)
    summaries: list[MemoryRecord] = field(default_factory=list)

    def pending_tokens(self) -> int:
        return sum(r.tokens for r in self.pending)

    def due(self, trigger_tokens: int) -> bool:
        return self.pending_tokens() >= trigger_tokens

    def take_pending(self) -> list[MemoryRecord]:
        taken, self.pending = self.pending, []
        return taken

    def over(self, max_summaries: int) -> list[MemoryRecord]:
        """The two oldest summaries when the tier holds too many, else nothing."""
        return self.summaries[:2] if len(self.summaries) > max_summaries else []

    def replace(self, old: Sequence[MemoryRecord], new: MemoryRecord) -> None:
        gone = {r.id for r in old}
        self.summaries = [new, *(s for s in self.summaries if s.id not in gone)]
        self.summaries.sort(key=lambda s: s.seq)

    def covered_seq(self) -> int:
        """The highest turn sequence number any summary covers (-1 if none)."""
        return max((s.seq for s in self.summaries), default=-1)
