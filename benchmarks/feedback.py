"""Learning from late, sparse and noisy feedback, and from implicit rewards.

One router per run streams a replay table's prompts (cold: train then test; warm: fit on
every arm's train outcomes first, then the test prompts) and receives the replayed
scores through a :class:`~uniscale.bench.feedback.FeedbackPlan`: 100% scored, 10%
scored, 10% scored plus implicit rewards (vote share, raw or calibrated on the explicit
scores so far, weight 0.3, after 1 request), and
100% scored but late (delay 10 / 50 requests) or noisy (10% / 20% of labels flipped).
Figures are over the test prompts: mean true quality, cost and reward ``q − cost/W``,
mean over seeds with the spread, and the paired difference against 100% scored.

Run: python benchmarks/feedback.py [--seeds 5] [--tables date_mot faithful_cot]
[--mode warm|cold|both] [--sparse-only]
(the tables are read from ../shared/data next to the repository; nothing is copied).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.bench.feedback import FeedbackPlan, run_with_feedback
from uniscale.bench.policies import RouterSettings
from uniscale.bench.runner import Context
from uniscale.bench.table import Table, load_table
from uniscale.implicit import ImplicitRewards

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
# table -> (W, models kept, strategies kept, prompts kept)
TABLES = {
    "date_mot": (0.0094, None, None, None),
    "faithful_cot": (0.27, ("code-davinci-002", "gpt-3.5-turbo", "gpt-4", "text-davinci-003"),
                     ("standard", "cot", "ltm", "nonl", "nl+sl"), 1000),
}
PLANS = (
    ("100% scored", FeedbackPlan(), None),
    ("10% scored", FeedbackPlan(rate=0.1), None),
    ("10% + implicit", FeedbackPlan(rate=0.1), "raw"),
    ("10% + calibrated", FeedbackPlan(rate=0.1), "calibrated"),
    ("100%, delay 10", FeedbackPlan(delay=10), None),
    ("100%, delay 50", FeedbackPlan(delay=50), None),
    ("100%, flip 0.1", FeedbackPlan(flip=0.1), None),
    ("100%, flip 0.2", FeedbackPlan(flip=0.2), None),
)


def _prepare(table: Table, models: Sequence[str] | None, strategies: Sequence[str] | None,
             prompts: int | None, seed: int) -> tuple[Context, np.ndarray]:
    if prompts is not None and prompts < table.n_prompts:
        keep = np.sort(np.random.default_rng(seed).choice(table.n_prompts, prompts,
                                                          replace=False))
        table = table.subset(keep)
    ctx = Context(table, mc_samples=64)
    env = ctx.env
    mask = np.array([(models is None or a.model in models)
                     and (strategies is None or str(a.strategy.variant) in strategies)
                     for a in env.arms])
    served = (env.allowed & mask[None, :]).any(1)
    if not served.all():  # keep the prompts the kept arms can serve
        ctx = Context(table.subset(np.flatnonzero(served)), mc_samples=64)
    return ctx, mask


def run_table(name: str, data_dir: Path, seeds: int, warm: bool,
              plans: Sequence[tuple[str, FeedbackPlan, str | None]] = PLANS) -> list[str]:
    """Every plan on one table; returns the printed lines."""
    wtp, models, strategies, prompts = TABLES[name]
    ctx, mask = _prepare(load_table(name, data_dir), models, strategies, prompts, 0)
    objective = us.Tradeoff(willingness_to_pay=wtp)
    test = np.flatnonzero(ctx.table.is_test)
    train = np.flatnonzero(~ctx.table.is_test)
    settings = RouterSettings(alpha=0.5, dim=64)
    rewards: dict[str, list[np.ndarray]] = {label: [] for label, _, _ in plans}
    figures: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in plans}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(test) if warm else np.concatenate(
            [rng.permutation(train), rng.permutation(test)])
        on_test = ctx.table.is_test[order]
        for label, plan, implicit in plans:
            trace, _ = run_with_feedback(
                ctx, plan, objective, order, seed, settings=settings, arm_mask=mask,
                implicit=ImplicitRewards(weight=0.3, delay=None, delay_requests=1,
                                         calibrate=implicit == "calibrated")
                if implicit else None,
                warm_start=train if warm else None)
            reward = trace.quality - trace.cost / wtp
            rewards[label].append(reward[on_test])
            figures[label].append((float(trace.quality[on_test].mean()),
                                   float(trace.cost[on_test].mean())))
    mode = "warm start (fit on train, stream test)" if warm else "cold (train, then test)"
    lines = [f"\n{name}: W = {wtp}, {int(mask.sum())} arms, {ctx.table.n_prompts} prompts "
             f"({len(test)} test), {seeds} seeds, {mode}",
             f"{'feedback':<16} {'quality':>8} {'cost $':>9} {'reward':>8} {'± seeds':>8} "
             f"{'vs 100%':>16}"]
    base = rewards[plans[0][0]]
    for label, _, _ in plans:
        per_seed = np.array([r.mean() for r in rewards[label]])
        q, c = np.mean(figures[label], axis=0)
        diff = np.concatenate([r - b for r, b in zip(rewards[label], base, strict=True)])
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        lines.append(f"{label:<16} {q:8.3f} {c:9.5f} {per_seed.mean():8.3f} "
                     f"{per_seed.std():8.3f} {diff.mean():+8.3f}±{half:.3f}")
    return lines


def main(data_dir: Path, seeds: int, tables: Sequence[str], warm: Sequence[bool],
         plans: Sequence[tuple[str, FeedbackPlan, str | None]] = PLANS) -> None:
    """Print one block per table and mode."""
    started = time.perf_counter()
    print("Reward q - cost/W of one router on the test prompts under each feedback plan")
    for name in tables:
        for w in warm:
            for line in run_table(name, data_dir, seeds, w, plans):
                print(line, flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tables", nargs="*", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--mode", choices=("warm", "cold", "both"), default="both")
    parser.add_argument("--sparse-only", action="store_true",
                        help="only 100%% scored, 10%% scored and 10%% + implicit (raw, "
                             "calibrated): the first four plans")
    args = parser.parse_args()
    modes = {"warm": [True], "cold": [False], "both": [False, True]}[args.mode]
    main(args.data_dir, args.seeds, args.tables, modes,
         PLANS[:4] if args.sparse_only else PLANS)
