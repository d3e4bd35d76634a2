"""LangSmith tracing params of ChatUniScale's own run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import LangSmithParams

if TYPE_CHECKING:
    from .chat_models import ChatUniScale

__all__ = ["ls_params"]


def ls_params(chat: ChatUniScale, stop: list[str] | None, kwargs: Mapping[str, Any]
              ) -> LangSmithParams:
    """Tracing params: the chosen child's model where it is known before the call.

    LangChain computes them before the arm is chosen, so ``ls_model_name`` is the child's
    own model name (``gpt-4o-mini``) when the call is pinned with ``model=`` or the router
    has one model, else ``uniscale[alias,...]``; each child's nested run reports its own
    model (and usage), so cost dashboards price the children's runs. A ``model=`` that is
    no alias is reported as given.
    """
    model = kwargs.get("model")
    if isinstance(model, str):
        name = chat._child_model_name(model) if model in chat.models else model
    elif len(chat.models) == 1:
        name = chat._child_model_name(next(iter(chat.models)))
    else:
        name = "uniscale[" + ",".join(chat.models) + "]"
    params = LangSmithParams(ls_provider="uniscale", ls_model_name=name, ls_model_type="chat")
    temperature = kwargs.get("temperature", chat.temperature)
    if isinstance(temperature, (int, float)):
        params["ls_temperature"] = temperature
    max_tokens = kwargs.get("max_tokens", chat.max_tokens)
    if isinstance(max_tokens, int):
        params["ls_max_tokens"] = max_tokens
    if stop or chat.stop:
        params["ls_stop"] = list(stop or chat.stop or [])
    return params
