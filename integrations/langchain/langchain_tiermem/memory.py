"""`TiermemMemory`: tiermem as a legacy LangChain memory (`ConversationChain`, `LLMChain`).

Needs ``langchain-classic`` (where `BaseMemory` lives since LangChain 1.0). Named
like LangChain's other third-party memories (``ZepMemory``, ``MotorheadMemory``).
"""

from __future__ import annotations

from typing import Any

from langchain_classic.base_memory import BaseMemory
from langchain_classic.memory.utils import get_prompt_input_key
from langchain_core.messages import BaseMessage, get_buffer_string

import tiermem
from tiermem import Kind

from .messages import context_to_messages

__all__ = ["TiermemMemory"]

_CONVERSATION = (Kind.TURN, Kind.SUMMARY)


class TiermemMemory(BaseMemory):
    """Loads tiermem's budgeted context for each input and saves every exchange.

    ``memory_key`` receives the context: LangChain messages when ``return_messages``
    is set, else one string with ``human_prefix`` / ``ai_prefix`` speakers. The
    context is built for the chain's input, so facts from any earlier turn come
    back when they matter, and it never holds more than ``max_tokens`` tokens.
    """

    memory: tiermem.TieredMemory
    session_id: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    max_tokens: int | None = None
    memory_key: str = "history"
    input_key: str | None = None
    output_key: str | None = None
    return_messages: bool = False
    human_prefix: str = "Human"
    ai_prefix: str = "AI"

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    def _query(self, inputs: dict[str, Any]) -> str | None:
        key = self.input_key or get_prompt_input_key(inputs, self.memory_variables)
        value = inputs.get(key)
        return value if isinstance(value, str) and value.strip() else None

    def _exchange(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> tuple[str, str]:
        input_key = self.input_key or get_prompt_input_key(inputs, self.memory_variables)
        if self.output_key is not None:
            output_key = self.output_key
        elif len(outputs) == 1:
            output_key = next(iter(outputs))
        elif "output" in outputs:
            output_key = "output"
        else:
            raise ValueError(
                f"output_key: got several outputs {sorted(outputs)}; set output_key explicitly"
            )
        return str(inputs[input_key]), str(outputs[output_key])

    def _variables(self, context: tiermem.Context) -> dict[str, Any]:
        messages: list[BaseMessage] = context_to_messages(context)
        if self.return_messages:
            return {self.memory_key: messages}
        text = get_buffer_string(messages, human_prefix=self.human_prefix, ai_prefix=self.ai_prefix)
        return {self.memory_key: text}

    @property
    def scope(self) -> tiermem.Scope:
        """Whose records this memory reads and writes."""
        return tiermem.Scope(self.user_id, self.agent_id, self.session_id)

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        context = self.memory.build_context(
            self._query(inputs), scope=self.scope, max_tokens=self.max_tokens
        )
        return self._variables(context)

    async def aload_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        context = await self.memory.abuild_context(
            self._query(inputs), scope=self.scope, max_tokens=self.max_tokens
        )
        return self._variables(context)

    def _turns(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> list[dict[str, Any]]:
        question, answer = self._exchange(inputs, outputs)
        exchange = (("user", question), ("assistant", answer))
        return [{"role": role, "content": text} for role, text in exchange if text.strip()]

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        """Store the exchange (question and answer) in one write."""
        self.memory.add_messages(self._turns(inputs, outputs), scope=self.scope)

    async def asave_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        await self.memory.aadd_messages(self._turns(inputs, outputs), scope=self.scope)

    def clear(self) -> None:
        """Forget this session's conversation: its turns and summaries.

        Explicit memories (``remember``) stay, as they do when a LlamaIndex memory is
        reset; ``memory.forget_scope`` deletes those too.
        """
        self.memory.forget_where(scope=self.scope, kinds=_CONVERSATION, exact=True)

    async def aclear(self) -> None:
        await self.memory.aforget_where(scope=self.scope, kinds=_CONVERSATION, exact=True)
