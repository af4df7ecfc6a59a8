"""`TieredContextMiddleware`: an agent's model sees tiermem's budgeted context.

Before each model call, the messages the model would see are replaced by
tiermem's context for the latest question: the system prompt with a memory
section appended (relevant earlier turns, summaries and memories), then the
recent turns. Every message of the agent's state is recorded into tiermem once
(before each model call, and the final answer after the agent), so nothing is
lost and nothing is stored twice. Record ids live in the agent state, so with a
checkpointer a thread's messages are recorded once across invocations; without
one, pass only the new messages to each invocation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
)
from langchain.agents.middleware.types import ExtendedModelResponse, PrivateStateAttr
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

import tiermem

from .messages import Turn, count_messages, message_to_turn, split_context

__all__ = ["TieredContextMiddleware", "TieredContextState"]

_RECORDED = "tiermem_recorded"
_MAX_REBUILDS = 4


class TieredContextState(AgentState[Any]):
    """The agent state plus the ids of the messages already recorded into tiermem."""

    tiermem_recorded: NotRequired[Annotated[list[str], PrivateStateAttr]]


def _configurable() -> dict[str, Any]:
    try:
        return dict(get_config().get("configurable") or {})
    except RuntimeError:  # called outside a graph run
        return {}


def _latest_question(messages: Sequence[BaseMessage]) -> str | None:
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and str(message.text).strip():
            return str(message.text)
    return None


def _with_memory(
    system: SystemMessage | None, memory: Sequence[BaseMessage]
) -> SystemMessage | None:
    """The system prompt with the memory section appended (one system message for any model)."""
    notes = "\n\n".join(str(m.text) for m in memory if str(m.text).strip())
    if not notes:
        return system
    if system is None:
        return SystemMessage(content=notes)
    if isinstance(system.content, str):
        content: str | list[str | dict[str, Any]] = (
            f"{system.content}\n\n{notes}" if system.content else notes
        )
    else:
        content = [*system.content, {"type": "text", "text": notes}]
    return system.model_copy(update={"content": content})


class TieredContextMiddleware(AgentMiddleware[TieredContextState, Any, Any]):
    """Budgeted context in, every message recorded: `create_agent(..., middleware=[this])`.

    ``max_tokens`` bounds the system prompt plus the messages sent (tool schemas
    are not counted); default: the memory's ``context.max_tokens``. Scope ids not
    given here are read from the run's ``configurable`` (``thread_id`` is the
    session, then ``user_id`` / ``agent_id``); the session defaults to ``"default"``.
    """

    state_schema = TieredContextState

    def __init__(
        self,
        memory: tiermem.TieredMemory,
        *,
        max_tokens: int | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        super().__init__()
        self.memory = memory
        self.max_tokens = max_tokens
        self.session_id = session_id
        self.user_id = user_id
        self.agent_id = agent_id

    # --- shared logic ------------------------------------------------------------------

    def _scope(self) -> tiermem.Scope:
        """The ids given here, else the run's ``configurable`` ones."""
        configurable = _configurable()
        session = self.session_id or configurable.get("thread_id") or "default"
        user = self.user_id or configurable.get("user_id")
        agent = self.agent_id or configurable.get("agent_id")
        return tiermem.Scope(
            user_id=str(user) if user is not None else None,
            agent_id=str(agent) if agent is not None else None,
            session_id=str(session),
        )

    def _pending(self, state: TieredContextState) -> tuple[list[Turn], dict[str, Any] | None]:
        """Turns not yet recorded, and the state update that marks them recorded."""
        recorded: list[str] = list(state.get("tiermem_recorded") or [])
        seen = set(recorded)
        turns: list[Turn] = []
        messages: list[AnyMessage] = state["messages"]
        for message in messages:
            if message.id is not None and message.id in seen:
                continue
            turns.append(message_to_turn(message))
            if message.id is not None:
                recorded.append(message.id)
                seen.add(message.id)
        return turns, ({_RECORDED: recorded} if turns else None)

    def _budget(self) -> int:
        return self.max_tokens or self.memory.config.context.max_tokens

    def _assemble(
        self, request: ModelRequest[Any], context: tiermem.Context
    ) -> tuple[ModelRequest[Any], int]:
        """The request with the context in place, and by how many tokens it is over budget."""
        memory, recent = split_context(context)
        system = _with_memory(request.system_message, memory)
        sent: list[BaseMessage] = [system, *recent] if system is not None else list(recent)
        total = count_messages(self.memory.token_counter, sent)
        new = request.override(messages=list(recent), system_message=system)
        return new, total - self._budget()

    def _first_budget(self, request: ModelRequest[Any]) -> int:
        system = request.system_message
        cost = count_messages(self.memory.token_counter, [system]) if system is not None else 0
        budget = self._budget() - cost
        if budget <= 0:
            raise ValueError(
                f"max_tokens: the system prompt alone takes {cost} tokens, "
                f"more than the budget of {self._budget()}"
            )
        return budget

    # --- hooks ---------------------------------------------------------------------------

    def before_model(
        self, state: TieredContextState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        turns, update = self._pending(state)
        if turns:
            self.memory.add_messages([t.as_message() for t in turns], scope=self._scope())
        return update

    async def abefore_model(
        self, state: TieredContextState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        turns, update = self._pending(state)
        if turns:
            await self.memory.aadd_messages([t.as_message() for t in turns], scope=self._scope())
        return update

    def after_agent(
        self, state: TieredContextState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        return self.before_model(state, runtime)

    async def aafter_agent(
        self, state: TieredContextState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        return await self.abefore_model(state, runtime)

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any] | AIMessage | ExtendedModelResponse[Any]:
        scope = self._scope()
        query = _latest_question(request.messages)
        budget = self._first_budget(request)
        for _ in range(_MAX_REBUILDS):
            context = self.memory.build_context(query, scope=scope, max_tokens=budget)
            new, over = self._assemble(request, context)
            if over <= 0 or budget - over <= 0:
                break
            budget -= over  # joining the memory into the system prompt cost a little more
        return handler(new)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any] | AIMessage | ExtendedModelResponse[Any]:
        scope = self._scope()
        query = _latest_question(request.messages)
        budget = self._first_budget(request)
        for _ in range(_MAX_REBUILDS):
            context = await self.memory.abuild_context(query, scope=scope, max_tokens=budget)
            new, over = self._assemble(request, context)
            if over <= 0 or budget - over <= 0:
                break
            budget -= over
        return await handler(new)
