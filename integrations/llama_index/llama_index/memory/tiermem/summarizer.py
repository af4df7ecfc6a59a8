"""`LLMSummarizer`: a LlamaIndex `LLM` as tiermem's medium-term `Summarizer`."""

from __future__ import annotations

from llama_index.core.llms.llm import LLM

from tiermem.medium_term import DEFAULT_PROMPT, PromptSummarizer

__all__ = ["DEFAULT_PROMPT", "LLMSummarizer"]


class LLMSummarizer(PromptSummarizer):
    """Asks ``llm`` for each summary (``complete``, and ``acomplete`` in async calls).

    The prompt, and the cut of a longer answer to the budget, are the core's
    `tiermem.medium_term.PromptSummarizer`.
    """

    def __init__(self, llm: LLM, *, prompt: str = DEFAULT_PROMPT) -> None:
        self.llm = llm
        super().__init__(self._complete, acomplete=self._acomplete, prompt=prompt)

    def _complete(self, prompt: str) -> str:
        return self.llm.complete(prompt).text

    async def _acomplete(self, prompt: str) -> str:
        return (await self.llm.acomplete(prompt)).text

    def __repr__(self) -> str:
        return f"LLMSummarizer({type(self.llm).__name__})"
