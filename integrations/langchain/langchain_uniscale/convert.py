"""Pure conversions between LangChain values and UniScale's core values.

Nothing here routes, samples or learns: it only reshapes messages, usage figures and
messages-to-chunks so that :class:`~langchain_uniscale.ChatUniScale` stays thin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.messages.tool import tool_call_chunk

from uniscale import Message, Usage

__all__ = [
    "LC_MESSAGE_KEY",
    "estimate_usage",
    "message_to_chunk",
    "sum_usage_metadata",
    "to_langchain_messages",
    "to_uniscale_messages",
    "usage_from_metadata",
    "usage_to_metadata",
]

LC_MESSAGE_KEY = "langchain_message"
"""Key of :attr:`uniscale.Message.extra` that carries the original LangChain message."""

_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
}


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return _ROLES.get(message.role, message.role)
    return _ROLES.get(message.type, message.type)


def to_uniscale_messages(messages: Sequence[BaseMessage]) -> tuple[Message, ...]:
    """Core messages for LangChain messages.

    The text of each message is what the router featurises and counts; the original
    message rides along in ``extra`` so that the child model receives it unchanged
    (tool calls, content blocks, names and ids included).

    Args:
        messages: LangChain messages.

    Returns:
        One :class:`uniscale.Message` per input message, in order.
    """
    return tuple(
        Message(_role(m), m.text, {LC_MESSAGE_KEY: m}) for m in messages
    )


def to_langchain_messages(messages: Sequence[Message]) -> list[BaseMessage]:
    """LangChain messages for core messages.

    Messages that came from LangChain are returned as they were; messages the core added
    (a strategy's instruction) are built from their role and text.

    Args:
        messages: Core messages.

    Returns:
        LangChain messages, in order.
    """
    out: list[BaseMessage] = []
    for message in messages:
        original = message.extra.get(LC_MESSAGE_KEY)
        if isinstance(original, BaseMessage):
            out.append(original)
        elif message.role == "system":
            out.append(SystemMessage(message.content))
        elif message.role == "assistant":
            out.append(AIMessage(message.content))
        elif message.role == "tool":
            call_id = str(message.extra.get("tool_call_id", ""))
            out.append(ToolMessage(message.content, tool_call_id=call_id))
        elif message.role == "user":
            out.append(HumanMessage(message.content))
        else:
            out.append(ChatMessage(content=message.content, role=message.role))
    return out


def usage_from_metadata(metadata: Mapping[str, Any] | None) -> Usage | None:
    """Core usage for a LangChain ``usage_metadata`` dict (``None`` when absent).

    Args:
        metadata: ``AIMessage.usage_metadata``.

    Returns:
        The usage of one call, or ``None`` when the model reported none.
    """
    if not metadata:
        return None
    inputs = metadata.get("input_token_details") or {}
    outputs = metadata.get("output_token_details") or {}
    return Usage(
        input_tokens=int(metadata.get("input_tokens") or 0),
        output_tokens=int(metadata.get("output_tokens") or 0),
        cached_input_tokens=int(inputs.get("cache_read") or 0),
        cache_write_tokens=int(inputs.get("cache_creation") or 0),
        reasoning_tokens=int(outputs.get("reasoning") or 0),
        calls=1,
    )


def usage_to_metadata(usage: Usage) -> UsageMetadata:
    """LangChain ``usage_metadata`` for core usage.

    Args:
        usage: Core usage.

    Returns:
        A ``UsageMetadata`` dict with token details where they are non-zero.
    """
    metadata = UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )
    if usage.cached_input_tokens or usage.cache_write_tokens:
        metadata["input_token_details"] = {
            "cache_read": usage.cached_input_tokens,
            "cache_creation": usage.cache_write_tokens,
        }
    if usage.reasoning_tokens:
        metadata["output_token_details"] = {"reasoning": usage.reasoning_tokens}
    return metadata


def estimate_usage(messages: Sequence[BaseMessage], reply: BaseMessage) -> Usage:
    """Usage estimated as ``ceil(characters / 4)`` when a child model reports none.

    Args:
        messages: The messages sent to the child.
        reply: Its reply.

    Returns:
        Estimated usage of one call.
    """
    inputs = sum(-(-len(m.text) // 4) + 4 for m in messages)
    text = str(reply.text)
    if isinstance(reply, AIMessage) and reply.tool_calls:
        text += json.dumps([c["args"] for c in reply.tool_calls])
    return Usage(input_tokens=inputs, output_tokens=-(-len(text) // 4), calls=1)


def sum_usage_metadata(items: Iterable[UsageMetadata | None]) -> UsageMetadata | None:
    """Sum of ``usage_metadata`` dicts, details included (``None`` when all are absent).

    Args:
        items: ``usage_metadata`` of several messages.

    Returns:
        Their sum, or ``None``.
    """
    total: UsageMetadata | None = None
    for item in items:
        if item:
            total = add_usage(total, item)
    return total


def message_to_chunk(message: AIMessage) -> AIMessageChunk:
    """One final stream chunk carrying a whole message.

    Args:
        message: A complete reply.

    Returns:
        An ``AIMessageChunk`` with the same content, tool calls (as tool-call chunks),
        usage and metadata, marked ``chunk_position="last"``.
    """
    chunks = [
        tool_call_chunk(name=c["name"], args=json.dumps(c["args"], ensure_ascii=False),
                        id=c.get("id"), index=i)
        for i, c in enumerate(message.tool_calls)
    ]
    return AIMessageChunk(
        content=message.content,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        usage_metadata=message.usage_metadata,
        tool_call_chunks=chunks,
        id=message.id,
        name=message.name,
        chunk_position="last",
    )
