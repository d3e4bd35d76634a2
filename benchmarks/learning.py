"""How well the router learns on the synthetic workload: gap closed and budget pacing.

Run: python benchmarks/learning.py [--seeds N] [--steps N]
"""

from __future__ import annotations

import argparse

import numpy as np

import uniscale as us
from uniscale.testing.synthetic import SyntheticWorkload, run_online


def main(seeds: int, steps: int, wtp: float, budget: float) -> None:
    """Print gap closed against random/oracle and budget tracking for several seeds."""
    print(f"Tradeoff(willingness_to_pay={wtp}), {steps} requests, last quarter measured")
    print(f"{'seed':>4} {'reward':>8} {'best-fixed':>10} {'oracle':>8} {'random':>8} "
          f"{'gap closed':>10}")
    for seed in range(seeds):
        workload = SyntheticWorkload(rng=np.random.default_rng(seed))
        arms = workload.arms()
        router = us.Router(arms, workload.prices, us.Tradeoff(wtp), workload.backends(),
                           seed=seed)
        trace = run_online(workload, router, steps, wtp)
        tail = slice(3 * steps // 4, steps)
        fixed = max(np.mean([workload.expected_quality(c, a) - workload.expected_cost(a, 20) / wtp
                             for c in workload.categories]) for a in arms)
        print(f"{seed:>4} {np.mean(trace.reward[tail]):8.3f} {fixed:10.3f} "
              f"{np.mean(trace.oracle[tail]):8.3f} {np.mean(trace.uniform[tail]):8.3f} "
              f"{trace.gap_closed(tail):10.1%}")
    print(f"\nBudget(per_request={budget}), {steps} requests")
    print(f"{'seed':>4} {'mean cost':>10} {'vs target':>9} {'quality':>8} {'best affordable':>15}")
    for seed in range(seeds):
        workload = SyntheticWorkload(rng=np.random.default_rng(100 + seed))
        arms = workload.arms()
        router = us.Router(arms, workload.prices, us.Budget(per_request=budget),
                           workload.backends(), seed=seed)
        trace = run_online(workload, router, steps, 1.0)
        affordable = max(np.mean([workload.expected_quality(c, a) for c in workload.categories])
                         for a in arms if workload.expected_cost(a, 20) <= budget)
        mean_cost = float(np.mean(trace.cost))
        print(f"{seed:>4} {mean_cost:10.5f} {mean_cost / budget - 1:+9.1%} "
              f"{np.mean(trace.quality):8.3f} {affordable:15.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--wtp", type=float, default=0.05)
    parser.add_argument("--budget", type=float, default=0.003)
    args = parser.parse_args()
    main(args.seeds, args.steps, args.wtp, args.budget)
