"""Safe exploration: never fall far behind the arm you run today.

Conservative linear bandits (Kazerouni et al., 2017): the router may try another arm
only while a pessimistic estimate of everything it has earned stays within a fraction
``conservative`` of what the baseline arm would have earned on the same requests.
Both sums come from the router's own model: the baseline's estimated reward on each
request, and for each request served by another arm the *lower* confidence bound of
that arm's reward. When trying the optimistic arm could break the constraint, the
baseline serves the request (and its estimate counts on both sides).

Under a :class:`~uniscale.Budget` the baseline can be a *mixture* of two arms: the best
arm that fits the budget and a dearer, better ``alternate`` (the best fixed policy under
a mean-cost budget mixes two arms, the two ends of the quality-cost hull's segment at
the budget). Either serves as the baseline, whichever has the higher reward
``quality − λ·cost`` at the pacer's λ, so the baseline itself spends the budget instead
of leaving it unspent. Such a guard compares *quality* (``quality_only``): the budget is
the pacer's to keep, and in reward units a λ raised by one dear answer made the
cheapest arm look safe (paretobandit table: quality 0.839 against the best affordable
arm's 0.920 on a split of the train prompts). While the budget's ceiling (see
:class:`~uniscale.Budget`) keeps the dearer arm out, the decision may name a stand-in
for it (``choose(alternate=...)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigurationError

__all__ = ["ConservativeGuard"]


@dataclass
class ConservativeGuard:
    """The running sums of the conservative constraint.

    Attributes:
        baseline: Key of the baseline arm.
        fraction: Allowed shortfall ``α`` (0.05: never more than 5% behind the baseline).
        confidence: Width multiplier of the lower bound (in standard widths).
        earned: Σ pessimistic reward of what was served.
        reference: Σ estimated baseline reward over the same requests.
        alternate: Key of the second arm of a budget mixture (None: one arm).
        quality_only: Compare estimated quality, not reward (a budget mixture).
    """

    baseline: str
    fraction: float = 0.05
    confidence: float = 1.0
    earned: float = 0.0
    reference: float = 0.0
    alternate: str | None = None
    quality_only: bool = False

    def __post_init__(self) -> None:
        ok = isinstance(self.fraction, (int, float)) and not isinstance(self.fraction, bool)
        if not ok or not (math.isfinite(self.fraction) and 0 <= self.fraction <= 1):
            raise ConfigurationError(
                f"conservative must be a fraction between 0 and 1 (0.05 = within 5% of the "
                f"baseline), got {self.fraction!r}")

    def choose(self, keys: list[str], reward: np.ndarray, lower: np.ndarray, pick: int,
               prefer: np.ndarray | None = None, alternate: str | None = None) -> int:
        """The arm to serve: ``pick`` when it keeps the constraint, else the baseline.

        Args:
            keys: Keys of the candidate arms.
            reward: Estimated reward of each candidate (quality − λ·cost).
            lower: Lower confidence bound of each candidate's reward.
            pick: Index of the arm the optimistic policy wants.
            prefer: What chooses between the two arms of a budget mixture
                (``quality − λ·cost``; default: ``reward``).
            alternate: The mixture's second arm for this request instead of
                :attr:`alternate` (one within the budget's ceiling while it is not).

        Returns:
            The index to serve; the sums are updated for it.
        """
        try:
            own = [keys.index(self.baseline)]
        except ValueError:  # the baseline cannot serve this request: nothing to compare
            return pick
        second = self.alternate if alternate is None else alternate
        if second is not None and second in keys:
            own.append(keys.index(second))
        if pick not in own:
            rank = reward if prefer is None else prefer
            b = max(own, key=lambda i: float(rank[i]))  # the mixture's arm λ prefers
            earned = self.earned + float(lower[pick])
            reference = self.reference + float(reward[b])
            if earned - reference >= -self.fraction * abs(reference):
                self.earned, self.reference = earned, reference
                return pick
            pick = b
        self.earned += float(reward[pick])
        self.reference += float(reward[pick])
        return pick

    def state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"baseline": self.baseline, "fraction": self.fraction,
                "confidence": self.confidence, "earned": self.earned,
                "reference": self.reference, "alternate": self.alternate,
                "quality_only": self.quality_only}
