"""``uniscale demo``: the benchmark on the tables shipped in the package, offline.

Every learner and peer is warm-started on the train split (an eval set through every
arm) and then runs online on the test part, at the willingness to pay W suggested by the
train split's fixed-arm hull (every policy, several seeds) and at the other W values of
the frontier (fewer seeds, no ParetoBandit); one table also runs under a budget. Nothing
here looks at the test part to choose anything.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..objective import Budget, Tradeoff
from . import console
from .command import (
    budget_errors,
    clean_json,
    default_policies,
    prepare,
    print_result,
    stream_steps,
)
from .plot import plot_frontiers
from .report import frontier, run_bench, tradeoff_points
from .runner import Context

__all__ = ["BUDGET_POLICIES", "DEMO_TABLES", "SWEEP_POLICIES", "DemoChoice", "DemoTable",
           "demo_choice", "demo_command"]


@dataclass(frozen=True)
class DemoTable:
    """One table of the demo.

    Attributes:
        name: Shipped table name.
        seeds: Seeds of the run at the suggested W (every policy).
        sweep_seeds: Seeds of the runs at the other W values of the frontier.
        axes: What its joint space combines (for the console).
        budget: Seeds of its run under a budget (the Budget panel; 0: none).
        sweep_step: Every how many of the train hull's sweep W values a frontier run
            is made (the sweep spans the hull's breakpoints; its ends are always run).
    """

    name: str
    seeds: int
    sweep_seeds: int
    axes: str
    budget: int = 0
    sweep_step: int = 2


DEMO_TABLES = (
    DemoTable("faithful_cot", 5, 1, "model x prompting strategy", budget=2, sweep_step=3),
    DemoTable("game24_tot", 8, 2, "prompting strategy x n (best-of-n, exact checker)"),
    DemoTable("aqua_pot", 6, 2, "model x strategy x n"),
)
"""The demo's tables (all shipped in ``uniscale/data``)."""

SWEEP_POLICIES = ("uniscale", "routing-only", "tts-only", "trained-router", "best-fixed",
                  "oracle")
"""Policies of the frontier runs (ParetoBandit runs at the suggested W and the budget)."""

BUDGET_POLICIES = ("uniscale", "paretobandit", "trained-router", "best-fixed", "oracle")
"""Policies of the budget run."""


@dataclass(frozen=True)
class DemoChoice:
    """What the demo runs a table at, chosen on its train split only.

    Attributes:
        tradeoff: :func:`~uniscale.bench.report.tradeoff_points` of the train split.
        wtp: The willingness to pay of the run with every policy (the suggested W).
        others: The other W values of the frontier.
        budget: The per-request budget of the budget run: the geometric mean of the
            cheapest and the dearest arm on the train hull.
    """

    tradeoff: dict[str, Any]
    wtp: float
    others: tuple[float, ...]
    budget: float


def demo_choice(ctx: Context, *, sweep_step: int = 2, small: bool = False) -> DemoChoice:
    """The W values and the budget the demo uses on a table (from its train split only).

    Args:
        ctx: The prepared table.
        sweep_step: Every how many of the train hull's sweep W values a frontier run is
            made.
        small: The quick run's sparser grid.
    """
    tp = tradeoff_points(ctx)
    grid = tp["sweep"][1::3] if small else tp["sweep"][::sweep_step]
    costs = [c for c, _ in tp["hull"]]
    budget = float(np.sqrt(min(costs) * max(costs))) if costs else 1e-3
    return DemoChoice(tp, float(tp["suggested"]), tuple(float(w) for w in grid), budget)


def _scaled(count: int, args: argparse.Namespace) -> int:
    return 1 if args.small else max(1, round(count * args.seeds / 3))


def _available(policies: tuple[str, ...]) -> tuple[str, ...]:
    known = default_policies()
    return tuple(p for p in policies if p in known)


def _table(spec: DemoTable, shipped: Path, args: argparse.Namespace
           ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Run one table: the suggested W, the other W values, and the budget."""
    ctx = prepare(shipped / f"{spec.name}.jsonl.gz", limit=args.limit)
    choice = demo_choice(ctx, sweep_step=spec.sweep_step, small=args.small)
    tp, wtp, others = choice.tradeoff, choice.wtp, choice.others
    seeds = list(range(_scaled(spec.seeds, args)))
    sweep_seeds = list(range(_scaled(spec.sweep_seeds, args)))
    budget_seeds = list(range(_scaled(spec.budget, args))) if spec.budget else []
    policies = default_policies()
    sweep_policies = _available(SWEEP_POLICIES)
    t = ctx.table
    console.say(f"\n{spec.name} ({spec.axes}): {t.n_prompts} prompts "
                f"({int(t.is_test.sum())} test), {len(t.models)} model(s), "
                f"{ctx.env.n_arms} arms; W = {wtp:.4g} USD per unit of quality")
    total = stream_steps(ctx, policies, True) * len(seeds) \
        + stream_steps(ctx, sweep_policies, True) * len(sweep_seeds) * len(others) \
        + stream_steps(ctx, _available(BUDGET_POLICIES), True) * len(budget_seeds)
    budget = None
    with console.progress_bar(total, f"replaying {spec.name}",
                              enabled=not args.quiet) as advance:
        main = run_bench(ctx, Tradeoff(wtp), seeds, policies=policies, progress=advance,
                         warm_start=True)
        results = [main] + [run_bench(ctx, Tradeoff(w), sweep_seeds, policies=sweep_policies,
                                      progress=advance, warm_start=True) for w in others]
        if budget_seeds:
            target = choice.budget
            budget = (run_bench(ctx, Budget(per_request=target), budget_seeds,
                                policies=_available(BUDGET_POLICIES), progress=advance,
                                warm_start=True), target)
    results.sort(key=lambda r: getattr(r.objective, "willingness_to_pay", 0.0))
    sweep = frontier(ctx, results, policies)
    print_result(main, Tradeoff(wtp), f"{spec.name} — W = {wtp:.4g} USD, {len(seeds)} "
                 "seed(s), warm start")
    console.print_frontier(f"{spec.name} — test part at every W of the plot "
                           f"({len(sweep_seeds)} seed(s) away from W = {wtp:.4g})", sweep)
    entry: dict[str, Any] = {**main.to_json(), "axes": spec.axes, "tradeoff": tp,
                             "sweep": {k: v for k, v in sweep.items() if k != "results"}}
    panel = None
    if budget is not None:
        result, target = budget
        print_result(result, Budget(per_request=target),
                     f"{spec.name} — budget {target:.4g} USD/request, warm start")
        entry["budget"] = {"target": target, **result.to_json(),
                           "budget_error": budget_errors(result, result.objective)}
        panel = {
            "title": f"Budget: {spec.name}, target {target:.3g} USD/request",
            "target": target,
            "series": {name: np.mean([r.traces[name].cost for r in result.runs], axis=0)
                       for name in ("uniscale", "paretobandit", "trained-router")
                       if name in result.runs[0].traces},
        }
    return entry, sweep, panel


def demo_command(args: argparse.Namespace) -> int:
    """Run ``uniscale demo`` (arguments from :func:`uniscale.cli.main`'s parser)."""
    started, cpu = time.time(), time.process_time()
    shipped = Path(__file__).resolve().parent.parent / "data"
    sweeps = []
    report: list[dict[str, Any]] = []
    budget_panel: dict[str, Any] | None = None
    for spec in DEMO_TABLES:
        entry, sweep, panel = _table(spec, shipped, args)
        sweeps.append((f"{spec.name}: test part, every W", sweep))
        report.append(entry)
        budget_panel = panel or budget_panel
    plot_frontiers(sweeps, args.out, budget=budget_panel)
    console.say(f"\nwrote {args.out}")
    if args.json is not None:
        args.json.write_text(json.dumps(clean_json({"tables": report}), indent=2))
        console.say(f"wrote {args.json}")
    console.say(f"done in {time.time() - started:.1f}s "
                f"({time.process_time() - cpu:.1f}s of CPU)")
    return 0
