"""The ``mabwiser-linucb`` peer: MABWiser's LinUCB as a generic contextual bandit.

MABWiser (PyPI ``mabwiser``, Apache-2.0) is a general-purpose bandit library. Its
``LearningPolicy.LinUCB`` (disjoint per-arm ridge models, UCB bonus ``alpha``) is run
here as a generic-bandit row, fed what the UniScale learners get: the same arms (every
``(model, strategy, n)`` arm), the same prompt feature vectors, the same stream and the
same rewards (``quality − cost/W`` under a trade-off, the quality under a budget: it has
no budget pacer). Under ``--warm-start`` the eval set is learned through ``fit`` (every
arm's train records), and the online stream through ``partial_fit``, one feedback at a
time. Cold, its first request goes to a seeded random allowed arm (MABWiser cannot
predict before a first ``fit``). It has no per-request set of allowed arms: among the
arms a prompt allows, the one with the highest ``predict_expectations`` score is served.
Its hyperparameters are its defaults (``alpha=1``, ``l2_lambda=1``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

from ..objective import Objective, Tradeoff
from .env import ReplayEnv
from .evalset import EvalSet
from .hindsight import Trace

__all__ = ["MAB_NAME", "mabwiser_available", "run_mabwiser"]

MAB_NAME = "mabwiser-linucb"

Progress = Callable[[int], None]


def mabwiser_available() -> bool:
    """True when the ``mabwiser`` package is installed (without importing it)."""
    return importlib.util.find_spec("mabwiser") is not None


def run_mabwiser(env: ReplayEnv, objective: Objective, order: np.ndarray, X: np.ndarray,
                 seed: int, *, evalset: EvalSet | None = None,
                 progress: Progress | None = None) -> Trace:
    """MABWiser LinUCB online over a stream (warm-started on ``evalset`` when given).

    Args:
        env: The environment.
        objective: The objective.
        order: Table row served at each step.
        X: ``(P, d)`` feature vectors.
        seed: Seed of its generator and of the replayed draws.
        evalset: Eval set to warm-start from.
        progress: Called with steps done.
    """
    from mabwiser.mab import MAB, LearningPolicy

    lam = 1.0 / objective.willingness_to_pay if isinstance(objective, Tradeoff) else 0.0
    bandit = MAB(arms=list(range(env.n_arms)), learning_policy=LearningPolicy.LinUCB(),
                 seed=seed)
    fitted = False
    if evalset is not None and len(evalset):
        bandit.fit(evalset.arm.tolist(), (evalset.score - lam * evalset.cost).tolist(),
                   X[evalset.prompt])
        fitted = True
    rng = np.random.default_rng([seed, 7])
    steps = len(order)
    out_arm = np.zeros(steps, dtype=np.int64)
    out_q, out_c = np.zeros(steps), np.zeros(steps)
    for t, p in enumerate(order):
        allowed = np.flatnonzero(env.allowed[p])
        x = X[p][None, :]
        if fitted:
            scores = bandit.predict_expectations(x)
            a = int(max(allowed, key=lambda i: scores[int(i)]))
        else:
            a = int(rng.choice(allowed))
        g, n = int(env.arm_pair[a]), int(env.arm_n[a])
        rows = env.draw(int(p), g, n, rng)
        quality = float(env.table.score[p, g, env.chosen(int(p), g, rows)])
        cost = env.cost(int(p), g, rows)
        if fitted:
            bandit.partial_fit([a], [quality - lam * cost], x)
        else:
            bandit.fit([a], [quality - lam * cost], x)
            fitted = True
        out_arm[t], out_q[t], out_c[t] = a, quality, cost
        if progress is not None and (t % 50 == 49 or t == steps - 1):
            progress(50 if t % 50 == 49 else t % 50 + 1)
    return Trace(out_arm, out_q, out_c)
