"""Warm start speed: :meth:`Router.fit` on an eval set against feeding it live.

An eval set of every arm's outcome on each of ``--prompts`` prompts (with usage) is
learned two ways by identical routers: ``fit(records)`` (one batch add of the bandit's
sums, the token model taught in doubling blocks, each prompt featurised once) and the
live loop a user would otherwise write (``decide(allowed=[arm])``, ``observe``,
``feedback`` per record). Printed: seconds of each (median of ``--repeats``) and the
ratio, measured in the same run.

Run: ``.venv/bin/python benchmarks/fit_speed.py [--prompts 500] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import uniscale as us

WORDS = ["alpha", "beta", "gamma", "delta", "code", "sql", "story", "math", "chat", "list"]


def _records(prompts: int, arms: us.ArmSpace, seed: int) -> list[us.Outcome]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, 12)) for _ in range(prompts)]
    return [us.Outcome(request=text, arm=arm, score=float(rng.random()),
                       usage=us.Usage(40, int(rng.integers(20, 400)) * arm.n))
            for text in texts for arm in arms]


def _router(arms: us.ArmSpace) -> us.Router:
    prices = {m: us.Price(1.0, 4.0) for m in ("small", "mid", "large")}
    return us.Router(arms, prices, seed=0)


def _live(router: us.Router, records: list[us.Outcome]) -> None:
    for r in records:
        assert isinstance(r.arm, us.Arm) and r.usage is not None
        d = router.decide(r.request, allowed=[r.arm])
        router.observe(d.id, r.usage, samples=r.arm.n)
        router.feedback(d.id, r.score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    arms = us.ArmSpace.product(models=["small", "mid", "large"],
                               strategies=[us.Single(), us.SelfConsistency()], n=[1, 3, 5, 8])
    records = _records(args.prompts, arms, seed=0)
    fit_s, live_s = [], []
    for _ in range(args.repeats):
        router = _router(arms)
        t = time.perf_counter()
        router.fit(records, keep_best_arm=False)
        fit_s.append(time.perf_counter() - t)
        router = _router(arms)
        t = time.perf_counter()
        _live(router, records)
        live_s.append(time.perf_counter() - t)
    fit, live = statistics.median(fit_s), statistics.median(live_s)
    print(f"{len(records)} records ({args.prompts} prompts x {len(arms)} arms), "
          f"median of {args.repeats}")
    print(f"{'fit(records)':<30} {fit:8.3f} s")
    print(f"{'live decide/observe/feedback':<30} {live:8.3f} s")
    print(f"{'ratio live / fit':<30} {live / fit:8.1f}x")


if __name__ == "__main__":
    main()
