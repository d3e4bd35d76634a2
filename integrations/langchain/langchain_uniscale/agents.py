"""Agent middleware: ChatUniScale routes the model calls of ``create_agent`` per thread.

``UniScaleRouterMiddleware`` sits next to LangChain's (beta) ``ModelRouterMiddleware``:
where that one classifies the latest human message once per run, this one lets the
ChatUniScale router decide the first model call of a conversation and then keeps the
conversation on that model (**session affinity**), so that tool calls, their results
and the answers that follow are handled by one model. Every model call is still a
routed decision; the middleware keeps them in the agent state (and per LangGraph
thread), and :meth:`UniScaleRouterMiddleware.feedback` credits all of them once::

    router = UniScaleRouterMiddleware(chat)
    agent = create_agent(chat, tools=[...], middleware=[router], checkpointer=saver)
    state = agent.invoke({"messages": [...]}, {"configurable": {"thread_id": "t1"}})
    router.feedback("t1", score=1.0)  # or router.feedback(state, 1.0)

Needs the ``langchain`` package (``pip install langchain-uniscale[agents]``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, NotRequired

from langchain.agents.middleware.types import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
)
from langchain_core.messages import AIMessage

from uniscale import ConfigurationError, DuplicateFeedbackError, UnknownDecisionError

from .chat_models import ChatUniScale

__all__ = ["UniScaleAgentState", "UniScaleRouterMiddleware"]

Affinity = Literal["thread", "turn"]


class UniScaleAgentState(AgentState):
    """Agent state with the pinned model and the decisions of the conversation."""

    uniscale_model: NotRequired[str | None]
    uniscale_decisions: NotRequired[list[str]]


def _thread_id() -> str | None:
    try:
        from langgraph.config import get_config
    except ImportError:  # pragma: no cover - langgraph comes with langchain's agents
        return None
    try:
        thread = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:  # not inside a graph run
        return None
    return None if thread is None else str(thread)


class UniScaleRouterMiddleware(AgentMiddleware[UniScaleAgentState]):
    """Route an agent's model calls with ChatUniScale, one model per conversation.

    Args:
        chat: The router. It serves every model call of the agent (whatever model
            ``create_agent`` was given).
        affinity: ``"thread"`` keeps a conversation on the model of its first routed
            call for good; ``"turn"`` keeps it there while its tool calls are in flight
            and lets the router choose again for the next human turn.

    Raises:
        uniscale.ConfigurationError: ``chat`` is not a ChatUniScale, or an unknown
            affinity.
    """

    state_schema = UniScaleAgentState

    def __init__(self, chat: ChatUniScale, *, affinity: Affinity = "thread") -> None:
        """Attach the router."""
        super().__init__()
        if not isinstance(chat, ChatUniScale):
            raise ConfigurationError(
                f"UniScaleRouterMiddleware needs a ChatUniScale, got {type(chat).__name__}")
        if affinity not in ("thread", "turn"):
            raise ConfigurationError(f"affinity must be 'thread' or 'turn', got {affinity!r}")
        self.chat = chat
        self.affinity = affinity
        self._threads: dict[str, list[str]] = {}

    # -- model calls ------------------------------------------------------------------
    def _routed(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        pinned = request.state.get("uniscale_model")
        settings = dict(request.model_settings)
        if pinned:
            settings["model"] = pinned
        return request.override(model=self.chat, model_settings=settings)

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Serve the call with the router, pinned to the conversation's model."""
        return handler(self._routed(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async form of :meth:`wrap_model_call`."""
        return await handler(self._routed(request))

    def after_model(self, state: UniScaleAgentState, runtime: Any) -> dict[str, Any] | None:
        """Pin the model of the reply and note its decision."""
        reply = state["messages"][-1] if state["messages"] else None
        info = reply.response_metadata.get("uniscale") if isinstance(reply, AIMessage) else None
        if not isinstance(info, Mapping):
            return None
        decisions = [*state.get("uniscale_decisions", []), str(info["decision_id"])]
        thread = _thread_id()
        if thread is not None:
            self._threads[thread] = decisions
        pinned: str | None = str(info["model"])
        if self.affinity == "turn" and isinstance(reply, AIMessage) and not reply.tool_calls:
            pinned = None  # the turn is over: the next one is routed afresh
        return {"uniscale_model": pinned, "uniscale_decisions": decisions}

    async def aafter_model(self, state: UniScaleAgentState, runtime: Any
                           ) -> dict[str, Any] | None:
        """Async form of :meth:`after_model`."""
        return self.after_model(state, runtime)

    # -- feedback ---------------------------------------------------------------------
    def decisions(self, target: str | Mapping[str, Any]) -> list[str]:
        """The decisions of a conversation: its thread id, or the agent's final state.

        Raises:
            uniscale.UnknownDecisionError: The target names no routed conversation.
        """
        if isinstance(target, Mapping):
            found = list(target.get("uniscale_decisions") or [])
        else:
            found = list(self._threads.get(str(target), []))
        if not found:
            raise UnknownDecisionError(
                f"no routed model call is known for {target!r}: pass the thread_id of an "
                "agent run that used this middleware, or the state the agent returned")
        return found

    def feedback(self, target: str | Mapping[str, Any], score: float,
                 cost: float | None = None) -> bool:
        """Credit ``score`` to every routed model call of a conversation, once.

        Args:
            target: The LangGraph ``thread_id``, or the state ``agent.invoke`` returned.
            score: Quality of the conversation in ``[0, 1]``.
            cost: Observed USD of the whole conversation, when known.

        Returns:
            True when the router learned from it.

        Raises:
            uniscale.UnknownDecisionError: The target names no routed conversation.
            uniscale.DuplicateFeedbackError: Every decision of it already has feedback.
        """
        decisions = self.decisions(target)
        spent = cost / len(decisions) if cost is not None else None
        learned, duplicate = False, None
        for decision_id in decisions:
            try:
                learned = self.chat.feedback(decision_id, score, spent) or learned
            except DuplicateFeedbackError as exc:  # credited by an earlier call
                duplicate = exc
        if duplicate is not None and not learned:
            raise duplicate
        return learned
