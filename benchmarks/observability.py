"""Overhead of explanations, decision logging and stochastic exploration on ``decide``.

For K arms (d = 64 features passed as ``features=``) this times one ``decide`` per
configuration and prints the median and mean microseconds and the ratio to the baseline
(``log`` off, candidates never looked at) measured in the same run:

* ``baseline`` — ``decide(features=x)``;
* ``+ explain()`` — the same, then ``d.candidates`` and ``d.explain()`` (built lazily);
* ``log file`` — ``Router(log=path)``: one JSON line per decision, features digested;
* ``log file, features`` — ``log_features=True``;
* ``log callable`` — ``log=list.append`` (records built, nothing written);
* ``softmax`` / ``thompson`` — stochastic exploration, log off.

Feedback is given after every decide, outside the timed region (its log line is not
counted). Configurations take turns round by round so machine noise falls on all alike;
every call is timed on its own with the garbage collector paused.

Usage::

    python benchmarks/observability.py            # K = 6, 24, 96
    python benchmarks/observability.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import uniscale as us

DIM = 64


def _arms(k: int) -> us.ArmSpace:
    models = [f"m{i}" for i in range(max(k // 6, 1))]
    arms = us.ArmSpace.product(models=models, strategies=[us.Single(), us.SelfConsistency()],
                               n=[1, 3, 5, 8, 16, 32])
    return us.ArmSpace(list(arms)[:k])


def _configs(tmp: Path) -> dict[str, Callable[[us.ArmSpace, dict[str, us.Price]], Any]]:
    sink: list[dict[str, Any]] = []

    def make(**kw: Any) -> Callable[[us.ArmSpace, dict[str, us.Price]], us.Router]:
        return lambda arms, prices: us.Router(
            arms, prices, us.Tradeoff(0.01), featurizer=us.HashingFeaturizer(DIM), seed=0, **kw)

    return {
        "baseline": make(),
        "+ explain()": make(),
        "log file": make(log=tmp / "digest.jsonl"),
        "log file, features": make(log=tmp / "features.jsonl", log_features=True),
        "log callable": make(log=sink.append),
        "softmax": make(exploration="softmax", temperature=0.1),
        "thompson": make(exploration="thompson"),
    }


def run(k: int, rows: int, rounds: int, rng: np.random.Generator) -> None:
    """Print one table for K = ``k`` arms."""
    arms = _arms(k)
    prices = {a.model: us.Price(0.5 + i, 2.0 + 4 * i)
              for i, a in enumerate({a.model: a for a in arms}.values())}
    xs = rng.standard_normal((rows * rounds, DIM))
    xs /= np.linalg.norm(xs, axis=1, keepdims=True)
    scores = rng.random(rows * rounds)
    with tempfile.TemporaryDirectory() as folder:
        makers = _configs(Path(folder))
        routers = {name: make(arms, prices) for name, make in makers.items()}
        times: dict[str, list[float]] = {name: [] for name in routers}
        gc.disable()
        try:
            for r in range(rounds):
                for name, router in routers.items():
                    explain = name == "+ explain()"
                    for t in range(r * rows, (r + 1) * rows):
                        start = time.perf_counter_ns()
                        d = router.decide(features=xs[t], input_tokens=200)
                        if explain:
                            d.candidates  # noqa: B018 - the access is what is timed
                            d.explain()
                        times[name].append((time.perf_counter_ns() - start) / 1e3)
                        router.feedback(d.id, float(scores[t]))
                gc.collect()
        finally:
            gc.enable()
            for router in routers.values():
                router.close()
    base = statistics.median(times["baseline"])
    print(f"\nK = {len(arms)} arms, d = {DIM}, {rows * rounds} decides per configuration")
    print(f"{'configuration':<22} {'median µs':>10} {'mean µs':>9} {'ratio (median)':>15}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<22} {med:10.1f} {statistics.fmean(ts):9.1f} {med / base:15.2f}")


def main() -> None:
    """Parse arguments and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, K = 6 only")
    parser.add_argument("--rows", type=int, default=200, help="decides per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for k in (6,) if args.quick else (6, 24, 96):
        run(k, 40 if args.quick else args.rows, 2 if args.quick else args.rounds, rng)


if __name__ == "__main__":
    main()
