"""Plain values shared by the core and its adapters: messages, requests, usage, samples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import EmptyRequestError, InvalidRequestError

__all__ = ["Completion", "Message", "Request", "Sample", "Usage", "as_messages"]


@dataclass(frozen=True)
class Message:
    """One chat message.

    Attributes:
        role: ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
        content: The text of the message.
        extra: Anything an adapter needs to carry through unchanged (tool calls, ids).
    """

    role: str
    content: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or not isinstance(self.content, str):
            raise InvalidRequestError(
                f"Message role and content must be strings, got role={self.role!r}, "
                f"content={type(self.content).__name__}: pass Message('user', 'text')")
        if not isinstance(self.extra, Mapping):
            raise InvalidRequestError(f"Message extra must be a dict, got {self.extra!r}")


@dataclass(frozen=True)
class Usage:
    """Token usage of one or more backend calls.

    Attributes:
        input_tokens: Prompt tokens billed (including cached ones).
        output_tokens: Generated tokens billed (including reasoning tokens).
        cached_input_tokens: Part of ``input_tokens`` served from a prompt cache.
        cache_write_tokens: Part of ``input_tokens`` written to a prompt cache.
        reasoning_tokens: Part of ``output_tokens`` spent on hidden reasoning.
        calls: Number of backend calls these figures cover.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            calls=self.calls + other.calls,
        )

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Request:
    """What a strategy asks a backend for.

    Attributes:
        messages: The conversation.
        n: Samples wanted from this call (backends without native multi-sampling get 1).
        temperature: Sampling temperature, or ``None`` for the backend's default.
        variant: Prompt variant of the arm's strategy (``"cot"``, ``"pot"``, ...).
        stop: Stop sequences.
        max_tokens: Cap on generated tokens.
        options: Extra keyword arguments passed through to the backend (tools, ...).
    """

    messages: tuple[Message, ...]
    n: int = 1
    temperature: float | None = None
    variant: str | None = None
    stop: tuple[str, ...] | None = None
    max_tokens: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The text of the last user message (the whole conversation if there is none)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return "\n".join(m.content for m in self.messages)


@dataclass(frozen=True)
class Sample:
    """One generated answer.

    Attributes:
        text: The generated text.
        usage: Usage attributed to this sample (its share of a multi-sample call).
        payload: The backend's native object (an ``AIMessage``, a ``ChatResponse``, ...)
            so that adapters can hand it back unchanged.
    """

    text: str
    usage: Usage = field(default_factory=Usage)
    payload: Any = None


@dataclass(frozen=True)
class Completion:
    """Result of one backend call: one or more samples and the call's total usage."""

    samples: tuple[Sample, ...]
    usage: Usage


def as_messages(value: str | Message | Mapping[str, Any] | Sequence[Any]) -> tuple[Message, ...]:
    """Turn a prompt string, a message, a dict or a list of them into messages.

    Args:
        value: A prompt string, a :class:`Message`, an OpenAI-style ``{"role", "content"}``
            dict, or a sequence of those.

    Returns:
        The messages as a tuple.

    Raises:
        EmptyRequestError: When there is no message or every message is blank.
        InvalidRequestError: When an element is of an unsupported type.
    """
    items: Sequence[Any]
    items = [value] if isinstance(value, (str, Message, Mapping)) else list(value)
    out: list[Message] = []
    for item in items:
        if isinstance(item, Message):
            out.append(item)
        elif isinstance(item, str):
            out.append(Message("user", item))
        elif isinstance(item, Mapping):
            content = item.get("content", "")
            if not isinstance(content, str):
                content = _flatten_content(content)
            extra = {k: v for k, v in item.items() if k not in ("role", "content")}
            out.append(Message(str(item.get("role", "user")), content, extra))
        else:
            raise InvalidRequestError(
                f"cannot use {type(item).__name__} as a message: pass a string, a "
                "uniscale.Message or a {'role': ..., 'content': ...} dict"
            )
    if not out or all(not m.content.strip() and not m.extra for m in out):
        raise EmptyRequestError(
            "the request is empty: pass a non-blank prompt or at least one message with content"
        )
    return tuple(out)


def _flatten_content(content: Any) -> str:
    """Join the text parts of a multi-part message content list."""
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return "" if content is None else str(content)
