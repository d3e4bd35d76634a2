"""``uniscale tune TABLE``: what :meth:`Router.tune` chooses on a table's train split.

The train split is run once through every arm (an eval set, as a user would record
one before going live); :meth:`Router.tune` cross-validates the learner's settings on it
in time order and prints what it tried and chose — and whether no setting beat the best
single arm, in which case the router would serve that arm as its baseline. The test
split is never looked at.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..objective import Budget, Objective, Tradeoff
from ..router import Router
from . import console
from .evalset import outcome_records, run_eval_set

__all__ = ["add_tune_command", "tune_command"]


def add_tune_command(sub: Any) -> None:
    """Register ``uniscale tune`` on the command's sub-parsers."""
    tune = sub.add_parser("tune", help="cross-validate the learner's settings on a table's "
                          "train split (Router.tune) and print the report")
    tune.add_argument("table", help="a .jsonl.gz table, or a bare name (date_mot, ...)")
    goal = tune.add_mutually_exclusive_group()
    goal.add_argument("--wtp", type=float, help="willingness to pay, USD per unit of quality")
    goal.add_argument("--budget", type=float, help="mean USD per request (λ at its start)")
    tune.add_argument("--data-dir", type=Path, default=None,
                      help="folder searched first for a bare table name")
    tune.add_argument("--folds", type=int, default=3, help="time-ordered folds (default 3)")
    tune.add_argument("--limit", type=int, default=None, help="use only this many prompts")
    tune.add_argument("--seed", type=int, default=0, help="seed of the replayed draws")


def tune_command(args: argparse.Namespace) -> int:
    """Run ``uniscale tune``."""
    from .command import prepare
    from .report import tradeoff_points

    ctx = prepare(args.table, data_dir=args.data_dir, limit=args.limit)
    env, table = ctx.env, ctx.table
    if args.budget is not None:
        objective: Objective = Budget(per_request=args.budget)
    else:
        wtp = args.wtp if args.wtp is not None else tradeoff_points(ctx)["suggested"]
        objective = Tradeoff(willingness_to_pay=wtp)
    rng = np.random.default_rng(args.seed)
    train = rng.permutation(np.flatnonzero(~table.is_test))
    console.say(f"table {table.name}: eval set = {len(train)} train prompts x every arm "
                f"({env.n_arms} arms); objective {objective}")
    evalset = run_eval_set(env, train, rng)
    # by text, not by fixed vectors: tune() then also tries the featurizer's width
    records = [dataclasses.replace(r, features=None)
               for r in outcome_records(evalset, env, ctx.features(128))]
    router = Router(env.arms, table.prices, objective, seed=args.seed)
    for model in table.models:  # a replayed call returns every sample of an arm
        router.costs.samples_per_call[model] = 10**6
    report = router.tune(records, folds=args.folds)
    print(report)
    return 0
