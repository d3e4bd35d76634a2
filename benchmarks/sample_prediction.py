"""How well ``decide`` knows the samples an early-stopping arm will draw on a request.

One router serves one early-stopping self-consistency arm over a replay table's prompts
(train, then test; replayed wave by wave). Before each request it is asked for the arm's
expected samples twice: with the request's context vector (the per-context regression,
where its prequential guard lets it answer) and without (the arm's running mean). After
the request the samples really drawn are known. Reported over the test prompts: mean
absolute error of both predictions, their ratio, and the share of test requests where the
regression answered. Mean over seeds with the spread.

Run: python benchmarks/sample_prediction.py [--seeds 3] [--n 20]
(the tables are read from ../shared/data next to the repository; nothing is copied).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.bench.env import PROMPT_OPTION
from uniscale.bench.runner import Context
from uniscale.bench.table import load_table
from uniscale.bench.waves import STEP_OPTION, wave_backends

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CONFIGS = (("date_mot", "gpt-3.5-turbo", "cot1"), ("aqua_pot", "code-davinci-002", "pot"))


def run(ctx: Context, model: str, variant: str, n: int, rule: us.EarlyStop, seed: int
        ) -> tuple[float, float, float]:
    """``(MAE with context, MAE of the mean, share answered by the regression)`` on test."""
    table = ctx.table
    g = table.pair_index(model, variant)
    prompts = np.flatnonzero(table.counts[:, g] >= n)
    rng = np.random.default_rng(seed)
    train, test = prompts[~table.is_test[prompts]], prompts[table.is_test[prompts]]
    order = np.concatenate([rng.permutation(train), rng.permutation(test)])
    arm = us.Arm(model, us.SelfConsistency(variant=variant, early_stop=rule), n)
    router = us.Router([arm], table.prices, backends=wave_backends(ctx.env, [model], seed),
                       featurizer=us.HashingFeaturizer(64), seed=seed)
    model_counts = router.costs.sample_counts
    errors: list[tuple[float, float, bool]] = []
    for t, p in enumerate(order):
        prompt = str(table.prompts[p])
        x, _ = router.context_vector(prompt)
        here, _ = model_counts.expected(arm, 1, x=x)
        mean, _ = model_counts.expected(arm, 1)
        result = router.invoke(prompt, **{PROMPT_OPTION: int(p), STEP_OPTION: t})
        drawn = len(result.samples)
        if table.is_test[p]:
            errors.append((abs(here - drawn), abs(mean - drawn), here != mean))
    err = np.array(errors, dtype=float)
    return float(err[:, 0].mean()), float(err[:, 1].mean()), float(err[:, 2].mean())


def main(data_dir: Path, seeds: int, n: int) -> None:
    """Print one line per table."""
    started = time.perf_counter()
    rule = us.EarlyStop(rule="predictive")
    print(f"Samples drawn by SelfConsistency(early_stop={rule.key!r}) at n = {n}: mean "
          f"absolute error of the expected samples on the test prompts, {seeds} seeds")
    print(f"{'table / model / strategy':<34} {'per context':>12} {'arm mean':>10} "
          f"{'ratio':>7} {'answered':>9}")
    for name, model, variant in CONFIGS:
        ctx = Context(load_table(name, data_dir), mc_samples=8)
        runs = np.array([run(ctx, model, variant, n, rule, s) for s in range(seeds)])
        here, mean, answered = runs.mean(0)
        ratio = runs[:, 0] / runs[:, 1]
        print(f"{name + ' ' + model + ' ' + variant:<34} {here:8.2f}±{runs[:, 0].std():.2f} "
              f"{mean:6.2f}±{runs[:, 1].std():.2f} {ratio.mean():7.3f} {answered:9.0%}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    main(args.data_dir, args.seeds, args.n)
