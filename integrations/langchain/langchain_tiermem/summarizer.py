"""`ChatModelSummarizer`: a LangChain chat model as tiermem's medium-term `Summarizer`."""

from __future__ import annotations

import warnings

from langchain_core.language_models import BaseChatModel

from tiermem.medium_term import DEFAULT_PROMPT, PromptSummarizer

__all__ = ["DEFAULT_PROMPT", "ChatModelSummarizer"]


class ChatModelSummarizer(PromptSummarizer):
    """Asks a chat model (``invoke``, and ``ainvoke`` in async calls) for each summary.

    The prompt, and the cut of a longer answer to the budget, are the core's
    `tiermem.medium_term.PromptSummarizer`.
    """

    def __init__(
        self, model: BaseChatModel, *, prompt: str = DEFAULT_PROMPT, instructions: str | None = None
    ) -> None:
        if instructions is not None:  # the keyword of earlier versions: kept one release
            warnings.warn(
                "ChatModelSummarizer(instructions=...) is deprecated: pass prompt=, "
                "with {max_tokens} and {turns} in it",
                DeprecationWarning,
                stacklevel=2,
            )
            prompt = instructions + "\n\n{turns}"
        self.model = model
        super().__init__(self._complete, acomplete=self._acomplete, prompt=prompt)

    def _complete(self, prompt: str) -> str:
        return str(self.model.invoke(prompt).text)

    async def _acomplete(self, prompt: str) -> str:
        return str((await self.model.ainvoke(prompt)).text)

    def __repr__(self) -> str:
        return f"ChatModelSummarizer({type(self.model).__name__})"
