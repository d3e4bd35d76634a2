"""The ``trained-router`` baseline: a full-information ridge model per arm.

The router a user would otherwise train (RouteLLM / BEST-Route style): from the eval set
(every train prompt through every arm) it fits, per arm, a ridge regression of the score
and one of the cost on the same prompt features the learners see; on the test part it
serves each prompt greedily with the arm of best predicted reward, and never learns
online. The ridge strength is picked by cross-validation on the train prompts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .evalset import EvalSet
from .policies import budget_lambda

__all__ = ["RIDGE_GRID", "TrainedRouter", "fit_trained_router", "ridge"]

RIDGE_GRID = (0.1, 1.0, 10.0)
"""Ridge strengths tried by the cross-validation."""


def ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge regression weights ``(XᵀX + λI)⁻¹ Xᵀy``."""
    d = X.shape[1]
    return np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)


def _cv_error(X: np.ndarray, y: np.ndarray, arms: np.ndarray, lam: float, folds: np.ndarray
              ) -> float:
    err, count = 0.0, 0
    for f in np.unique(folds):
        test = folds == f
        for a in np.unique(arms):
            fit, held = (arms == a) & ~test, (arms == a) & test
            if not held.any() or not fit.any():
                continue
            w = ridge(X[fit], y[fit], lam)
            err += float(((X[held] @ w - y[held]) ** 2).sum())
            count += int(held.sum())
    return err / max(count, 1)


@dataclass(frozen=True)
class TrainedRouter:
    """Per-arm ridge models of score and cost.

    Attributes:
        quality_w: ``(A, d)`` weights of the score model (zeros for an arm never seen).
        cost_w: ``(A, d)`` weights of the cost model.
        seen: ``(A,)`` arms with training data.
        ridge: The chosen ridge strength.
    """

    quality_w: np.ndarray
    cost_w: np.ndarray
    seen: np.ndarray
    ridge: float

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(P, A)`` predicted score and cost of every arm on the prompts ``X``."""
        return X @ self.quality_w.T, X @ self.cost_w.T

    def choose(self, X: np.ndarray, allowed: np.ndarray, lam: float) -> np.ndarray:
        """Greedy arm per prompt: best predicted ``score − lam·cost`` among the allowed."""
        q, c = self.predict(X)
        reward = np.where(allowed & self.seen[None, :], q - lam * c, -np.inf)
        fallback = np.where(allowed, q - lam * c, -np.inf)  # arms it never saw: last resort
        best = np.argmax(reward, axis=1)
        none = ~np.isfinite(reward.max(axis=1))
        best[none] = np.argmax(fallback[none], axis=1)
        return best

    def budget_weight(self, X_train: np.ndarray, allowed_train: np.ndarray,
                      budget: float) -> float:
        """Cost weight whose greedy choice keeps the predicted train mean cost in budget."""
        q, c = self.predict(X_train)
        q = np.where(allowed_train & self.seen[None, :], q, np.nan)
        return budget_lambda(q, np.maximum(c, 0.0), allowed_train & self.seen[None, :],
                             budget)


def fit_trained_router(evalset: EvalSet, features: np.ndarray, n_arms: int, *,
                       grid: Sequence[float] = RIDGE_GRID, folds: int = 3, seed: int = 0
                       ) -> TrainedRouter:
    """Fit the per-arm ridge models on an eval set.

    Args:
        evalset: Train prompts through every arm.
        features: ``(P, d)`` feature vector of every table row.
        n_arms: Number of arms ``A``.
        grid: Ridge strengths tried (chosen by ``folds``-fold cross-validation over the
            eval set's prompts, on the score model).
        folds: Folds of the cross-validation.
        seed: Seed of the fold assignment.
    """
    X = features[evalset.prompt]
    d = features.shape[1]
    prompts = np.unique(evalset.prompt)
    fold_of = dict(zip(prompts.tolist(),
                       np.random.default_rng(seed).permutation(len(prompts)) % folds,
                       strict=True))
    fold = np.array([fold_of[p] for p in evalset.prompt.tolist()], dtype=np.int64)
    if len(grid) > 1 and len(prompts) >= folds:
        errors = [_cv_error(X, evalset.score, evalset.arm, lam, fold) for lam in grid]
        lam = float(grid[int(np.argmin(errors))])
    else:
        lam = float(grid[0])
    qw, cw = np.zeros((n_arms, d)), np.zeros((n_arms, d))
    seen = np.zeros(n_arms, dtype=bool)
    for a in np.unique(evalset.arm):
        sel = evalset.arm == a
        qw[a] = ridge(X[sel], evalset.score[sel], lam)
        cw[a] = ridge(X[sel], evalset.cost[sel], lam)
        seen[a] = True
    return TrainedRouter(qw, cw, seen, lam)
