"""Warm start on a table's train split only: where does the fitted router lose?

Each seed splits the table's *train* prompts again (``--eval`` of them the eval set run
through every arm, the rest the online stream), so settings can be compared without
ever looking at the test split. Every variant is the ``uniscale`` learner of
``uniscale bench --warm-start`` with one thing changed after :meth:`Router.fit`:

* ``default``: as fitted;
* ``alpha0``: no exploration bonus (``policy.alpha = 0``);
* ``noguard``: the eval set's best-arm baseline dropped (``router.guard = None``);
* ``frozen``: no online learning (feedback is not learned);
* ``disjoint``: a router without evidence sharing (``hybrid=False``) before fitting;
* ``trust1``, ``trust2``: the best-arm baseline kept unless the held-out advantage of
  routing clears one or two standard errors (:data:`uniscale.fit.TRUST_Z` during fit);
* ``revised``: a fit-installed baseline re-estimates its pessimistic sums from the
  current model (``guard.revised = True``, the joint bound of CLUCB).

Printed per variant: mean test reward over the seeds, its standard error, the paired
difference against the ``trained-router`` (a greedy per-arm ridge on the same eval set)
on the same streams, and the paired difference against the first variant;
``best-fixed`` (chosen on the eval set's prompts) and the ``paretobandit`` peer
(warm-started on the same eval set) for reference. Then, per seed, what
the first variant's eval-set check found (held-out advantage of routing over the best
arm ± its standard error, and whether a baseline was kept).

Run: OPENBLAS_NUM_THREADS=1 python benchmarks/warm_resplit.py TABLE [--seeds 16]
     [--variants default,noguard,...] [--eval 0.7] [--context task]
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import numpy as np

import uniscale.bench.runner as runner
from uniscale import Router
from uniscale.bench.command import prepare
from uniscale.bench.metrics import summarize
from uniscale.bench.policies import RouterSettings
from uniscale.bench.report import tradeoff_points
from uniscale.objective import Tradeoff

VARIANTS = ("default", "alpha0", "noguard", "frozen", "disjoint", "trust1", "trust2",
            "revised")
_REFERENCES = ("trained-router", "best-fixed", "paretobandit")
_ACTIVE: dict[str, bool] = {}
_FOUND: list[tuple[dict[str, Any], bool]] = []


class _Variant(Router):
    """The bench's router with one change after fit (see the module docstring)."""

    def fit(self, records: Any, **kw: Any) -> int:
        import uniscale.fit as fit

        trust = fit.TRUST_Z
        for z in (1, 2):
            if _ACTIVE.get(f"trust{z}"):
                fit.TRUST_Z = float(z)
        try:
            n = super().fit(records, **kw)
        finally:
            fit.TRUST_Z = trust
        if _ACTIVE.get("first"):
            _FOUND.append((dict(self.stats.get("eval_set", {})), self.guard is not None))
        if _ACTIVE.get("revised") and self.guard is not None and not self.guard.quality_only:
            self.guard.revised = True
        if _ACTIVE.get("alpha0"):
            self.policy.alpha = 0.0
        if _ACTIVE.get("noguard"):
            self.guard = None
        return n

    def feedback(self, decision_id: str, score: float, **kw: Any) -> bool:
        if _ACTIVE.get("frozen"):
            return True
        return bool(super().feedback(decision_id, score, **kw))


def resplit(ctx: runner.Context, seed: int, eval_share: float) -> runner.Context:
    """The train prompts of ``ctx``, ``1 - eval_share`` of them marked as the stream."""
    train = np.flatnonzero(~ctx.table.is_test)
    rng = np.random.default_rng([seed, 77])
    stream = np.zeros(len(train), dtype=bool)
    stream[rng.permutation(len(train))[: round((1 - eval_share) * len(train))]] = True
    table = dataclasses.replace(ctx.table.subset(train), is_test=stream)
    return runner.Context(table, aggregate=ctx.env.aggregate, n_grid=ctx.n_grid,
                          mc_samples=ctx.mc_samples, context=ctx.context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--variants", default="default,noguard")
    parser.add_argument("--eval", type=float, default=0.7, dest="eval_share")
    parser.add_argument("--context", default=None,
                        help="'task': every policy is told each prompt's dataset "
                        "(as uniscale bench --context task)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    ctx = prepare(args.table, context=args.context)
    objective = Tradeoff(willingness_to_pay=tradeoff_points(ctx)["suggested"])
    runner.Router = _Variant  # type: ignore[misc]  # the bench builds its routers here
    rewards: dict[str, list[float]] = {}
    for s in range(args.seeds):
        sub = resplit(ctx, s, args.eval_share)
        for i, name in enumerate(variants):
            _ACTIVE.clear()
            _ACTIVE[name] = True
            _ACTIVE["first"] = i == 0
            policies = ["uniscale"] + (list(_REFERENCES) if i == 0 else [])
            run = runner.run_seed(sub, objective, 1000 + s, policies=policies,
                                  warm_start=True,
                                  settings=RouterSettings(hybrid=name != "disjoint"))
            summary = summarize([run], policies)
            rewards.setdefault(name, []).append(summary["uniscale"].test_reward)
            for ref in policies[1:]:
                rewards.setdefault(ref, []).append(summary[ref].test_reward)
    base = np.array(rewards["trained-router"])
    print(f"{args.table}: train prompts re-split ({args.eval_share:.0%} eval set), "
          f"{args.seeds} seeds" + (f", --context {args.context}" if args.context else ""))
    for name in [*_REFERENCES, *variants]:
        values = np.array(rewards[name])
        diff = values - base
        se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
        dse = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        own = values - np.array(rewards[variants[0]])
        ose = own.std(ddof=1) / np.sqrt(len(own)) if len(own) > 1 else float("nan")
        print(f"  {name:16s} {values.mean():.4f} ±{se:.4f}   vs trained-router "
              f"{diff.mean():+.4f} ±{dse:.4f}   vs {variants[0]} {own.mean():+.4f} ±{ose:.4f}")
    for s, (found, kept) in enumerate(_FOUND):
        print(f"  seed {s}: held-out advantage {found.get('advantage', float('nan')):+.4f} "
              f"±{found.get('stderr', float('nan')):.4f}, "
              f"{'baseline ' + str(found.get('best_arm')) if kept else 'no baseline'}")


if __name__ == "__main__":
    main()
