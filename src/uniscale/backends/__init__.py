"""Backends: adapters from the router to model providers.

The provider adapters are optional extras and are imported lazily, so that
``import uniscale.backends`` needs neither SDK.
"""

from __future__ import annotations

from typing import Any

from .base import AsyncBackend, Backend
from .fake import FakeBackend

__all__ = ["AnthropicBackend", "AsyncBackend", "Backend", "FakeBackend", "OpenAIBackend"]


def __getattr__(name: str) -> Any:
    if name == "OpenAIBackend":
        from .openai import OpenAIBackend

        return OpenAIBackend
    if name == "AnthropicBackend":
        from .anthropic import AnthropicBackend

        return AnthropicBackend
    raise AttributeError(f"module 'uniscale.backends' has no attribute {name!r}")
