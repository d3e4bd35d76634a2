"""The :class:`Backend` protocol: what the router needs from a model provider."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..types import Completion, Request

__all__ = ["AsyncBackend", "Backend"]


@runtime_checkable
class Backend(Protocol):
    """A model the router can call.

    Attributes:
        max_samples_per_call: How many samples one call can return (OpenAI's ``n``).
            ``1`` means every sample is its own call and pays for the input again.
    """

    max_samples_per_call: int

    def complete(self, request: Request) -> Completion:
        """Generate ``request.n`` samples (``n <= max_samples_per_call``) in one call."""
        ...


@runtime_checkable
class AsyncBackend(Backend, Protocol):
    """A backend that can also be awaited."""

    async def acomplete(self, request: Request) -> Completion:
        """Async form of :meth:`Backend.complete`."""
        ...
