"""The figures behind a decision, kept as arrays, and their short human-readable text.

:meth:`Router.decide` already computes, for every arm it considers, the estimated
quality, its width, the upper bound, the predicted cost and the objective's score. A
:class:`CandidateTable` keeps those arrays as they are (no copy, no per-arm objects);
:attr:`Decision.candidates` turns them into :class:`~uniscale.Candidate` values only when
someone looks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arms import Arm

__all__ = ["CandidateTable", "explain", "usd"]


@dataclass(frozen=True, eq=False)
class CandidateTable:
    """Per-arm figures of one decision, index-aligned with :attr:`arms`.

    Attributes:
        arms: The arms considered.
        mean: Estimated quality.
        width: Width of the bound: the estimate's standard width, shrunk by the arm's
            own feedbacks when the router has ``alpha_decay``.
        ucb: Upper confidence bound, ``mean + alpha * width``.
        cost: Predicted USD.
        score: ``ucb - λ·cost`` (also for pruned arms).
        keep: False where the arm was pruned.
        pick: Index of the chosen arm.
    """

    arms: Sequence[Arm]
    mean: np.ndarray
    width: np.ndarray
    ucb: np.ndarray
    cost: np.ndarray
    score: np.ndarray
    keep: np.ndarray
    pick: int

    def runner_up(self) -> int | None:
        """Index of the best other arm: unpruned ones first, then pruned; None if alone."""
        if len(self.arms) < 2:
            return None
        score = self.score.astype(float).copy()
        score[self.pick] = -np.inf
        live = np.where(self.keep, score, -np.inf)
        best = int(np.argmax(live))
        if math.isfinite(float(live[best])):
            return best
        return int(np.argmax(score))


def usd(value: float) -> str:
    """A dollar amount with two significant digits (``$0.0042``, ``$1.3``)."""
    if not math.isfinite(value) or value <= 0:
        return f"${value:g}" if value else "$0"
    digits = max(2, 1 - math.floor(math.log10(value)))
    return f"${value:.{digits}f}"


def _figures(t: CandidateTable, i: int) -> str:
    bonus = float(t.ucb[i] - t.mean[i])
    return (f"{t.arms[i].key}: quality {float(t.mean[i]):.2f} ± {bonus:.2f}, "
            f"{usd(float(t.cost[i]))}, score {float(t.score[i]):.3f}")


def explain(arm: Arm, cost_weight: float, table: CandidateTable | None, quality: float,
            ucb: float, predicted_cost: float, propensity: float = 1.0) -> str:
    """The text of :meth:`Decision.explain`.

    Args:
        arm: The chosen arm.
        cost_weight: λ of the decision.
        table: The per-arm figures (None: only the chosen arm's are known).
        quality: Estimated quality of the chosen arm.
        ucb: Its upper bound.
        predicted_cost: Its predicted USD.
        propensity: Probability the policy had of picking it.
    """
    lam = f"λ {cost_weight:.3g}"
    if table is None:
        return (f"chose {arm.key}: quality {quality:.2f} ± {ucb - quality:.2f}, "
                f"{usd(predicted_cost)}, {lam}")
    text = f"chose {_figures(table, table.pick)}, {lam}"
    if propensity < 1.0:
        text += f", propensity {propensity:.3g}"
    other = table.runner_up()
    if other is None:
        return text + "; no runner-up (the only arm allowed)"
    gap = float(table.score[table.pick] - table.score[other])
    text += f"; runner-up {_figures(table, other)}"
    if not table.keep[other]:
        text += " (pruned)"
    else:
        text += f" ({gap:.3f} behind)" if gap >= 0 else f" ({-gap:.3f} ahead; explored)"
    pruned = int(len(table.keep) - np.count_nonzero(table.keep))
    if pruned:
        text += f"; {pruned} of {len(table.arms)} arms pruned"
    return text
