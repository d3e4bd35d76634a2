"""Running decisions on their backends: ``invoke``, ``run`` and their async forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .arms import Arm
from .errors import MissingBackendError
from .inputs import ArmSelector, messages_of
from .results import Decision, Result
from .serving import ServedRouter, aserve, next_fallback, serve
from .types import Message, Request, Usage

__all__ = ["Invoking"]


class _InvokingRouter(ServedRouter, Protocol):
    """What :class:`Invoking` needs of the router it is mixed into."""

    def decide(self, request: Any = None, *, features: Any = None,
               allowed: ArmSelector | None = None, input_tokens: int | None = None,
               context: Mapping[str, Any] | None = None) -> Decision: ...


def _request(messages: tuple[Message, ...], temperature: float | None,
             stop: Sequence[str] | None, max_tokens: int | None,
             options: Mapping[str, Any]) -> Request:
    return Request(messages, temperature=temperature, stop=tuple(stop) if stop else None,
                   max_tokens=max_tokens, options=dict(options))


class Invoking:
    """The running half of :class:`~uniscale.Router` (a mixin: it holds no state)."""

    def _backend(self: _InvokingRouter, arm: Arm) -> Any:
        try:
            return self.backends[arm.model]
        except KeyError:
            raise MissingBackendError(
                f"model {arm.model!r} has no backend: pass backends={{{arm.model!r}: ...}} "
                "to the Router (or use decide() and run the model yourself)"
            ) from None

    def run(self: _InvokingRouter, decision: Decision, request: Request) -> Result:
        """Run a decision made by :meth:`decide` on its backend, with the fallback arms.

        Args:
            decision: A pending decision of this router.
            request: The request (see :class:`~uniscale.Request`).
        """
        return serve(self, decision, request)

    async def arun(self: _InvokingRouter, decision: Decision, request: Request) -> Result:
        """Async form of :meth:`run`."""
        return await aserve(self, decision, request)

    def report_failure(self: _InvokingRouter, decision: Decision, *, usage: Usage | None = None,
                       fallback: bool = True) -> Decision | None:
        """Tell the router that running ``decision`` yourself failed (e.g. mid-stream).

        The failure is counted, never learned as a quality score, and the decision takes
        no feedback. Returns the decision of the next fallback arm to serve the request
        with, or ``None`` when there is none.

        Args:
            decision: The failed decision.
            usage: Tokens the failed attempt was billed, when known.
            fallback: Decide on a fallback arm (False when the caller cannot use one,
                e.g. after part of a stream was already sent).
        """
        return next_fallback(self, decision, [decision.arm], usage, fallback=fallback)

    def invoke(
        self: _InvokingRouter,
        request: str | Message | Sequence[Any] | Mapping[str, Any],
        *,
        allowed: ArmSelector | None = None,
        features: Any = None,
        input_tokens: int | None = None,
        context: Mapping[str, Any] | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
        max_tokens: int | None = None,
        **options: Any,
    ) -> Result:
        """Decide, run the arm's strategy on its backend, and record usage and cost.

        When every sample of the chosen arm fails, the ``fallback`` arms are tried in
        order; a failure is never learned as a low quality score.

        ``allowed``, ``features``, ``input_tokens`` and ``context`` are as in
        :meth:`decide` (``context={"task": "sql"}``: side features of the request);
        ``temperature``, ``stop``, ``max_tokens`` and ``options`` go to the backend.

        Raises:
            AllSamplesFailedError: The arm and every fallback failed.
        """
        messages = messages_of(request)
        decision = self.decide(messages, features=features, allowed=allowed,
                               input_tokens=input_tokens, context=context)
        base = _request(messages, temperature, stop, max_tokens, options)
        return serve(self, decision, base)

    async def ainvoke(
        self: _InvokingRouter,
        request: str | Message | Sequence[Any] | Mapping[str, Any],
        *,
        allowed: ArmSelector | None = None,
        features: Any = None,
        input_tokens: int | None = None,
        context: Mapping[str, Any] | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
        max_tokens: int | None = None,
        **options: Any,
    ) -> Result:
        """Async form of :meth:`invoke`; samples run as concurrent tasks."""
        messages = messages_of(request)
        decision = self.decide(messages, features=features, allowed=allowed,
                               input_tokens=input_tokens, context=context)
        base = _request(messages, temperature, stop, max_tokens, options)
        return await aserve(self, decision, base)
