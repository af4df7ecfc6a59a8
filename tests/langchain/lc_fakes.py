"""Fake chat models for the LangChain adapter tests (offline, no GPT-2 tokenizer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from pydantic import Field

from langchain_tiermem.messages import count_messages
from tiermem import TiktokenCounter

COUNTER = TiktokenCounter("cl100k_base")


def token_ids(text: str) -> list[int]:
    # a fake model has no tokenizer; without this LangChain would reach for GPT-2
    return list(COUNTER.encoding.encode(text, disallowed_special=()))


class ScriptedChatModel(GenericFakeChatModel):
    """Replies from a script, records every message list it receives, binds tools."""

    received: list[list[BaseMessage]] = Field(default_factory=list)
    custom_get_token_ids: Any = token_ids

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def scripted(*replies: AIMessage | str) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(replies))


def tokens_of(messages: Sequence[BaseMessage]) -> int:
    """What a request costs, counted as tiermem counts a context."""
    return count_messages(COUNTER, messages)
