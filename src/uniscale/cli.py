"""The ``uniscale`` command: ``uniscale bench TABLE ...`` and ``uniscale demo``."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

DEMO_TABLES = ("gsm8k_verifier", "faithful_cot")


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uniscale", description="UniScale: replay benchmark and offline demo.")
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="replay a recorded-outcome table through the policies")
    bench.add_argument("table", help="a .jsonl.gz table, or a bare name (date_mot, ...)")
    goal = bench.add_mutually_exclusive_group()
    goal.add_argument("--wtp", type=float, help="willingness to pay, USD per unit of quality "
                      "(default: a value where the fixed arms' trade-off is real)")
    goal.add_argument("--budget", type=float, help="mean USD per request to track")
    bench.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    bench.add_argument("--seed-base", type=int, default=0, help="first seed (default 0)")
    bench.add_argument("--policies", default=None,
                       help="comma-separated policies (default: all six)")
    bench.add_argument("--sweep", action="store_true",
                       help="run a range of willingness-to-pay values (the frontier)")
    bench.add_argument("--sweep-wtp", type=_floats, default=None,
                       help="comma-separated W values for --sweep (default: from the table)")
    bench.add_argument("--scenario", default=None,
                       help="budget-shift, price-change, model-added or drift")
    bench.add_argument("--json", type=Path, default=None, help="write every figure here")
    bench.add_argument("--plot", type=Path, default=None, help="write the figure here (PNG)")
    bench.add_argument("--data-dir", type=Path, default=None,
                       help="folder searched first for a bare table name")
    bench.add_argument("--aggregate", choices=("vote", "best"), default="vote",
                       help="how n samples combine: majority vote, or best score (verifier)")
    bench.add_argument("--n-grid", type=_ints, default=None,
                       help="candidate sample counts, e.g. 1,3,5,10,20,40")
    bench.add_argument("--alpha", type=float, default=None, help="LinUCB exploration width")
    bench.add_argument("--ridge", type=float, default=None, help="LinUCB ridge prior")
    bench.add_argument("--arm-ridge", type=float, default=None,
                       help="prior precision of each arm's own part (default: --ridge)")
    bench.add_argument("--dim", type=int, default=None, help="hashing featurizer width")
    bench.add_argument("--tune", action="store_true",
                       help="pick each learner's alpha/hybrid on a train-split-only stream")
    bench.add_argument("--limit", type=int, default=None,
                       help="use only this many prompts (a deterministic subset)")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")

    demo = sub.add_parser("demo", help="offline demo on the tables shipped in the package")
    demo.add_argument("--out", type=Path, default=Path("uniscale-demo.png"),
                      help="frontier plot to write (default ./uniscale-demo.png)")
    demo.add_argument("--json", type=Path, default=None, help="write every figure here")
    demo.add_argument("--seeds", type=int, default=3, help="seeds of the main table")
    demo.add_argument("--small", action="store_true", help="a quick, smaller run")
    demo.add_argument("--limit", type=int, default=None,
                      help="use only this many prompts per table")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    from .logcli import add_log_commands

    add_log_commands(sub)
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from .bench.policies import RouterSettings

    base = RouterSettings()
    return RouterSettings(
        alpha=base.alpha if args.alpha is None else args.alpha,
        ridge=base.ridge if args.ridge is None else args.ridge,
        arm_ridge=base.arm_ridge if args.arm_ridge is None else args.arm_ridge,
        dim=base.dim if args.dim is None else args.dim,
    )


def _context(table_name: str, *, data_dir: Path | None = None, aggregate: str = "vote",
             n_grid: Sequence[int] | None = None, limit: int | None = None) -> Any:
    import numpy as np

    from .bench.env import DEFAULT_N_GRID
    from .bench.runner import Context
    from .bench.table import load_table

    table = load_table(table_name, data_dir)
    if limit is not None and limit < table.n_prompts:
        keep = np.sort(np.random.default_rng(0).permutation(table.n_prompts)[:limit])
        table = table.subset(keep)
    return Context(table, aggregate=aggregate, n_grid=n_grid or DEFAULT_N_GRID)


def _describe_tradeoff(tp: dict[str, Any]) -> str:
    breaks = ", ".join(f"{b:.3g}" for b in tp["breakpoints"])
    return (f"fixed arms' hull (train split) changes its best arm at W = {breaks} USD; "
            f"W between two of them makes an interior arm best")


def _single_sweep(result: Any, ctx: Any) -> dict[str, Any]:
    """A one-point "sweep" (for --plot without --sweep)."""
    import numpy as np

    from .bench.metrics import convex_hull
    from .bench.report import fixed_points

    fixed = fixed_points(ctx, "test")
    hull = convex_hull(np.array([[p["cost"], p["quality"]] for p in fixed]))
    return {"fixed_arms": fixed, "hull": hull.tolist(),
            "frontier": {k: [{"cost": v.test_cost, "quality": v.test_quality}]
                         for k, v in result.policies.items()}}


def _bench(args: argparse.Namespace) -> int:
    from . import Budget, Tradeoff
    from .bench import console
    from .bench.policies import ALL_POLICIES, LEARNERS
    from .bench.report import (
        fixed_points,
        run_bench,
        run_sweep,
        tradeoff_points,
        tune_on_train,
    )

    started = time.time()
    ctx = _context(args.table, data_dir=args.data_dir, aggregate=args.aggregate,
                   n_grid=args.n_grid, limit=args.limit)
    policies = tuple(args.policies.split(",")) if args.policies else ALL_POLICIES
    unknown = set(policies) - set(ALL_POLICIES)
    if unknown:
        raise SystemExit(f"unknown policies {sorted(unknown)}; known: {', '.join(ALL_POLICIES)}")
    seeds = list(range(args.seed_base, args.seed_base + args.seeds))
    settings: Any = _settings(args)
    tp = tradeoff_points(ctx)
    t = ctx.table
    console.say(f"table {t.name}: {t.n_prompts} prompts ({int(t.is_test.sum())} test), "
                f"{len(t.pairs)} (model, strategy) pairs, {ctx.env.n_arms} arms")
    if args.budget is not None:
        objective: Any = Budget(per_request=args.budget)
        console.say(f"objective: budget {args.budget:.3g} USD per request")
    else:
        wtp = args.wtp if args.wtp is not None else tp["suggested"]
        objective = Tradeoff(willingness_to_pay=wtp)
        how = "given" if args.wtp is not None else "auto: " + _describe_tradeoff(tp)
        console.say(f"objective: willingness to pay W = {wtp:.4g} USD ({how})")
    learners = sum(p in LEARNERS for p in policies)
    tuned = None
    if args.tune:
        with console.progress_bar(0, "tuning", enabled=False) as advance:
            tuned = tune_on_train(ctx, objective, policies=policies, progress=advance)
        settings = tuned["chosen"]
        for name, chosen in settings.items():
            console.say(f"tuned on the train split: {name}: alpha={chosen.alpha}, "
                        f"hybrid={chosen.hybrid}")
    scenario = args.scenario or "static"
    out: dict[str, Any] = {}
    sweep = None
    total = learners * t.n_prompts * len(seeds)
    if args.sweep:
        total *= 1 + len(args.sweep_wtp or tp["sweep"])
    with console.progress_bar(total, "replaying", enabled=not args.quiet) as advance:
        result = run_bench(ctx, objective, seeds, policies=policies, settings=settings,
                           scenario=scenario, progress=advance)
        if args.sweep:
            sweep = run_sweep(ctx, args.sweep_wtp or tp["sweep"], seeds, policies=policies,
                              settings=settings, progress=advance)
    out = result.to_json()
    out["tradeoff"] = tp
    out["fixed_arms"] = fixed_points(ctx, "test")
    out["settings"] = ({k: v.__dict__ for k, v in settings.items()}
                       if isinstance(settings, dict) else settings.__dict__)
    if tuned is not None:
        out["tuning"] = tuned["scores"]
    console.print_summary(f"{t.name} — {_objective_text(objective)}, {len(seeds)} seeds"
                          + (f", scenario {scenario}" if scenario != "static" else ""),
                          result.policies, result.gap_closed)
    console.say(f"best fixed arm: {result.fixed_arm['all']} (whole stream), "
                f"{result.fixed_arm['test']} (test part)")
    if isinstance(objective, Budget):
        phases = result.phases or (result.policies,)
        for phase, summary in zip(result.scenario.phases, phases, strict=True):
            target = objective.per_request * phase.budget_scale
            if len(phases) > 1:
                console.say(f"from request {phase.start}: budget {target:.4g} USD")
            for name in policies:
                s = summary[name]
                off = 100 * (s.cost / target - 1)
                console.say(f"  {name}: mean cost {s.cost:.4g} USD = budget {off:+.1f}%, "
                            f"quality {s.quality:.3f}")
    if result.phases:
        for phase, summary in zip(result.scenario.phases, result.phases, strict=True):
            console.print_summary(f"phase from request {phase.start}: {phase.label}",
                                  summary, {})
        console.print_adaptation(f"adaptation ({result.scenario.tracked})",
                                 result.adaptation)
    if sweep is not None:
        console.print_frontier(f"{t.name} — frontier across willingness to pay", sweep)
        out["sweep"] = {k: v for k, v in sweep.items() if k != "runs"}
        out["sweep"]["runs"] = sweep["runs"]
    if args.plot is not None:
        _plot(args.plot, ctx, result, sweep)
        console.say(f"wrote {args.plot}")
    if args.json is not None:
        args.json.write_text(json.dumps(_clean(out), indent=2))
        console.say(f"wrote {args.json}")
    console.say(f"done in {time.time() - started:.1f}s")
    return 0


def _plot(path: Path, ctx: Any, result: Any, sweep: dict[str, Any] | None) -> None:
    import numpy as np

    from .bench.plot import plot_frontiers, plot_timeline

    name = ctx.table.name
    if result.phases:
        tracked = result.scenario.tracked
        series = {}
        for policy in ("uniscale", "routing-only", "tts-only", "oracle", "best-fixed"):
            if policy not in result.runs[0].traces:
                continue
            per_seed = []
            for run in result.runs:
                tr = run.traces[policy]
                if tracked.startswith("share:") and policy in ("oracle", "best-fixed"):
                    continue
                if tracked == "cost":
                    per_seed.append(tr.cost)
                elif tracked.startswith("share:"):
                    model = tracked.split(":", 1)[1]
                    per_seed.append((ctx.env.arm_model[tr.arm] == model).astype(float))
                else:
                    per_seed.append(tr.quality - run.lam * tr.cost)
            if per_seed:
                series[policy] = np.mean(per_seed, axis=0)
        plot_timeline(series, [p.start for p in result.scenario.phases],
                      [p.label for p in result.scenario.phases], path, ylabel=tracked,
                      title=f"{name}: scenario {result.scenario.name}")
        return
    plot_frontiers([(name, sweep if sweep is not None else _single_sweep(result, ctx))], path)


def _objective_text(objective: Any) -> str:
    from . import Tradeoff

    if isinstance(objective, Tradeoff):
        return f"W = {objective.willingness_to_pay:.4g} USD"
    return f"budget {objective.per_request:.4g} USD/request"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _demo(args: argparse.Namespace) -> int:
    from . import Tradeoff
    from .bench import console
    from .bench.plot import plot_frontiers
    from .bench.policies import ALL_POLICIES
    from .bench.report import run_bench, run_sweep, tradeoff_points, tune_on_train

    started = time.time()
    shipped = Path(__file__).resolve().parent / "data"
    seeds = list(range(1 if args.small else args.seeds))
    limit = args.limit if args.limit is not None else (300 if args.small else None)
    sweeps = []
    report: dict[str, Any] = {}
    for name in DEMO_TABLES:
        ctx = _context(str(shipped / f"{name}.jsonl.gz"), limit=limit)
        tp = tradeoff_points(ctx)
        wtp = tp["suggested"]
        grid = tp["sweep"][1:-1:2] if args.small else tp["sweep"][1:-1:1][:4]
        t = ctx.table
        console.say(f"\n{name}: {t.n_prompts} prompts, {len(t.models)} models, "
                    f"{ctx.env.n_arms} arms; W = {wtp:.4g} USD per unit of quality")
        total = 3 * t.n_prompts * (len(seeds) + len(grid))
        with console.progress_bar(total, f"replaying {name}", enabled=not args.quiet) as adv:
            tuned = tune_on_train(ctx, Tradeoff(wtp), seeds=(1000,))["chosen"]
            result = run_bench(ctx, Tradeoff(wtp), seeds, policies=ALL_POLICIES,
                               settings=tuned, progress=adv)
            sweep = run_sweep(ctx, grid, seeds[:1], settings=tuned, progress=adv)
        console.say("learner settings picked on the train split: " + ", ".join(
            f"{k} alpha={v.alpha} hybrid={v.hybrid}" for k, v in tuned.items()))
        console.print_summary(f"{name} — W = {wtp:.4g} USD, {len(seeds)} seed(s)",
                              result.policies, result.gap_closed)
        sweeps.append((f"{name} (frontier over W, test part)", sweep))
        report[name] = {**result.to_json(), "tradeoff": tp,
                        "sweep": {k: v for k, v in sweep.items() if k != "runs"}}
    plot_frontiers(sweeps, args.out)
    console.say(f"\nwrote {args.out}")
    if args.json is not None:
        args.json.write_text(json.dumps(_clean(report), indent=2))
        console.say(f"wrote {args.json}")
    console.say(f"done in {time.time() - started:.1f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``uniscale`` command.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    from .errors import UniScaleError
    from .logcli import LOG_COMMANDS, run_log_command

    args = _parser().parse_args(argv)
    try:
        if args.command == "bench":
            return _bench(args)
        if args.command in LOG_COMMANDS:
            return run_log_command(args)
        return _demo(args)
    except (FileNotFoundError, UniScaleError) as exc:
        print(f"uniscale: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
