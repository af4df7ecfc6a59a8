"""`TieredHistory`: a pydantic-ai history processor that sends tiermem's context.

Before each model request, the messages not yet recorded are stored in tiermem
(once: recorded messages are marked), then the history becomes tiermem's context
for the latest user prompt within ``max_tokens``: the agent's system prompt and a
memory section (relevant earlier turns, summaries, memories), then the newest whole
turns, a tool call never without its return.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart

import tiermem
from tiermem import InvalidInputError
from tiermem.messages import ChatMessage, exact_tokens, split_context

from .messages import (
    MARK,
    is_recorded,
    mark,
    memory_part,
    records_to_messages,
    system_parts,
    turns_of,
)

__all__ = ["TieredHistory"]


def _latest_prompt(messages: Sequence[ModelMessage]) -> str | None:
    for message in reversed(messages):
        for part in reversed(message.parts):
            text = part.content if isinstance(part, UserPromptPart) else None
            if isinstance(text, str) and text.strip():
                return text
    return None


def _instructions(messages: Sequence[ModelMessage]) -> str | None:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            return message.instructions
    return None


class TieredHistory:
    """``Agent(model, capabilities=[ProcessHistory(TieredHistory(mem, session_id="s1"))])``.

    ``max_tokens`` bounds the system prompt, the instructions and the messages sent
    (tool schemas are not counted); default: the memory's ``context.max_tokens``.
    The last run's final answer is recorded when the next run sends it back as
    history, or by `arecord` (``await history.arecord(result.new_messages())``).
    """

    def __init__(
        self,
        memory: tiermem.TieredMemory,
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.memory = memory
        self.session_id = session_id
        self.user_id = user_id
        self.agent_id = agent_id
        self.max_tokens = max_tokens
        self.last_context: tiermem.Context | None = None

    @property
    def scope(self) -> tiermem.Scope:
        """Whose records this history reads and writes."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    def _pending(self, messages: Sequence[ModelMessage]) -> tuple[list[ModelMessage], list[Any]]:
        fresh = [m for m in messages if not is_recorded(m)]
        turns = [t.as_message() for m in fresh for t in turns_of(m)]
        return fresh, turns

    def record(self, messages: Sequence[ModelMessage]) -> int:
        """Store the messages not recorded yet, all or none; how many turns were stored."""
        fresh, turns = self._pending(messages)
        if turns:
            self.memory.add_messages(turns, scope=self.scope)
        for message in fresh:
            mark(message)
        return len(turns)

    async def arecord(self, messages: Sequence[ModelMessage]) -> int:
        """Async `record`."""
        fresh, turns = self._pending(messages)
        if turns:
            await self.memory.aadd_messages(turns, scope=self.scope)
        for message in fresh:
            mark(message)
        return len(turns)

    def _budget(self, system: Sequence[str]) -> int:
        budget = self.max_tokens or self.memory.config.context.max_tokens
        if not system:
            return budget
        prompt = [ChatMessage(role="system", content="\n\n".join(system))]
        left = budget - exact_tokens(self.memory.token_counter, prompt)
        if left <= 0:
            raise InvalidInputError(
                "max_tokens", f"the system prompt alone takes more than the budget of {budget}"
            )
        return left

    async def __call__(self, messages: list[ModelMessage]) -> list[ModelMessage]:
        await self.arecord(messages)
        system = system_parts(messages)
        instructions = _instructions(messages)
        texts = [p.content for p in system] + ([instructions] if instructions else [])
        context = await self.memory.abuild_context(
            _latest_prompt(messages), max_tokens=self._budget(texts), scope=self.scope
        )
        self.last_context = context
        memory, recent = split_context(context)
        rebuilt = records_to_messages(recent)
        lead = [*system, *(memory_part(m["content"]) for m in memory)]
        if lead and rebuilt and isinstance(rebuilt[0], ModelRequest):
            rebuilt[0].parts = [*lead, *rebuilt[0].parts]
        elif lead:
            rebuilt.insert(0, ModelRequest(parts=lead, metadata={MARK: True}))
        for message in reversed(rebuilt):
            if isinstance(message, ModelRequest):
                message.instructions = instructions  # what the model is told this run
                break
        return rebuilt
