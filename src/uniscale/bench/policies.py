"""Policies compared by the benchmark.

Learning policies are :class:`~uniscale.Router` instances restricted to some arms (see
:func:`policy_mask`); peers are other routers on the same stream (``trained-router``,
``paretobandit``). Hindsight policies (``best-fixed``, ``random``, ``oracle``) are computed
from the expected outcome of every arm on every prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .env import ReplayEnv

__all__ = [
    "ALL_POLICIES",
    "HINDSIGHT",
    "KNOWN_POLICIES",
    "LEARNERS",
    "OPTIONAL_PEERS",
    "PEERS",
    "RouterSettings",
    "budget_lambda",
    "fixed_policies",
    "oracle_choice",
    "policy_mask",
]

LEARNERS = ("uniscale", "routing-only", "tts-only")
"""Policies that learn online through a :class:`~uniscale.Router`."""

PEERS = ("trained-router", "paretobandit")
"""Other routers run on the same stream: a trained (offline) router and ParetoBandit."""

HINDSIGHT = ("best-fixed", "random", "oracle")
"""Policies computed from the expected outcomes (best-fixed is chosen on train)."""

ALL_POLICIES = LEARNERS + PEERS + HINDSIGHT

OPTIONAL_PEERS = ("mabwiser-linucb",)
"""Peers run only when asked for by name (``--policies``): MABWiser's LinUCB."""

KNOWN_POLICIES = ALL_POLICIES + OPTIONAL_PEERS
"""Every policy name the benchmark accepts."""


def policy_mask(env: ReplayEnv, name: str, best: int, ranking: np.ndarray) -> np.ndarray:
    """Arms a learning policy may use, given the train-chosen best arm.

    * ``uniscale``: every arm.
    * ``routing-only``: one arm per model, at ``n = 1`` with the best arm's strategy (a
      model without that strategy contributes its own train-best ``n = 1`` arm).
    * ``tts-only``: every strategy and ``n`` of the best arm's model.

    Args:
        env: The environment.
        name: A policy of :data:`LEARNERS`.
        best: The train-chosen best fixed arm.
        ranking: Arms by train reward, best first.
    """
    if name == "uniscale":
        return np.ones(env.n_arms, dtype=bool)
    if name == "tts-only":
        return np.asarray(env.arm_model == env.arm_model[best])
    if name == "routing-only":
        strategy = env.table.pairs[int(env.arm_pair[best])][1]
        arm_strategy = np.array([env.table.pairs[g][1] for g in env.arm_pair], dtype=object)
        single = env.arm_n == 1
        mask = single & (arm_strategy == strategy)
        for model in env.table.models:
            if not (mask & (env.arm_model == model)).any():
                own = [a for a in ranking if single[a] and env.arm_model[a] == model]
                if own:
                    mask[own[0]] = True
        return np.asarray(mask)
    raise ValueError(f"{name!r} is not a learning policy")


@dataclass(frozen=True)
class RouterSettings:
    """Hyperparameters of the learning policies (chosen on the train split only).

    Attributes:
        alpha: LinUCB exploration width.
        ridge: Ridge prior precision.
        arm_ridge: Prior precision of each arm's own part (None: ``ridge``).
        forgetting: Discount of old evidence (1 = none).
        hybrid: Share evidence between arms through their descriptors.
        dim: Width of the hashing featurizer.
        ngrams: Largest word n-gram it hashes (2: the class default, which the bench
            feeds every policy; ``Router``'s own default is 1, see
            ``benchmarks/featurizer_resplit.py``).
        prior_output_tokens: Output tokens per sample assumed before any is observed.
    """

    alpha: float = 1.0
    ridge: float = 1.0
    arm_ridge: float | None = None
    forgetting: float = 1.0
    hybrid: bool = True
    dim: int = 128
    ngrams: int = 2
    prior_output_tokens: float = 256.0


