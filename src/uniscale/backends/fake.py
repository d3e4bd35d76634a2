"""An in-memory backend for tests, examples and offline runs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import BackendError
from ..types import Completion, Request, Sample, Usage

__all__ = ["FakeBackend"]

Responder = Callable[[Request, np.random.Generator], str]


class FakeBackend:
    """A backend that answers from a function or a fixed list, with simulated latency.

    Args:
        responses: A list of texts served in turn, or a function
            ``(request, rng) -> text`` called once per sample.
        latency: Seconds each call sleeps (``time.sleep`` / ``asyncio.sleep``).
        max_samples_per_call: Samples one call may return (``>1`` acts like OpenAI's ``n``).
        output_tokens: Tokens billed per sample; default ``ceil(len(text) / 4)``.
        fail: A function ``(request, call_index) -> bool``; when it returns true the call
            raises :class:`~uniscale.errors.BackendError`.
        rng: Generator handed to a responder function.
    """

    def __init__(
        self,
        responses: Sequence[str] | Responder = ("ok",),
        *,
        latency: float = 0.0,
        max_samples_per_call: int = 1,
        output_tokens: int | None = None,
        fail: Callable[[Request, int], bool] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self._responses = responses
        self.latency = latency
        self.max_samples_per_call = max_samples_per_call
        self._output_tokens = output_tokens
        self._fail = fail
        self._rng = rng if rng is not None else np.random.default_rng(0)
        self._lock = threading.Lock()
        self.calls: list[Request] = []

    def _text(self, request: Request, index: int) -> str:
        if callable(self._responses):
            return self._responses(request, self._rng)
        return self._responses[index % len(self._responses)]

    def _serve(self, request: Request) -> Completion:
        with self._lock:
            call_index = len(self.calls)
            self.calls.append(request)
            base = sum(r.n for r in self.calls[:-1])
            texts = [self._text(request, base + i) for i in range(request.n)]
        if self._fail is not None and self._fail(request, call_index):
            raise BackendError(f"simulated failure of call {call_index}")
        input_tokens = sum(-(-len(m.content) // 4) + 4 for m in request.messages)
        samples = []
        for text in texts:
            out = self._output_tokens if self._output_tokens is not None else -(-len(text) // 4)
            samples.append(Sample(text, Usage(0, out, calls=0)))
        output = sum(s.usage.output_tokens for s in samples)
        return Completion(tuple(samples), Usage(input_tokens, output, calls=1))

    def complete(self, request: Request) -> Completion:
        """Serve one call, sleeping ``latency`` seconds first."""
        if self.latency:
            time.sleep(self.latency)
        return self._serve(request)

    async def acomplete(self, request: Request) -> Completion:
        """Serve one call, awaiting ``latency`` seconds first."""
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._serve(request)
