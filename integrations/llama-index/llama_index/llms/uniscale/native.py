"""Native multi-sampling: several samples from one request of a child that supports it.

LlamaIndex's OpenAI LLMs (``llama_index.llms.openai.OpenAI`` and its subclasses, e.g.
``OpenAILike`` and ``AzureOpenAI``) send the keywords of a call in the request body, and
the Chat Completions and Completions APIs answer ``n`` choices to one request whose input
is billed once. The response the child returns holds the first choice; its ``raw`` holds
all of them.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
)
from llama_index.core.llms.llm import LLM

import uniscale as us

__all__ = ["MAX_NATIVE_SAMPLES", "native_limit", "refuses_n", "split_choices"]

MAX_NATIVE_SAMPLES = 128
"""Largest ``n`` asked of one request (OpenAI's own limit)."""

_NATIVE_MODULE = "llama_index.llms.openai"


def native_limit(llm: LLM) -> int:
    """How many samples one call of ``llm`` may return (1: no native multi-sampling).

    Raises:
        uniscale.ConfigurationError: The child pins ``n`` in its ``additional_kwargs``
            (it would override the arm's sample count on every call).
    """
    native = any(cls.__name__ == "OpenAI" and cls.__module__.startswith(_NATIVE_MODULE)
                 for cls in type(llm).__mro__)
    if not native:
        return 1
    pinned = (getattr(llm, "additional_kwargs", None) or {}).get("n")
    if pinned not in (None, 1):
        raise us.ConfigurationError(
            f"child {llm.metadata.model_name!r} sets additional_kwargs['n']={pinned!r}, which "
            "would override every arm's sample count: remove it, and give the router arms "
            "with n= (UniScaleLLM(..., n=[1, 5])) instead")
    return MAX_NATIVE_SAMPLES


def refuses_n(exc: BaseException) -> bool:
    """Whether a failed call looks like a server refusing ``n > 1`` (HTTP 400 or 422)."""
    status = getattr(exc, "status_code", None)
    return status in (400, 422)


def _choice_text(choice: Any) -> str | None:
    message = getattr(choice, "message", None)
    if message is not None:
        content = getattr(message, "content", None)
        return content if isinstance(content, str) else ("" if content is None else None)
    text = getattr(choice, "text", None)
    return text if isinstance(text, str) else None


def split_choices(response: ChatResponse | CompletionResponse
                  ) -> list[ChatResponse | CompletionResponse]:
    """One response per choice of a multi-choice reply (the response itself if it has one).

    Each response keeps the reply's token counts in ``additional_kwargs``; its ``raw``
    holds only its own choice.
    """
    raw = response.raw
    choices = getattr(raw, "choices", None)
    if not isinstance(choices, list) or len(choices) <= 1:
        return [response]
    copy = getattr(raw, "model_copy", None)
    out: list[ChatResponse | CompletionResponse] = []
    for choice in choices:
        text = _choice_text(choice)
        if text is None:
            return [response]
        own = copy(update={"choices": [choice]}) if callable(copy) else raw
        if isinstance(response, ChatResponse):
            message = ChatMessage(role=MessageRole.ASSISTANT, content=text)
            out.append(response.model_copy(update={"message": message, "raw": own,
                                                   "delta": None}))
        else:
            out.append(response.model_copy(update={"text": text, "raw": own, "delta": None}))
    return out
