"""`ChatModelSummarizer`: a LangChain chat model as tiermem's medium-term `Summarizer`."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from tiermem import MemoryRecord
from tiermem.tokens import TokenCounter

__all__ = ["DEFAULT_INSTRUCTIONS", "ChatModelSummarizer", "truncate_to_tokens"]

DEFAULT_INSTRUCTIONS = (
    "Summarize the conversation excerpt below for an assistant's long-term memory. "
    "Keep every fact a later question may need: names, numbers, dates, decisions, "
    "preferences, and who said what. Write plain sentences, no preamble. "
    "Use at most {max_tokens} tokens."
)


def truncate_to_tokens(text: str, max_tokens: int, counter: TokenCounter) -> str:
    """The longest word-boundary prefix of ``text`` within ``max_tokens`` tokens."""
    if counter.count(text) <= max_tokens:
        return text
    words = text.split(" ")
    low, high = 0, len(words)  # invariant: words[:low] fits, words[:high + 1] does not
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(" ".join(words[:middle])) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    if low:
        return " ".join(words[:low]).rstrip()
    # the first word alone is too long: cut characters instead
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(text[:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low]


class ChatModelSummarizer:
    """Asks a chat model to fold evicted turns into one summary within the token target.

    The model is told the target; a longer answer is cut at a word boundary with
    tiermem's token counter, so a summary never exceeds ``max_tokens``.
    ``asummarize`` uses ``ainvoke``, so the memory's async calls never block.
    """

    def __init__(self, model: BaseChatModel, *, instructions: str = DEFAULT_INSTRUCTIONS) -> None:
        self.model = model
        self.instructions = instructions

    def _prompt(self, records: Sequence[MemoryRecord], max_tokens: int) -> list[BaseMessage]:
        lines = "\n".join(f"[{r.timestamp:%Y-%m-%d %H:%M}] {r.speaker}: {r.text}" for r in records)
        return [
            SystemMessage(content=self.instructions.format(max_tokens=max_tokens)),
            HumanMessage(content=lines),
        ]

    def summarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        reply = self.model.invoke(self._prompt(records, max_tokens))
        return truncate_to_tokens(str(reply.text).strip(), max_tokens, token_counter)

    async def asummarize(
        self, records: Sequence[MemoryRecord], *, max_tokens: int, token_counter: TokenCounter
    ) -> str:
        reply = await self.model.ainvoke(self._prompt(records, max_tokens))
        return truncate_to_tokens(str(reply.text).strip(), max_tokens, token_counter)

    def __repr__(self) -> str:
        return f"ChatModelSummarizer({type(self.model).__name__})"
