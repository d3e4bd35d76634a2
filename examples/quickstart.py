"""Route requests between a small and a large model, offline, and watch the router learn.

Run: python examples/quickstart.py [--requests N]

The two "models" are in-memory backends whose accuracy depends on the kind of request
(see ``uniscale.testing.synthetic``); the score fed back is whether the answer was right.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

import uniscale as us
from uniscale.testing.synthetic import SyntheticWorkload


def main(requests: int = 2000) -> None:
    """Serve ``requests`` requests and print what the router chose per kind of request."""
    workload = SyntheticWorkload(rng=np.random.default_rng(0))
    router = us.Router(
        workload.arms(),  # small / medium / large x (single, self-consistency n=3,5,8)
        prices=workload.prices,
        objective=us.Tradeoff(willingness_to_pay=0.05),  # USD per right answer
        backends=workload.backends(),
        seed=0,
    )
    window = max(requests // 4, 1)
    picks: dict[str, Counter[str]] = {}
    quality, cost = [], []
    for i in range(requests):
        prompt, category = workload.prompt()
        result = router.invoke(prompt)
        score = workload.score(result.text)
        router.feedback(result.decision.id, score)
        quality.append(score)
        cost.append(result.cost)
        if i >= requests - window:
            picks.setdefault(category.name, Counter())[result.decision.arm.key] += 1
        if (i + 1) % window == 0:
            print(f"requests {i + 1 - window:>5}-{i + 1:<5} "
                  f"quality {np.mean(quality[-window:]):.3f}  "
                  f"mean cost ${np.mean(cost[-window:]):.5f}")
    print("\nmost chosen arm per kind of request (last quarter):")
    for name, counter in sorted(picks.items()):
        arm, count = counter.most_common(1)[0]
        print(f"  {name:<10} {arm:<16} {count / sum(counter.values()):.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    main(parser.parse_args().requests)
