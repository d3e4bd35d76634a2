"""Policies computed from expected outcomes: best-fixed (chosen on train), random, oracle.

``best-fixed`` is the single arm a user would pick from an eval set: the arm of best mean
expected reward (or best quality within the budget) on the **train** prompts. The arm
that would have been best on the test prompts is reported beside it as
``best-fixed-hindsight`` (it looks at the test part, so it is not a policy one can run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..objective import Budget, Objective, Tradeoff
from .policies import budget_lambda, fixed_policies, oracle_choice
from .scenarios import Scenario

__all__ = ["HINDSIGHT_TEST", "Conditions", "Trace", "conditions", "cost_weight",
           "expected_trace", "hindsight"]

HINDSIGHT_TEST = "best-fixed-hindsight"
"""Name of the fixed arm chosen on the test part (a labelled reference, not a policy)."""


@dataclass(frozen=True)
class Trace:
    """What one policy did at every step of a stream.

    ``quality`` and ``cost`` are the expected outcome of the arm chosen at each step on
    that step's prompt, for every policy: a learner still learns from the replayed draw
    (``observed``), but its figures do not carry the luck of that draw, which is the same
    estimate of its mean reward with less variance (and scored like the hindsight
    policies, which have no draw).

    Attributes:
        arm: ``(T,)`` arm index per step (``-1``: a mixture, for ``random``).
        quality: ``(T,)`` expected score of the chosen arm's answer.
        cost: ``(T,)`` expected USD of the chosen arm.
        observed: ``(quality, cost)`` of the replayed draws the policy was fed back
            (None for hindsight policies).
    """

    arm: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    observed: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Conditions:
    """Expected outcomes along a stream under the scenario's conditions.

    Attributes:
        phase: ``(T,)`` phase index of each step.
        quality: ``(T, A)`` expected quality.
        cost: ``(T, A)`` expected USD (prices scaled as the phase says).
        allowed: ``(T, A)`` arms that can serve and exist at each step.
        visible: ``(A,)`` arms that exist during the whole stream.
    """

    phase: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    allowed: np.ndarray
    visible: np.ndarray


def expected_trace(cond: Conditions, arm: np.ndarray, quality: np.ndarray,
                   cost: np.ndarray) -> Trace:
    """A policy's trace scored by expected outcomes, keeping the observed draws.

    Args:
        cond: Expected outcomes along the stream.
        arm: ``(T,)`` arm chosen at each step.
        quality: ``(T,)`` replayed score fed back at each step.
        cost: ``(T,)`` replayed USD charged at each step.
    """
    rows = np.arange(len(arm))
    return Trace(arm, np.nan_to_num(cond.quality[rows, arm]),
                 np.nan_to_num(cond.cost[rows, arm]), (quality, cost))


def cost_weight(objective: Objective) -> float:
    """λ used to score rewards: ``1/W`` for a trade-off, 0 for a budget (reward = quality)."""
    return 1.0 / objective.willingness_to_pay if isinstance(objective, Tradeoff) else 0.0


def conditions(expected_q: np.ndarray, expected_c: np.ndarray, allowed: np.ndarray,
               arm_model: np.ndarray, scenario: Scenario, order: np.ndarray) -> Conditions:
    """The expected outcomes of every arm at every step of a stream."""
    steps = len(order)
    phase = scenario.phase_at(steps)
    scale = np.ones((len(scenario.phases), len(arm_model)))
    visible = np.ones((len(scenario.phases), len(arm_model)), dtype=bool)
    for i, ph in enumerate(scenario.phases):
        for model, factor in ph.price_scale.items():
            scale[i, arm_model == model] = factor
        for model in ph.hidden_models:
            visible[i, arm_model == model] = False
    return Conditions(phase, expected_q[order], expected_c[order] * scale[phase],
                      allowed[order] & visible[phase], np.asarray(visible.all(0), dtype=bool))


def fixed_arm_trace(allowed: np.ndarray, arm: int, ranking: np.ndarray) -> np.ndarray:
    """Arm per step of the fixed policy ``arm``: itself, or the first arm of ``ranking``
    that can serve where it cannot (ragged tables)."""
    ranked = allowed[:, ranking]
    fallback = ranking[np.argmax(ranked, axis=1)]
    return np.where(allowed[:, arm], arm, fallback)


def _budget_targets(objective: Budget, scenario: Scenario, phase: np.ndarray) -> np.ndarray:
    return np.array([objective.per_request * ph.budget_scale for ph in scenario.phases])[phase]


def _best(q: np.ndarray, c: np.ndarray, allowed: np.ndarray, lam: np.ndarray | float,
          budget: float | None, candidates: np.ndarray) -> tuple[int, np.ndarray]:
    fixed = fixed_policies(q, c, allowed, lam)
    return fixed.best(budget, candidates), fixed.ranking


def hindsight(cond: Conditions, objective: Objective, scenario: Scenario,
              is_test: np.ndarray, train: tuple[np.ndarray, np.ndarray, np.ndarray],
              policies: Sequence[str]
              ) -> tuple[dict[str, Trace], dict[str, int], np.ndarray, np.ndarray]:
    """Traces of ``best-fixed`` (train-chosen), its test-hindsight twin, random, oracle.

    Args:
        cond: Expected outcomes along the stream.
        objective: The objective.
        scenario: The scenario (budget shifts).
        is_test: ``(T,)`` steps of the test part.
        train: ``(quality, cost, allowed)`` of the train prompts the fixed arm is chosen
            on (the stream's train steps, or the eval set of a warm start).
        policies: Policies wanted (``random`` and ``oracle`` are skipped when absent).

    Returns:
        Traces, the chosen arms (``{"train": ..., "test": ...}``), the per-step λ
        rewards are scored with, and the arms ranked by train reward (best first).
    """
    steps = len(cond.phase)
    Q, C, allowed = cond.quality, cond.cost, cond.allowed
    lam_report = np.full(steps, cost_weight(objective))
    lam_oracle = lam_report.copy()
    budget = None
    if isinstance(objective, Budget):
        targets = _budget_targets(objective, scenario, cond.phase)
        budget = float(targets.mean()) if steps else objective.per_request
        for i in range(len(scenario.phases)):
            sel = cond.phase == i
            if sel.any():
                lam_oracle[sel] = budget_lambda(Q[sel], C[sel], allowed[sel],
                                                float(targets[sel][0]))
    rows = np.arange(steps)
    traces: dict[str, Trace] = {}

    def trace(choice: np.ndarray) -> Trace:
        return Trace(choice, np.nan_to_num(Q[rows, choice]), np.nan_to_num(C[rows, choice]))

    if "oracle" in policies:
        traces["oracle"] = trace(oracle_choice(Q - lam_oracle[:, None] * C, allowed))
    if "random" in policies:
        n_ok = np.maximum(allowed.sum(1), 1)
        traces["random"] = Trace(np.full(steps, -1),
                                 np.where(allowed, np.nan_to_num(Q), 0).sum(1) / n_ok,
                                 np.where(allowed, np.nan_to_num(C), 0).sum(1) / n_ok)
    tq, tc, tallowed = train
    lam_train = cost_weight(objective)
    best, ranking = _best(tq, tc, tallowed, lam_train, budget, cond.visible)
    if is_test.any():
        best_test, _ = _best(Q[is_test], C[is_test], allowed[is_test], lam_report[is_test],
                             budget, cond.visible)
    else:
        best_test = best
    traces["best-fixed"] = trace(fixed_arm_trace(allowed, best, ranking))
    traces[HINDSIGHT_TEST] = trace(fixed_arm_trace(allowed, best_test, ranking))
    return traces, {"train": best, "test": best_test}, lam_report, ranking
