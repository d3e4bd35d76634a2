"""How often the default float32 router decides as the float64 reference does.

The router keeps the per-arm inverses that each decision reads in float32 by default
(sums stay float64 and the inverses are re-factorised from them periodically);
``Router(precision="float64")`` keeps them in float64, the reference path. This script
runs both on the same recorded stream of contexts and rewards (the workload of
``benchmarks/overhead.py``) and prints:

* lockstep: both routers learn the reference's pick and reward at every step (so they
  hold the same data); how often the float32 router picks the same arm, and the largest
  differences of its upper bounds, means and widths over every arm and step;
* free-running: each router learns from its own picks; the step of the first different
  pick, the share of identical picks and the mean reward each earned.

Usage::

    python benchmarks/overhead_precision.py            # K=24 d=64 and K=96 d=256
    python benchmarks/overhead_precision.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse

import numpy as np
from overhead_peers import make_arms, make_router, make_workload

import uniscale


def _figures(decision: uniscale.Decision) -> np.ndarray:
    """``(3, K)``: upper bounds, means and widths of every arm considered."""
    table = decision.table
    assert table is not None
    return np.stack([table.ucb, table.mean, table.width])


def lockstep(arms: list[uniscale.Arm], dim: int, workload: object, steps: int
             ) -> dict[str, float]:
    """Both routers learn what the float64 one picked; compare every decision."""
    ref = make_router(arms, dim, precision="float64")
    f32 = make_router(arms, dim, precision="float32")
    same, worst = 0, np.zeros(3)
    for t in range(steps):
        x = workload.contexts[t]  # type: ignore[attr-defined]
        a, b = ref.decide(features=x), f32.decide(features=x)
        same += a.arm == b.arm
        worst = np.maximum(worst, np.abs(_figures(a) - _figures(b)).max(axis=1))
        reward = float(workload.rewards[t, arms.index(a.arm)])  # type: ignore[attr-defined]
        ref.feedback(a.id, reward)
        f32.feedback(b.id, reward) if b.arm == a.arm else f32.feedback(
            f32.decide(features=x, allowed=[a.arm]).id, reward)
    return {"same": same / steps, "ucb": worst[0], "mean": worst[1], "width": worst[2]}


def free_running(arms: list[uniscale.Arm], dim: int, workload: object, steps: int
                 ) -> dict[str, float]:
    """Each router learns from its own picks."""
    routers = [make_router(arms, dim, precision=p) for p in ("float64", "float32")]
    earned, same, first = np.zeros(2), 0, -1
    for t in range(steps):
        x = workload.contexts[t]  # type: ignore[attr-defined]
        picks = []
        for i, router in enumerate(routers):
            decision = router.decide(features=x)
            reward = float(workload.rewards[t, arms.index(decision.arm)])  # type: ignore[attr-defined]
            router.feedback(decision.id, reward)
            earned[i] += reward
            picks.append(decision.arm)
        if picks[0] == picks[1]:
            same += 1
        elif first < 0:
            first = t
    return {"first": first, "same": same / steps, "reward64": earned[0] / steps,
            "reward32": earned[1] / steps}


def main(argv: list[str] | None = None) -> int:
    """Run both comparisons on each shape and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short streams")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shapes = ((24, 64, 300), (8, 32, 200)) if args.quick else ((24, 64, 4000),
                                                              (96, 256, 1500))
    print("float32 (default) against float64 (reference) routers on the same stream")
    print(f"{'K':>3} {'d':>4} {'steps':>6}  {'lockstep same':>13} {'max |Δucb|':>10} "
          f"{'max |Δmean|':>11} {'max |Δwidth|':>12}  {'free: 1st diff':>14} "
          f"{'same':>6} {'reward f64':>10} {'reward f32':>10}")
    for k, d, steps in shapes:
        rng = np.random.default_rng([args.seed, k, d])
        workload = make_workload(rng, steps, k, d)
        arms = make_arms(k)
        lock = lockstep(arms, d, workload, steps)
        free = free_running(arms, d, workload, steps)
        first = "none" if free["first"] < 0 else str(int(free["first"]))
        print(f"{k:>3} {d:>4} {steps:>6}  {lock['same']:>13.2%} {lock['ucb']:>10.1e} "
              f"{lock['mean']:>11.1e} {lock['width']:>12.1e}  {first:>14} "
              f"{free['same']:>6.1%} {free['reward64']:>10.4f} {free['reward32']:>10.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
