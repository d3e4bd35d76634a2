"""Learning as a user sees it: invoke, score, feed back."""

from __future__ import annotations

import numpy as np
import pytest

import uniscale as us
from uniscale.testing.synthetic import SyntheticWorkload

W = 0.05  # USD per unit of quality


def run(workload: SyntheticWorkload, router: us.Router, steps: int,
        quality: dict[tuple[str, str], float]) -> tuple[list[float], list[float], list[float]]:
    """Expected reward of the chosen arm, of the oracle, and of random choice per step."""
    chosen, oracle, uniform = [], [], []
    for _ in range(steps):
        prompt, category = workload.prompt()
        result = router.invoke(prompt)
        router.feedback(result.decision.id, workload.score(result.text))
        tokens = result.decision.input_tokens
        reward = {a.key: quality[(category.name, a.key)] - workload.expected_cost(a, tokens) / W
                  for a in router.arms}
        chosen.append(reward[result.decision.arm.key])
        oracle.append(max(reward.values()))
        uniform.append(float(np.mean(list(reward.values()))))
    return chosen, oracle, uniform


@pytest.mark.slow
def test_router_closes_most_of_the_gap_to_the_oracle() -> None:
    workload = SyntheticWorkload(rng=np.random.default_rng(1))
    arms = workload.arms()
    assert len(arms) >= 12
    quality = {(c.name, a.key): workload.expected_quality(c, a)
               for c in workload.categories for a in arms}
    router = us.Router(arms, workload.prices, us.Tradeoff(willingness_to_pay=W),
                       workload.backends(), seed=0)
    chosen, oracle, uniform = run(workload, router, 4000, quality)
    tail = slice(3000, 4000)
    r_policy, r_oracle, r_random = (float(np.mean(v[tail])) for v in (chosen, oracle, uniform))
    gap_closed = (r_policy - r_random) / (r_oracle - r_random)
    assert gap_closed >= 0.8, (r_policy, r_oracle, r_random)
    # the best single arm in hindsight, on the same requests
    fixed = {a.key: np.mean([quality[(c.name, a.key)] - workload.expected_cost(a, 20) / W
                             for c in workload.categories]) for a in arms}
    assert r_policy > max(fixed.values())


@pytest.mark.slow
def test_budget_tracks_target_and_beats_affordable_fixed_arm() -> None:
    workload = SyntheticWorkload(rng=np.random.default_rng(2))
    arms = workload.arms()
    budget = 0.003
    router = us.Router(arms, workload.prices, us.Budget(per_request=budget),
                       workload.backends(), seed=0)
    quality = {(c.name, a.key): workload.expected_quality(c, a)
               for c in workload.categories for a in arms}
    spent, got = [], []
    for _ in range(5000):
        prompt, category = workload.prompt()
        result = router.invoke(prompt)
        router.feedback(result.decision.id, workload.score(result.text))
        spent.append(result.cost)
        got.append(quality[(category.name, result.decision.arm.key)])
    mean_cost = float(np.mean(spent))
    assert abs(mean_cost - budget) <= 0.05 * budget, mean_cost
    affordable = [a for a in arms if workload.expected_cost(a, 20) <= budget]
    best_fixed_quality = max(
        np.mean([quality[(c.name, a.key)] for c in workload.categories]) for a in affordable
    )
    assert float(np.mean(got)) > best_fixed_quality
