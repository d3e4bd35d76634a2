"""Serving a decision: run the arm's strategy, fall back on failure, account the cost."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np

from .arms import Arm, ArmSpace
from .cost import CostModel
from .errors import AllSamplesFailedError
from .objective import Pacer
from .results import Decision, Result
from .sampling import StrategyRun, arun_strategy, run_strategy
from .types import Request, Usage

__all__ = ["ServedRouter", "aserve", "billed_usage", "next_fallback", "serve"]


class ServedRouter(Protocol):
    """What serving needs of a :class:`uniscale.Router` (no import of the router)."""

    _lock: threading.RLock
    pending: Any
    stats: dict[str, Any]
    costs: CostModel
    pacer: Pacer
    fallback: tuple[Arm, ...]
    arms: ArmSpace
    backends: dict[str, Any]
    implicit: Any

    def _decide(self, x: np.ndarray, tokens: int, arms: list[Arm], *,
                new_request: bool) -> Decision: ...

    def _backend(self, arm: Arm) -> Any: ...

    def observe(self, decision_id: str, usage: Usage, *, samples: int = 1,
                extra_cost: float = 0.0, request_tokens: int | None = None) -> float: ...


def billed_usage(exc: AllSamplesFailedError) -> Usage | None:
    """What the failed calls of ``exc`` were billed (a malformed but billed reply, the
    part of a stream that arrived), or ``None`` when no failure reported usage."""
    found: list[Usage] = [u for e in exc.errors
                          if isinstance(u := getattr(e, "usage", None), Usage)]
    if not found:
        return None
    total = Usage()
    for usage in found:
        total = total + usage
    return total


def next_fallback(router: ServedRouter, decision: Decision, failed: list[Arm],
                  usage: Usage | None = None, *, fallback: bool = True) -> Decision | None:
    """Record that ``decision``'s arm failed and decide on the next untried fallback arm.

    The failure is counted in ``router.stats["failures"]``; it is not learned as a quality
    score, and the decision takes no feedback. The budget pacer is charged what the
    failed attempt used (``usage``), or refunded the predicted cost when nothing is known.
    """
    with router._lock:
        pending = router.pending.close(decision.id, "failed")  # a clear error if not pending
        assert pending is not None  # only answered claims may have been recorded earlier
        failures = router.stats["failures"]
        failures[decision.arm.key] = failures.get(decision.arm.key, 0) + 1
        used = 0.0 if usage is None else router.costs.observed_cost(decision.arm.model, usage)
        router.pacer.charge(used - pending.charged, new_request=False)
        if used:
            router.stats["failed_cost"] = router.stats.get("failed_cost", 0.0) + used
        for arm in router.fallback if fallback else ():
            if arm not in failed and arm in router.arms and arm.model in router.backends:
                return router._decide(pending.x, decision.input_tokens, [arm], new_request=False)
    return None


def _result(router: ServedRouter, decision: Decision, run: StrategyRun, errors: list[str],
            failed: list[Arm]) -> Result:
    agg = run.aggregate
    cost = router.observe(decision.id, run.usage, samples=len(run.samples),
                          extra_cost=agg.scorer_cost, request_tokens=decision.input_tokens)
    result = Result(
        text=run.chosen.text, decision=decision, samples=run.samples, chosen=agg.index,
        usage=run.usage + agg.scorer_usage, cost=cost, answer=agg.answer,
        agreement=agg.agreement, errors=tuple(errors + [repr(e) for e in run.errors]),
        failed_arms=tuple(failed),
    )
    if router.implicit is not None:
        with router._lock:
            router.implicit.record(router, result)
    return result


def serve(router: ServedRouter, decision: Decision, base: Request,
          failed: list[Arm] | None = None) -> Result:
    """Run ``decision`` on its backend, trying the router's fallback arms on failure.

    Args:
        router: The router that made ``decision``.
        decision: A pending decision.
        base: The request.
        failed: Arms that already failed on this request (never tried again).

    Raises:
        AllSamplesFailedError: The arm and every fallback failed.
    """
    errors: list[str] = []
    failed = list(failed or [])
    current: Decision | None = decision
    while current is not None:
        backend = router._backend(current.arm)
        try:
            run = run_strategy(current.arm.strategy, backend, base, current.arm.n)
        except AllSamplesFailedError as exc:
            errors.append(f"{current.arm}: {exc}")
            failed.append(current.arm)
            last = exc
            current = next_fallback(router, current, failed, billed_usage(exc))
            continue
        return _result(router, current, run, errors, failed)
    raise AllSamplesFailedError(
        f"arm(s) {', '.join(a.key for a in failed)} failed and no fallback is left: "
        f"{errors[-1]}", last.errors) from last


async def aserve(router: ServedRouter, decision: Decision, base: Request,
                 failed: list[Arm] | None = None) -> Result:
    """Async form of :func:`serve`."""
    errors: list[str] = []
    failed = list(failed or [])
    current: Decision | None = decision
    while current is not None:
        backend = router._backend(current.arm)
        try:
            run = await arun_strategy(current.arm.strategy, backend, base, current.arm.n)
        except AllSamplesFailedError as exc:
            errors.append(f"{current.arm}: {exc}")
            failed.append(current.arm)
            last = exc
            current = next_fallback(router, current, failed, billed_usage(exc))
            continue
        return _result(router, current, run, errors, failed)
    raise AllSamplesFailedError(
        f"arm(s) {', '.join(a.key for a in failed)} failed and no fallback is left: "
        f"{errors[-1]}", last.errors) from last
