"""Safe exploration: never fall far behind the arm you run today.

Conservative linear bandits (Kazerouni et al., 2017): the router may try another arm
only while a pessimistic estimate of everything it has earned stays within a fraction
``conservative`` of what the baseline arm would have earned on the same requests.
Both sums come from the router's own model: the baseline's estimated reward on each
request, and for each request served by another arm the *lower* confidence bound of
that arm's reward. When trying the optimistic arm could break the constraint, the
baseline serves the request (and its estimate counts on both sides).

A ``revised`` guard (``ConservativeGuard(..., revised=True)``, set as ``router.guard``)
keeps, per arm, the sum of the contexts it served and, when the play-time sums would
block a pick, re-estimates the pessimistic sum from the *current* model: the lower bound
of ``Σ_t θ_aᵀφ(x_t)`` is ``n_a·(mean_a(x̄_a) − width_a(x̄_a))`` (the model is affine in the
context, so the sum's width grows like ``√n_a``), where the play-time sum charges every
past pick its whole width of the day — the joint bound of CLUCB (Kazerouni et al. 2017).
With text features an arm's width at a new prompt stays near 0.3 after hundreds of
feedbacks, so the play-time sums hold the router near the baseline (topic workload,
W=0.02: 6% of requests served by other arms); the revised guard explores far more
(53%) and learns more (last quarter +0.013 against +0.002 over the baseline, 10 seeds),
but that exploration is not repaid within 4,000 requests on the 30-arm domain workload
(the whole run ends 0.004 and 0.009 below the baseline, the play-time guard's +0.000
and −0.003), so ``Router(baseline=...)`` keeps the play-time sums
(``benchmarks/cold_start.py --seeds 10 --workloads topics,domains --baseline
[--revised]``).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigurationError

__all__ = ["ConservativeGuard", "Estimator", "guard_model"]

Estimator = Callable[[np.ndarray, str], "tuple[float, float] | None"]
"""``(mean, width)`` of an arm's quality at a context, by arm key (``None``: unknown arm)."""


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
        revised: Re-estimate the pessimistic sums of past picks from the current model
            (see the module docstring); needs the context and an estimator in
            :meth:`choose`.
    """

    baseline: str
    fraction: float = 0.05
    confidence: float = 1.0
    earned: float = 0.0
    reference: float = 0.0
    alternate: str | None = None
    quality_only: bool = False
    revised: bool = False
    _base: float = field(default=0.0, compare=False, repr=False)
    _served: dict[str, list[Any]] = field(default_factory=dict, compare=False, repr=False)
    _instead: dict[str, list[Any]] = field(default_factory=dict, compare=False, repr=False)
    _cache: tuple[Any, float, float] | None = field(default=None, compare=False, repr=False)
    _since: list[float] = field(default_factory=lambda: [0.0, 0.0], compare=False, repr=False)

    def __post_init__(self) -> None:
        ok = isinstance(self.fraction, (int, float)) and not isinstance(self.fraction, bool)
        if not ok or not (math.isfinite(self.fraction) and 0 <= self.fraction <= 1):
            raise ConfigurationError(
                f"conservative must be a fraction between 0 and 1 (0.05 = within 5% of the "
                f"baseline), got {self.fraction!r}")

    def choose(self, keys: list[str], reward: np.ndarray, lower: np.ndarray, pick: int,
               prefer: np.ndarray | None = None, alternate: str | None = None, *,
               x: np.ndarray | None = None,
               mean: np.ndarray | None = None, estimate: Estimator | None = None,
               version: Any = None) -> int:
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
            x: The request's context (a ``revised`` guard sums it per arm).
            mean: Estimated quality of each candidate (``reward − mean`` is the cost term).
            estimate: The current model, for a ``revised`` guard.
            version: Changes whenever the model learns (re-estimates are cached per value;
                saved with the guard, so it must survive a save and load).

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
        model = (x, mean, estimate) if self.revised and x is not None and \
            mean is not None and estimate is not None else None
        if pick not in own:
            rank = reward if prefer is None else prefer
            b = max(own, key=lambda i: float(rank[i]))  # the mixture's arm λ prefers
            gain, owed = float(lower[pick]), float(reward[b])
            ok = self._keeps(self.earned + gain, self.reference + owed)
            if not ok and model is not None:
                earned, reference = self._revised(model[2], version)
                ok = self._keeps(earned + gain, reference + owed)
            if ok:
                self.earned += gain
                self.reference += owed
                if model is not None:
                    context, quality = model[0], model[1]
                    self._add(self._served, keys[pick], context, reward[pick] - quality[pick],
                              gain)
                    self._add(self._instead, keys[b], context, reward[b] - quality[b], owed)
                    self._since[0] += gain
                    self._since[1] += owed
                return pick
            pick = b
        value = float(reward[pick])
        self.earned += value
        self.reference += value
        self._base += value
        if model is not None:
            self._since[0] += value
            self._since[1] += value
        return pick

    def _keeps(self, earned: float, reference: float) -> bool:
        return earned - reference >= -self.fraction * abs(reference)

    @staticmethod
    def _add(sums: dict[str, list[Any]], key: str, x: np.ndarray, offset: float,
             value: float) -> None:
        entry = sums.get(key)
        if entry is None:
            sums[key] = [1.0, np.array(x, dtype=float), float(offset), value]
        else:
            entry[0] += 1.0
            entry[1] = entry[1] + x
            entry[2] += float(offset)
            entry[3] += value

    def _revised(self, estimate: Estimator, version: Any) -> tuple[float, float]:
        """Pessimistic earned and estimated reference sums under the current model."""
        if self._cache is not None and self._cache[0] == version and version is not None:
            return self._cache[1] + self._since[0], self._cache[2] + self._since[1]
        earned = reference = self._base
        for sums, sign in ((self._served, -1.0), (self._instead, 0.0)):
            for key, (n, total, offset, played) in sums.items():
                got = estimate(total / n, key)
                if got is None:  # an arm the model no longer has: what was counted then
                    part = played
                else:
                    part = n * (got[0] + sign * self.confidence * got[1]) + offset
                if sign:
                    earned += part
                else:
                    reference += part
        self._cache = (version, earned, reference)
        self._since = [0.0, 0.0]
        return earned, reference

    def state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"baseline": self.baseline, "fraction": self.fraction,
                "confidence": self.confidence, "earned": self.earned,
                "reference": self.reference, "alternate": self.alternate,
                "quality_only": self.quality_only, "revised": self.revised,
                "base": self._base,
                "served": {k: [v[0], [float(t) for t in v[1]], v[2], v[3]]
                           for k, v in self._served.items()},
                "instead": {k: [v[0], [float(t) for t in v[1]], v[2], v[3]]
                            for k, v in self._instead.items()},
                "cache": None if self._cache is None else [
                    list(self._cache[0]), self._cache[1], self._cache[2]],
                "since": list(self._since)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], dim: int | None = None) -> ConservativeGuard:
        """The guard a :meth:`state` describes.

        Args:
            state: What :meth:`state` returned.
            dim: Context width the summed contexts must have (``None``: unchecked).

        Raises:
            KeyError, TypeError, ValueError: For a malformed state.
        """
        guard = cls(str(state["baseline"]), float(state["fraction"]),
                    float(state["confidence"]), float(state["earned"]),
                    float(state["reference"]),
                    None if state.get("alternate") is None else str(state["alternate"]),
                    bool(state.get("quality_only", False)), bool(state.get("revised", False)))
        guard._base = float(state.get("base", 0.0))
        for name, sums in (("served", guard._served), ("instead", guard._instead)):
            for key, (n, total, offset, played) in dict(state.get(name, {})).items():
                vector = np.array(total, dtype=float)
                if vector.ndim != 1 or (dim is not None and len(vector) != dim) or \
                        not (float(n) > 0 and np.all(np.isfinite(vector))):
                    raise ValueError(f"bad summed contexts of arm {key!r}")
                sums[str(key)] = [float(n), vector, float(offset), float(played)]
        cache = state.get("cache")
        if cache is not None:
            guard._cache = ([float(v) for v in cache[0]], float(cache[1]), float(cache[2]))
        guard._since = [float(v) for v in state.get("since", (0.0, 0.0))][:2]
        return guard


def guard_model(policy: Any, x: np.ndarray, mean: np.ndarray, guard: ConservativeGuard
                ) -> dict[str, Any]:
    """What :meth:`ConservativeGuard.choose` needs of the model (nothing unless ``revised``).

    Args:
        policy: The router's :class:`~uniscale.policy.linucb.LinUCB`.
        x: The request's context.
        mean: Estimated quality of each candidate.
        guard: The guard deciding.
    """
    if not guard.revised:
        return {}

    def estimate(context: np.ndarray, key: str) -> tuple[float, float] | None:
        try:
            slot = policy.slot(key)
        except KeyError:
            return None
        m, w = policy.estimate(context, np.array([slot], dtype=np.intp))
        return float(m[0]), float(w[0])

    version = [float(policy.updates), float(policy.counts.sum())]
    return {"x": x, "mean": mean, "estimate": estimate, "version": version}
