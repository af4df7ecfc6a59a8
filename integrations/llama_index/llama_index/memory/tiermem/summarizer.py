"""`LLMSummarizer`: a LlamaIndex `LLM` as tiermem's medium-term `Summarizer`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from llama_index.core.llms.llm import LLM

from tiermem import MemoryRecord, TokenCounter

__all__ = ["DEFAULT_PROMPT", "LLMSummarizer", "trim_to_tokens"]

_WORD = re.compile(r"\S+")

DEFAULT_PROMPT = (
    "Summarise these conversation turns in at most {max_tokens} tokens. Keep every name, "
    "number, date, decision and stated preference; drop greetings and filler. Answer with "
    "the summary only.\n\n{turns}\n\nSummary:"
)


def trim_to_tokens(text: str, max_tokens: int, counter: TokenCounter) -> str:
    """The longest prefix of whole words of ``text`` within ``max_tokens``."""
    text = text.strip()
    if counter.count(text) <= max_tokens:
        return text
    ends = [m.end() for m in _WORD.finditer(text)]
    low, high = 0, len(ends)  # the first `low` words fit, the first `high + 1` do not
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(text[: ends[middle - 1]]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return text[: ends[low - 1]] if low else ""


class LLMSummarizer:
    """Asks ``llm`` for a summary (``complete`` / ``acomplete``) and trims it to the budget.

    tiermem awaits `asummarize` in its async calls and calls `summarize` in its sync ones.
    """

    def __init__(self, llm: LLM, *, prompt: str = DEFAULT_PROMPT) -> None:
        self.llm = llm
        self.prompt = prompt

    def _prompt(self, records: Sequence[MemoryRecord], max_tokens: int) -> str:
        turns = "\n".join(f"{r.speaker}: {r.text}" for r in records)
        return self.prompt.format(max_tokens=max_tokens, turns=turns)

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        response = self.llm.complete(self._prompt(records, max_tokens))
        return trim_to_tokens(response.text, max_tokens, token_counter)

    async def asummarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        response = await self.llm.acomplete(self._prompt(records, max_tokens))
        return trim_to_tokens(response.text, max_tokens, token_counter)

    def __repr__(self) -> str:
        return f"LLMSummarizer({type(self.llm).__name__})"
