"""Learning as a user sees it: invoke, score, feed back."""

from __future__ import annotations

import numpy as np
import pytest

import uniscale as us
from uniscale.testing.synthetic import SyntheticWorkload, run_online

W = 0.05  # USD per unit of quality


@pytest.mark.slow
def test_router_closes_most_of_the_gap_to_the_oracle() -> None:
    workload = SyntheticWorkload(rng=np.random.default_rng(1))
    arms = workload.arms()
    assert len(arms) >= 12
    router = us.Router(arms, workload.prices, us.Tradeoff(willingness_to_pay=W),
                       workload.backends(), seed=0)
    trace = run_online(workload, router, 4000, W)
    tail = slice(3000, 4000)
    assert trace.gap_closed(tail) >= 0.8
    # the best single arm in hindsight, on the same kind of requests
    fixed = {a.key: np.mean([workload.expected_quality(c, a) - workload.expected_cost(a, 20) / W
                             for c in workload.categories]) for a in arms}
    assert float(np.mean(trace.reward[tail])) > max(fixed.values())


@pytest.mark.slow
def test_budget_tracks_target_and_beats_affordable_fixed_arm() -> None:
    workload = SyntheticWorkload(rng=np.random.default_rng(2))
    arms = workload.arms()
    budget = 0.003
    router = us.Router(arms, workload.prices, us.Budget(per_request=budget),
                       workload.backends(), seed=0)
    trace = run_online(workload, router, 5000, 1.0)
    mean_cost = float(np.mean(trace.cost))
    assert abs(mean_cost - budget) <= 0.005 * budget, mean_cost  # within 0.5%
    affordable = [a for a in arms if workload.expected_cost(a, 20) <= budget]
    best_fixed_quality = max(
        np.mean([workload.expected_quality(c, a) for c in workload.categories])
        for a in affordable
    )
    assert float(np.mean(trace.quality)) > best_fixed_quality
