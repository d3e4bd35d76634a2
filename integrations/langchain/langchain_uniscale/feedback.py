"""Giving a score to the decisions a feedback target names (a run, a message, an id)."""

from __future__ import annotations

from typing import Any

from uniscale import DuplicateFeedbackError, Router

from .runs import RunIndex, resolve_targets

__all__ = ["give_feedback"]


def give_feedback(router: Router, runs: RunIndex, target: Any, score: float,
                  cost: float | None = None) -> list[str]:
    """Score every decision ``target`` names; the decision ids that learned.

    A run that contains several routed calls credits each of them; decisions that already
    have feedback are skipped unless none is left.

    Raises:
        uniscale.UnknownDecisionError: The target names no routed call.
        uniscale.DuplicateFeedbackError: Every decision named already has feedback.
        uniscale.InvalidScoreError: The score is NaN, infinite or out of range.
    """
    decisions = resolve_targets(target, runs)
    credited: list[str] = []
    duplicate: DuplicateFeedbackError | None = None
    for decision_id in decisions:
        try:
            spent = cost if len(decisions) == 1 else None
            if router.feedback(decision_id, score, spent):
                credited.append(decision_id)
        except DuplicateFeedbackError as exc:
            if len(decisions) == 1:
                raise
            duplicate = exc
    if duplicate is not None and not credited:
        raise duplicate
    return credited
