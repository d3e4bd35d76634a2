"""``uniscale demo``: the benchmark on the tables shipped in the package, offline.

Every learner and peer is warm-started on the train split (an eval set through every
arm) and then runs online on the test part, at several willingness-to-pay values W taken
from the train split's fixed-arm hull; one table also runs under a budget. Nothing here
looks at the test part to choose anything.
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
from .command import clean_json, default_policies, prepare, print_result, stream_steps
from .plot import plot_frontiers
from .report import BenchResult, run_bench, run_sweep, tradeoff_points
from .runner import Context

__all__ = ["DEMO_TABLES", "DemoTable", "demo_command"]


@dataclass(frozen=True)
class DemoTable:
    """One table of the demo.

    Attributes:
        name: Shipped table name.
        seeds: Seeds of its runs.
        axes: What its joint space combines (for the console).
        budget: Whether it also runs under a budget (the Budget panel).
    """

    name: str
    seeds: int
    axes: str
    budget: bool = False


DEMO_TABLES = (
    DemoTable("faithful_cot", 3, "model x prompting strategy", budget=True),
    DemoTable("game24_tot", 12, "prompting strategy x n (best-of-n, exact checker)"),
    DemoTable("aqua_pot", 6, "model x strategy x n"),
)
"""The demo's tables (all shipped in ``uniscale/data``)."""


def _wtp_grid(tp: dict[str, Any], small: bool) -> list[float]:
    """W values of the frontier: the suggested W and the sweep from the train hull."""
    grid = tp["sweep"][1:-1:2] if small else tp["sweep"][1:-1]
    values = sorted({float(tp["suggested"]), *map(float, grid)})
    return values


def _budget_target(tp: dict[str, Any]) -> float:
    """A budget between the cheapest and the dearest arm of the train hull."""
    costs = [c for c, _ in tp["hull"]]
    return float(np.sqrt(min(costs) * max(costs))) if costs else 1e-3


def _budget_run(ctx: Context, seeds: list[int], policies: tuple[str, ...],
                progress: Any) -> tuple[BenchResult, float]:
    tp = tradeoff_points(ctx)
    target = _budget_target(tp)
    result = run_bench(ctx, Budget(per_request=target), seeds, policies=policies,
                       progress=progress, warm_start=True)
    return result, target


def demo_command(args: argparse.Namespace) -> int:
    """Run ``uniscale demo`` (arguments from :func:`uniscale.cli.main`'s parser)."""
    started = time.time()
    shipped = Path(__file__).resolve().parent.parent / "data"
    policies = default_policies()
    sweeps = []
    report: list[dict[str, Any]] = []
    budget_panel: dict[str, Any] | None = None
    for spec in DEMO_TABLES:
        ctx = prepare(shipped / f"{spec.name}.jsonl.gz", limit=args.limit)
        tp = tradeoff_points(ctx)
        wtp = float(tp["suggested"])
        grid = _wtp_grid(tp, args.small)
        n_seeds = 1 if args.small else max(1, round(spec.seeds * args.seeds / 3))
        seeds = list(range(n_seeds))
        t = ctx.table
        console.say(f"\n{spec.name} ({spec.axes}): {t.n_prompts} prompts "
                    f"({int(t.is_test.sum())} test), {len(t.models)} model(s), "
                    f"{ctx.env.n_arms} arms; W = {wtp:.4g} USD per unit of quality")
        total = stream_steps(ctx, policies, True) * len(seeds) * (len(grid) + spec.budget)
        with console.progress_bar(total, f"replaying {spec.name}",
                                  enabled=not args.quiet) as advance:
            sweep = run_sweep(ctx, grid, seeds, policies=policies, progress=advance,
                              warm_start=True)
            budget = _budget_run(ctx, seeds, policies, advance) if spec.budget else None
        main = sweep["results"][grid.index(wtp)]
        print_result(main, Tradeoff(wtp), f"{spec.name} — W = {wtp:.4g} USD, {len(seeds)} "
                     "seed(s), warm start")
        console.print_frontier(f"{spec.name} — test part at every W of the plot", sweep)
        entry: dict[str, Any] = {**main.to_json(), "axes": spec.axes, "tradeoff": tp,
                                 "sweep": {k: v for k, v in sweep.items()
                                           if k not in ("runs", "results")}}
        if budget is not None:
            result, target = budget
            print_result(result, Budget(per_request=target),
                         f"{spec.name} — budget {target:.4g} USD/request, warm start")
            entry["budget"] = {"target": target, **result.to_json()}
            budget_panel = {
                "title": f"Budget: {spec.name}, target {target:.3g} USD/request",
                "target": target,
                "series": {name: np.mean([r.traces[name].cost for r in result.runs], axis=0)
                           for name in ("uniscale", "paretobandit", "routing-only",
                                        "tts-only", "trained-router")
                           if name in result.runs[0].traces},
            }
        sweeps.append((f"{spec.name}: frontier over W (test part)", sweep))
        report.append(entry)
    plot_frontiers(sweeps, args.out, budget=budget_panel)
    console.say(f"\nwrote {args.out}")
    if args.json is not None:
        args.json.write_text(json.dumps(clean_json({"tables": report}), indent=2))
        console.say(f"wrote {args.json}")
    console.say(f"done in {time.time() - started:.1f}s")
    return 0
