"""Backends: adapters from the router to model providers.

The provider adapters are optional extras and are imported lazily, so that
``import uniscale.backends`` needs neither SDK::

    pip install 'uniscale[openai]'      # OpenAIBackend (any OpenAI-compatible server)
    pip install 'uniscale[anthropic]'   # AnthropicBackend

    from uniscale.backends import AnthropicBackend, OpenAIBackend

    backends = {
        "mini": OpenAIBackend("gpt-4o-mini"),                      # or client=OpenAI(...)
        "local": OpenAIBackend("qwen", base_url="http://localhost:8000/v1", api_key="-"),
        "haiku": AnthropicBackend("claude-haiku-4-5", prompt_cache=True),
    }

``OpenAIBackend`` asks for the samples of a multi-sample arm in one call (``n=``);
``AnthropicBackend`` makes one call per sample (the router runs them concurrently).
Usage comes from the responses (cached, cache-write and reasoning tokens included), so
``Result.cost`` is the provider's usage times your :class:`~uniscale.Price`. A call that
still fails after the SDK's retries raises :class:`ProviderError` (a
:class:`~uniscale.BackendError`); the router then serves the request from its
``fallback`` arms. Both backends stream one sample with ``stream()`` / ``astream()``
(see :mod:`uniscale.backends.common`).
"""

from __future__ import annotations

from typing import Any

from .base import AsyncBackend, Backend
from .common import (
    AsyncTextStream,
    MalformedResponseError,
    ProviderError,
    StreamInterruptedError,
    TextStream,
)
from .fake import FakeBackend

__all__ = [
    "AnthropicBackend",
    "AsyncBackend",
    "AsyncTextStream",
    "Backend",
    "FakeBackend",
    "MalformedResponseError",
    "OpenAIBackend",
    "ProviderError",
    "StreamInterruptedError",
    "TextStream",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAIBackend":
        from .openai import OpenAIBackend

        return OpenAIBackend
    if name == "AnthropicBackend":
        from .anthropic import AnthropicBackend

        return AnthropicBackend
    raise AttributeError(f"module 'uniscale.backends' has no attribute {name!r}")
