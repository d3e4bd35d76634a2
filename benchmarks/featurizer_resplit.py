"""Which hashing features the replay benchmark should feed: on train re-splits only.

Every policy of ``uniscale bench`` (the learners, the trained router, the peers) sees the
same feature vectors, ``HashingFeaturizer(128)`` over word uni- and bigrams (the class
default). :class:`uniscale.Router`'s own default hashes unigrams only. This compares the
two (and unigrams at width 64) where no test prompt is seen: each seed splits the table's
*train* prompts again (70% the eval set run through every arm, the rest the online
stream, as ``benchmarks/warm_resplit.py``), and every configuration runs on the same
splits and seeds.

Printed per configuration: mean reward of ``uniscale`` on the stream, its paired
difference against the first configuration (± standard error over seeds), the trained
router's and best-fixed's reward, and uniscale minus the trained router.

Run: OPENBLAS_NUM_THREADS=1 python benchmarks/featurizer_resplit.py TABLE [--seeds 8] [--cold]
"""

from __future__ import annotations

import argparse

import numpy as np
from warm_resplit import resplit

import uniscale.bench.runner as runner
from uniscale.bench.command import prepare
from uniscale.bench.metrics import summarize
from uniscale.bench.policies import RouterSettings
from uniscale.bench.report import tradeoff_points
from uniscale.objective import Tradeoff

CONFIGS = ((128, 2), (128, 1), (64, 1))
"""(width, largest n-gram) compared; the first is the benchmark's."""
POLICIES = ("uniscale", "trained-router", "best-fixed")


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--cold", action="store_true", help="no warm start")
    args = parser.parse_args()
    ctx = prepare(args.table)
    objective = Tradeoff(willingness_to_pay=tradeoff_points(ctx)["suggested"])
    found = {c: {p: [] for p in POLICIES} for c in CONFIGS}
    for s in range(args.seeds):
        for dim, ngrams in CONFIGS:
            run = runner.run_seed(resplit(ctx, s, 0.7), objective, 1000 + s,
                                  policies=list(POLICIES), warm_start=not args.cold,
                                  settings=RouterSettings(dim=dim, ngrams=ngrams))
            summary = summarize([run], list(POLICIES))
            for p in POLICIES:
                found[(dim, ngrams)][p].append(summary[p].test_reward)
    base = np.array(found[CONFIGS[0]]["uniscale"])
    print(f"{args.table}: train prompts re-split, {'cold' if args.cold else 'warm'} start, "
          f"{args.seeds} seeds")
    for c in CONFIGS:
        u, t, b = (np.array(found[c][p]) for p in POLICIES)
        print(f"  width {c[0]:3d}, n-grams <= {c[1]}: uniscale {u.mean():.4f} "
              f"(vs first {np.mean(u - base):+.4f} ±{_se(u - base):.4f})  trained-router "
              f"{t.mean():.4f}  best-fixed {b.mean():.4f}  uniscale - trained "
              f"{np.mean(u - t):+.4f} ±{_se(u - t):.4f}")


if __name__ == "__main__":
    main()
