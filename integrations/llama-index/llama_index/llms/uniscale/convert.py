"""Pure conversions between LlamaIndex values and UniScale's core values.

Nothing here routes, calls a model or keeps state: every function maps its inputs to a
new value and leaves them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
)

import uniscale as us

__all__ = [
    "NATIVE_KEY",
    "from_uniscale_message",
    "from_uniscale_messages",
    "prompt_from_messages",
    "reported_usage",
    "to_uniscale_message",
    "to_uniscale_messages",
    "token_counts",
]

NATIVE_KEY = "llama_index_message"
"""Key of :attr:`uniscale.Message.extra` that carries the original ``ChatMessage``."""

_INPUT_KEYS = ("prompt_tokens", "input_tokens", "prompt_token_count")
_OUTPUT_KEYS = ("completion_tokens", "output_tokens", "candidates_token_count")


def to_uniscale_message(message: ChatMessage) -> us.Message:
    """Turn a LlamaIndex ``ChatMessage`` into a :class:`uniscale.Message`.

    The text blocks become the content; the original message rides along in
    ``extra[NATIVE_KEY]`` so that tool calls, images and ids survive the round trip.

    Args:
        message: The LlamaIndex message.

    Returns:
        The core message.
    """
    role = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
    return us.Message(role=role, content=message.content or "", extra={NATIVE_KEY: message})


def to_uniscale_messages(messages: Sequence[ChatMessage]) -> tuple[us.Message, ...]:
    """:func:`to_uniscale_message` for every message, in order."""
    return tuple(to_uniscale_message(m) for m in messages)


def from_uniscale_message(message: us.Message) -> ChatMessage:
    """Turn a :class:`uniscale.Message` back into a LlamaIndex ``ChatMessage``.

    A message that came from LlamaIndex gets its original object back; a message the
    core added (a strategy's instruction) is built from its role and text.

    Args:
        message: The core message.

    Returns:
        The LlamaIndex message.
    """
    native = message.extra.get(NATIVE_KEY)
    if isinstance(native, ChatMessage):
        return native
    try:
        role = MessageRole(message.role)
    except ValueError:
        role = MessageRole.USER
    extra = {k: v for k, v in message.extra.items() if k != NATIVE_KEY}
    return ChatMessage(role=role, content=message.content, additional_kwargs=extra)


def from_uniscale_messages(messages: Sequence[us.Message]) -> list[ChatMessage]:
    """:func:`from_uniscale_message` for every message, in order."""
    return [from_uniscale_message(m) for m in messages]


def prompt_from_messages(messages: Sequence[us.Message]) -> str:
    """The completion prompt of a request: its messages' text, blank-line separated.

    A ``complete()`` call enters the core as one user message; a strategy may put an
    instruction in front of it, which this keeps.
    """
    return "\n\n".join(m.content for m in messages if m.content)


def _usage_mapping(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dumped if isinstance(dumped, Mapping) else None
    return vars(value) if hasattr(value, "__dict__") else None


def _first(mapping: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def reported_usage(response: ChatResponse | CompletionResponse) -> tuple[int, int] | None:
    """Prompt and completion tokens a model reported on its response, if it did.

    Looks where LlamaIndex integrations put them: ``raw["usage"]`` (a dict or an SDK
    object), ``raw["usage_metadata"]``, then ``additional_kwargs``.

    Args:
        response: A chat or completion response (or a streamed chunk).

    Returns:
        ``(prompt_tokens, completion_tokens)``, or ``None`` when nothing was reported.
    """
    raw = response.raw
    candidates: list[Mapping[str, Any] | None] = []
    raw_map = _usage_mapping(raw)
    if raw_map is not None:
        candidates.append(_usage_mapping(raw_map.get("usage")))
        candidates.append(_usage_mapping(raw_map.get("usage_metadata")))
    candidates.append(response.additional_kwargs)
    for usage in candidates:
        if not usage:
            continue
        prompt, completion = _first(usage, _INPUT_KEYS), _first(usage, _OUTPUT_KEYS)
        if prompt is not None or completion is not None:
            return prompt or 0, completion or 0
    return None


def token_counts(usage: us.Usage) -> dict[str, int]:
    """LlamaIndex's usual token-count keys for a core :class:`uniscale.Usage`."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
