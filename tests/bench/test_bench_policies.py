"""Hindsight policies and frontier figures."""

from __future__ import annotations

import numpy as np
import pytest

from uniscale.bench.metrics import (
    PolicySummary,
    convex_hull,
    gap_closed,
    hull_cost_at,
    hull_quality_at,
)
from uniscale.bench.policies import budget_lambda, fixed_policies, oracle_choice


def test_oracle_takes_the_best_allowed_arm() -> None:
    reward = np.array([[0.1, 0.9, 0.5], [0.8, np.nan, 0.2]])
    allowed = np.array([[True, False, True], [True, False, True]])
    assert oracle_choice(reward, allowed).tolist() == [2, 0]


def test_fixed_policies_fall_back_where_an_arm_cannot_serve() -> None:
    quality = np.array([[0.5, 1.0], [0.5, np.nan], [0.5, 1.0]])
    cost = np.array([[0.0, 0.1], [0.0, np.nan], [0.0, 0.1]])
    allowed = ~np.isnan(quality)
    fp = fixed_policies(quality, cost, allowed, lam=1.0)
    assert fp.ranking[0] == 0  # the arm serving every prompt ranks first
    assert fp.choices[1].tolist() == [1, 0, 1]
    assert fp.reward[1] == pytest.approx((0.9 + 0.5 + 0.9) / 3)
    assert fp.best() == 1
    assert fp.best(budget=0.01) == 0
    assert fp.coverage.tolist() == pytest.approx([1.0, 2 / 3])


def test_budget_lambda_meets_the_budget() -> None:
    rng = np.random.default_rng(0)
    quality = rng.random((200, 4)) * np.array([0.5, 0.7, 0.8, 0.95])
    cost = np.tile(np.array([0.001, 0.01, 0.02, 0.1]), (200, 1))
    allowed = np.ones_like(quality, dtype=bool)
    lam = budget_lambda(quality, cost, allowed, budget=0.015)
    choice = oracle_choice(quality - lam * cost, allowed)
    assert cost[np.arange(200), choice].mean() <= 0.015
    assert budget_lambda(quality, cost, allowed, budget=1.0) == 0.0


def test_hull_and_distances() -> None:
    pts = np.array([[1.0, 0.5], [2.0, 0.6], [2.0, 0.8], [4.0, 0.9], [5.0, 0.85], [3.0, 0.7]])
    hull = convex_hull(pts)
    assert hull.tolist() == [[1.0, 0.5], [2.0, 0.8], [4.0, 0.9]]
    assert hull_quality_at(hull, 3.0) == pytest.approx(0.85)
    assert np.isnan(hull_quality_at(hull, 0.5))
    assert hull_cost_at(hull, 0.65) == pytest.approx(1.5)
    assert np.isnan(hull_cost_at(hull, 0.95))


def _summary(reward: float) -> PolicySummary:
    return PolicySummary(0.0, 0.0, reward, 0.0, 0.0, reward, 0.0, 0.0)


def test_gap_closed() -> None:
    gap = gap_closed({"best-fixed": _summary(0.5), "oracle": _summary(0.9),
                      "uniscale": _summary(0.6)})
    assert gap["uniscale"] == pytest.approx(0.25)
    assert gap["oracle"] == 1.0 and gap["best-fixed"] == 0.0