def _masked(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    return np.where(allowed, values, -np.inf)


def oracle_choice(reward: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per prompt, the allowed arm of best expected reward.

    Args:
        reward: ``(P, A)`` expected reward (NaN where not allowed).
        allowed: ``(P, A)`` arms each prompt can be served by.

    Returns:
        ``(P,)`` arm indices.
    """
    return np.argmax(_masked(np.nan_to_num(reward, nan=-np.inf), allowed), axis=1)


def budget_lambda(quality: np.ndarray, cost: np.ndarray, allowed: np.ndarray,
                  budget: float, iters: int = 60) -> float:
    """Smallest cost weight λ whose per-prompt argmax of ``quality − λ·cost`` fits ``budget``.

    The Lagrangian oracle under a mean-cost budget; found by bisection on ``log λ``.
    """
    def mean_cost(lam: float) -> float:
        choice = oracle_choice(quality - lam * cost, allowed)
        return float(np.take_along_axis(cost, choice[:, None], 1).mean())

    if mean_cost(0.0) <= budget:
        return 0.0
    lo, hi = -12.0, 12.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        if mean_cost(10 ** mid / budget) <= budget:
            hi = mid
        else:
            lo = mid
    return float(10 ** hi / budget)


@dataclass(frozen=True)
class FixedPolicies:
    """Every "single arm" policy over a prompt set.

    Policy ``a`` serves every prompt with arm ``a`` and, where ``a`` cannot serve,
    with the first arm of :attr:`ranking` that can (tables are ragged).

    Attributes:
        ranking: Arms by mean expected reward over the prompts they serve, best first.
        choices: ``(A, P)`` arm of policy ``a`` on each prompt.
        quality: ``(A,)`` mean expected quality of each policy.
        cost: ``(A,)`` mean expected cost.
        reward: ``(A,)`` mean expected reward.
        coverage: ``(A,)`` share of prompts arm ``a`` serves itself.
    """

    ranking: np.ndarray
    choices: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    reward: np.ndarray
    coverage: np.ndarray

    def best(self, budget: float | None = None, candidates: np.ndarray | None = None) -> int:
        """The best policy: highest reward, or highest quality within ``budget``."""
        ok = np.ones(len(self.reward), dtype=bool) if candidates is None else candidates.copy()
        if budget is None:
            return int(np.argmax(np.where(ok, self.reward, -np.inf)))
        fits = ok & (self.cost <= budget)
        if not fits.any():
            return int(np.argmin(np.where(ok, self.cost, np.inf)))
        return int(np.argmax(np.where(fits, self.quality, -np.inf)))


def fixed_policies(quality: np.ndarray, cost: np.ndarray, allowed: np.ndarray,
                   lam: float | Sequence[float] | np.ndarray) -> FixedPolicies:
    """Evaluate every single-arm policy (with fallback) on a set of prompts.

    Args:
        quality: ``(P, A)`` expected quality (NaN where not allowed).
        cost: ``(P, A)`` expected cost.
        allowed: ``(P, A)`` arms each prompt can be served by.
        lam: Cost weight, one value or one per prompt.

    Returns:
        The fixed policies.
    """
    lam_p = np.broadcast_to(np.asarray(lam, dtype=float), (quality.shape[0],))
    reward = quality - lam_p[:, None] * cost
    served = allowed.sum(0)
    mean = np.where(served > 0, np.nansum(np.where(allowed, reward, 0.0), 0)
                    / np.maximum(served, 1), -np.inf)
    coverage = served / max(allowed.shape[0], 1)
    ranking = np.lexsort((-mean, -(coverage >= 1.0).astype(int)))
    ranked_allowed = allowed[:, ranking]
    fallback = ranking[np.argmax(ranked_allowed, axis=1)]
    A = quality.shape[1]
    choices = np.where(allowed.T, np.arange(A)[:, None], fallback[None, :])
    rows = np.arange(quality.shape[0])[None, :]
    q = np.nan_to_num(quality[rows, choices]).mean(1)
    c = np.nan_to_num(cost[rows, choices]).mean(1)
    r = np.nan_to_num(reward[rows, choices]).mean(1)
    return FixedPolicies(ranking, choices, q, c, r, coverage)
