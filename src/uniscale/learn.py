"""Learning from what a decision achieved: feedback scores and observed usage."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from . import validate
from .errors import (
    DuplicateFeedbackError,
    InvalidRequestError,
    InvalidScoreError,
    UnknownDecisionError,
)
from .inputs import check_number
from .store.memory import Pending
from .types import Usage

if TYPE_CHECKING:
    from .router import Router

__all__ = ["learn_feedback", "learn_usage", "settle"]

log = logging.getLogger("uniscale")


def learn_feedback(router: Router, decision_id: str, score: Any, cost: Any) -> bool:
    """Learn ``score`` (and the USD ``cost``, when given) for a pending decision.

    The decision is claimed first: only the caller whose claim succeeds learns, so a
    lost race or a store failure never leaves an update applied. See
    :meth:`Router.feedback` for the errors.

    Returns:
        True when learned; False when ignored (``on_invalid_feedback="ignore"``).
    """
    try:
        value = check_number("score", score, 1.0)
        spent = None if cost is None else check_number("cost", cost, None)
        with router._lock:
            pending = router.pending.close(str(decision_id), reward=value)
            if pending is not None:  # None: an earlier attempt already recorded it
                if router.implicit is not None:  # replaces an implicit reward, once
                    router.implicit.explicit(router, pending.id, value)
                router.policy.update(router.policy.slot(pending.arm), pending.x, value)
                if spent is not None:
                    if pending.observed_cost is None:  # no usage seen: learn the USD
                        arm = router.arms.get(pending.arm)
                        if arm is not None:
                            router.costs.observe_cost(arm, spent, pending.input_tokens,
                                                      pending.x)
                    settle(router, pending, spent)
            router.stats["feedback"] += 1
        if router.decision_log is not None:
            router.decision_log.feedback(str(decision_id), value, spent)
        return True
    except (InvalidScoreError, UnknownDecisionError, DuplicateFeedbackError) as exc:
        if router.on_invalid_feedback == "raise":
            raise
        with router._lock:
            router.stats["ignored_feedback"] += 1
        log.warning("uniscale ignored feedback: %s", exc)
        return False


def settle(router: Router, pending: Pending, observed: float) -> None:
    """Charge the pacer the difference between ``observed`` USD and what was charged."""
    router.pacer.charge(observed - pending.charged, new_request=False)
    # a new value, not a change in place: a save's snapshot may still share the old one
    settled = dataclasses.replace(pending, charged=observed, observed_cost=observed)
    update = getattr(router.pending, "update", None)
    if update is not None:
        update(settled)


def learn_usage(router: Router, decision_id: str, usage: Usage, *, samples: Any,
                extra_cost: Any, request_tokens: Any) -> float:
    """Record the usage of a pending decision; see :meth:`Router.observe`.

    Returns:
        The observed cost in USD.
    """
    validate.usage(usage)
    samples = validate.count("samples", samples, high=10**6, error=InvalidRequestError)
    extra_cost = validate.real("extra_cost", extra_cost, low=0.0, error=InvalidScoreError)
    if request_tokens is not None:
        request_tokens = validate.count("request_tokens", request_tokens,
                                        error=InvalidRequestError)
    with router._lock:
        pending = router.pending.get(str(decision_id))
        arm = router.arms.get(pending.arm)  # None when removed since the decision
        model = arm.model if arm is not None else pending.arm.rsplit("/", 2)[0]
        cost = router.costs.observed_cost(model, usage) + extra_cost
        if arm is not None:
            router.costs.observe(arm, usage.output_tokens, samples,
                                 input_tokens=usage.input_tokens, calls=usage.calls,
                                 request_tokens=request_tokens, x=pending.x)
        settle(router, pending, cost)
    if router.decision_log is not None:
        router.decision_log.cost(pending.id, cost)
    return cost
