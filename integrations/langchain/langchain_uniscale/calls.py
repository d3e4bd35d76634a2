"""One routed call: from LangChain's arguments to the core's decision and request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage

from uniscale import (
    Arm,
    ConfigurationError,
    Decision,
    Message,
    NoArmAllowedError,
    Request,
    Router,
)
from uniscale.adapters import context_kwargs

from .backend import CHILD_KWARGS, PARENT_RUN, TOOL_CHOICE, TOOLS
from .convert import to_uniscale_messages
from .modalities import accepts, needed_inputs, refusals

if TYPE_CHECKING:
    from .chat_models import ChatUniScale

__all__ = ["CONTEXT_KEY", "CallPlan", "plan_call"]

CONTEXT_KEY = "uniscale_context"
"""Run metadata key whose mapping is given to ``Router.decide(context=...)``."""


@dataclass(frozen=True)
class CallPlan:
    """What one call routes: the core messages, the arms it may use and its request.

    Attributes:
        messages: The conversation as core messages (the LangChain ones ride along).
        allowed: Which arms may serve it (``None``: all).
        request: The request handed to the chosen arm's strategy.
        context: Side features for the router, from the run's metadata.
    """

    messages: tuple[Message, ...]
    allowed: Callable[[Arm], bool] | None
    request: Request
    context: Mapping[str, Any] | None = field(default=None)

    def decide(self, router: Router) -> Decision:
        """The router's decision for this call.

        Raises:
            uniscale.ConfigurationError: A context was given but the installed core's
                ``Router.decide`` takes no ``context=``.
        """
        decide: Any = router.decide
        decision: Decision = decide(self.messages, allowed=self.allowed,
                                    **context_kwargs(router, self.context))
        return decision


def _context(run_manager: Any) -> Mapping[str, Any] | None:
    metadata = getattr(run_manager, "metadata", None) or {}
    context = metadata.get(CONTEXT_KEY)
    if context is None:
        return None
    if not isinstance(context, Mapping):
        raise ConfigurationError(
            f"metadata[{CONTEXT_KEY!r}] must be a mapping of side features "
            f"(str -> str | int | float | bool), got {type(context).__name__}")
    return context


def plan_call(chat: ChatUniScale, messages: list[BaseMessage], stop: list[str] | None,
              run_manager: Any, kwargs: dict[str, Any]) -> CallPlan:
    """The plan of one call of ``chat``.

    Args:
        chat: The router chat model.
        messages: The call's messages.
        stop: Its stop sequences (``None``: the model's default).
        run_manager: The router's run manager (children's runs nest under it).
        kwargs: The call's keyword arguments: ``model=`` pins a model, ``tools`` and
            ``tool_choice`` (from ``bind_tools``) restrict the arms to tool-capable ones,
            the rest is passed to the child. Content blocks (images, PDFs, audio) keep
            the call off children whose profile refuses them.

    Raises:
        uniscale.ConfigurationError: ``model=`` names no model of the router.
        uniscale.NoArmAllowedError: No model may take the call's content blocks.
    """
    kwargs = dict(kwargs)
    model = kwargs.pop("model", None)
    tools = kwargs.pop(TOOLS, None)
    tool_choice = kwargs.pop(TOOL_CHOICE, None)
    kwargs.pop("stream", None)
    if model is not None and model not in chat.models:
        raise ConfigurationError(
            f"model={model!r} is not one of this router's models {sorted(chat.models)}")
    needs = needed_inputs(messages)
    allowed: Callable[[Arm], bool] | None = None
    if tools or model is not None or needs:
        capable = set(chat.tool_models()) if tools else set(chat.models)
        if needs:
            capable &= {m for m, child in chat.models.items() if accepts(child, needs)}
            if not capable & ({model} if model is not None else set(chat.models)):
                raise NoArmAllowedError(
                    f"no model of this router can take this request's inputs: "
                    f"{refusals(chat.models, needs)} (from the models' LangChain profiles)")

        def allowed(arm: Arm) -> bool:
            return ((not tools or arm.strategy.supports_tools) and arm.model in capable
                    and (model is None or arm.model == model))
    options: dict[str, Any] = {CHILD_KWARGS: kwargs, PARENT_RUN: run_manager}
    if tools:
        options[TOOLS] = tools
        options[TOOL_CHOICE] = tool_choice
    core = to_uniscale_messages(messages)
    stop = stop if stop is not None else chat.stop
    request = Request(core, temperature=chat.temperature,
                      stop=tuple(stop) if stop else None, max_tokens=chat.max_tokens,
                      options=options)
    return CallPlan(core, allowed, request, _context(run_manager))
