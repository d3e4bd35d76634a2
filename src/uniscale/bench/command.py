"""``uniscale bench TABLE``: the replay benchmark from the command line."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..objective import Budget, Objective, Tradeoff
from . import console
from .env import DEFAULT_N_GRID
from .feedback import feedback_options
from .mabpeer import MAB_NAME, mabwiser_available
from .peers import PEER_NAME, paretobandit_available
from .policies import ALL_POLICIES, KNOWN_POLICIES, LEARNERS, RouterSettings
from .report import (
    BenchResult,
    Precision,
    fixed_points,
    run_bench,
    run_sweep,
    run_to_precision,
    tradeoff_points,
)
from .runner import Context
from .scenarios import SCENARIOS
from .sidecontext import check_context
from .table import Table, load_table
from .tuning import TUNE_GRID, tune_on_train

__all__ = ["bench_command", "check_scenario", "clean_json", "default_policies",
           "objective_text", "prepare", "stream_steps"]


def check_scenario(name: str | None) -> str:
    """The scenario name, checked before any work.

    Raises:
        ConfigurationError: For an unknown name.
    """
    if name is None or name == "static":
        return "static"
    if name not in SCENARIOS:
        raise ConfigurationError(f"unknown scenario {name!r}: choose one of "
                                 f"{', '.join(SCENARIOS)}")
    return name


def default_policies() -> tuple[str, ...]:
    """Every policy, without ``paretobandit`` when its package is not installed."""
    if paretobandit_available():
        return ALL_POLICIES
    return tuple(p for p in ALL_POLICIES if p != PEER_NAME)


def parse_policies(text: str | None) -> tuple[str, ...]:
    """The ``--policies`` list, checked.

    Raises:
        ConfigurationError: For an unknown name, or paretobandit without its package.
    """
    if not text:
        return default_policies()
    policies = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(set(policies) - set(KNOWN_POLICIES))
    if unknown:
        raise ConfigurationError(f"unknown policies {', '.join(unknown)}: choose from "
                                 f"{', '.join(KNOWN_POLICIES)}")
    if MAB_NAME in policies and not mabwiser_available():
        raise ConfigurationError("the mabwiser-linucb policy needs its package: "
                                 "pip install mabwiser")
    if PEER_NAME in policies and not paretobandit_available():
        raise ConfigurationError("the paretobandit policy needs its package: "
                                 "pip install 'uniscale[bench]'")
    return policies


def prepare(table: str | Path, *, data_dir: Path | None = None, aggregate: str | None = None,
            n_grid: Sequence[int] | None = None, limit: int | None = None,
            context: str | None = None) -> Context:
    """Load a table (a deterministic subset of ``limit`` prompts) and prepare it.

    ``aggregate`` overrides how the table says its samples combine; ``context``
    (``"task"``) passes each prompt's dataset as side features to every policy.

    Raises:
        ConfigurationError: For an unknown ``context`` field (before loading).
    """
    check_context(context)
    loaded: Table = load_table(table, data_dir)
    if limit is not None and limit < loaded.n_prompts:
        keep = np.sort(np.random.default_rng(0).permutation(loaded.n_prompts)[:limit])
        loaded = loaded.subset(keep)
    return Context(loaded, aggregate=aggregate or loaded.aggregate,
                   n_grid=n_grid or DEFAULT_N_GRID, context=context)


def stream_steps(ctx: Context, policies: Sequence[str], warm_start: bool) -> int:
    """Progress steps of one seed: every online learner over the stream."""
    online = sum(p in LEARNERS or p in (PEER_NAME, MAB_NAME) for p in policies)
    length = int(ctx.table.is_test.sum()) if warm_start else ctx.table.n_prompts
    return online * length


def objective_text(objective: Objective) -> str:
    """Short description of an objective."""
    if isinstance(objective, Tradeoff):
        return f"W = {objective.willingness_to_pay:.4g} USD"
    assert isinstance(objective, Budget)
    return f"budget {objective.per_request:.4g} USD/request"


def clean_json(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item"):
        return clean_json(value.item())
    return value


def _settings(args: argparse.Namespace) -> RouterSettings:
    base = RouterSettings()
    return RouterSettings(
        alpha=base.alpha if args.alpha is None else args.alpha,
        ridge=base.ridge if args.ridge is None else args.ridge,
        arm_ridge=base.arm_ridge if args.arm_ridge is None else args.arm_ridge,
        dim=base.dim if args.dim is None else args.dim,
    )


def _describe_tradeoff(tp: dict[str, Any]) -> str:
    breaks = ", ".join(f"{b:.3g}" for b in tp["breakpoints"])
    return (f"fixed arms' hull (train split) changes its best arm at W = {breaks} USD; "
            f"W between two of them makes an interior arm best")


def print_result(result: BenchResult, objective: Objective, title: str) -> None:
    """The summary table, the chosen fixed arms and (budget) each policy's budget error."""
    console.print_summary(title, result.policies, result.gap_closed, result.gap_closed_trained)
    console.say(f"best fixed arm chosen on the train split: {result.fixed_arm['train']}; "
                f"best on the test part in hindsight: {result.fixed_arm['test']}")
    if isinstance(objective, Budget):
        phases = result.phases or (result.policies,)
        for phase, summary in zip(result.scenario.phases, phases, strict=True):
            target = objective.per_request * phase.budget_scale
            if len(phases) > 1:
                console.say(f"from request {phase.start}: budget {target:.4g} USD")
            for name, s in summary.items():
                off = 100 * (s.cost / target - 1)
                console.say(f"  {name}: mean cost {s.cost:.4g} USD = budget {off:+.1f}%, "
                            f"quality {s.quality:.3f}")


def budget_errors(result: BenchResult, objective: Objective) -> dict[str, float]:
    """Mean cost over the stream relative to the budget, minus 1, per policy."""
    if not isinstance(objective, Budget):
        return {}
    return {k: v.cost / objective.per_request - 1 for k, v in result.policies.items()}


def _without_peer(policies: tuple[str, ...], asked: str | None) -> tuple[str, ...]:
    """The policies run under a feedback plan: ParetoBandit learns every score at once.

    Raises:
        ConfigurationError: When it was asked for by name.
    """
    peers = [p for p in (PEER_NAME, MAB_NAME) if p in policies]
    if asked and peers:
        raise ConfigurationError(f"{peers[0]} learns every score at once: drop it from "
                                 "--policies to use --feedback-delay/--feedback-rate/"
                                 "--label-noise/--implicit-reward")
    return tuple(p for p in policies if p not in (PEER_NAME, MAB_NAME))


def _context_note(ctx: Context, field: str) -> str:
    """What ``--context`` does on this table."""
    datasets = sorted(set(ctx.table.datasets))
    if ctx.side is None:
        return (f"--context {field}: the table has one dataset ({datasets[0]}), so there is "
                "nothing to pass: the run is the same as without --context")
    return (f"--context {field}: every policy is told each prompt's dataset "
            f"({len(datasets)} of them: {', '.join(datasets)}); the learners as "
            f"context={{'{field}': ...}}, the trained router and the peers as the same "
            "encoded side features")


SWEEP_SEEDS = 5
"""Seeds of each W of ``--sweep`` when ``--seeds`` is not given."""


def _run_to_precision(ctx: Context, objective: Objective, precision: Precision,
                      args: argparse.Namespace, policies: Sequence[str], settings: Any,
                      scenario: str, per_seed: int, feedback: Any) -> BenchResult:
    """The main run with seeds added until the target interval (progress per batch)."""
    stack = ExitStack()
    bar = {"advance": stack.enter_context(console.progress_bar(
        per_seed * precision.min_seeds, "replaying", enabled=not args.quiet))}

    def more(result: BenchResult, extra: int) -> None:
        half = result.policies[precision.policy].ci95.half_width \
            if precision.policy in result.policies else float("nan")
        console.say(f"{precision.policy}: ± {half:.4f} after {len(result.seeds)} seeds, "
                    f"target ± {precision.half_width:g}: adding {extra} seed(s)")
        stack.close()
        bar["advance"] = stack.enter_context(console.progress_bar(
            per_seed * extra, "replaying more seeds", enabled=not args.quiet))

    with stack:
        result = run_to_precision(ctx, objective, precision, first_seed=args.seed_base,
                                  policies=policies, settings=settings, scenario=scenario,
                                  progress=lambda k: bar["advance"](k),
                                  warm_start=args.warm_start, feedback=feedback,
                                  on_batch=more)
    info = result.precision or {}
    console.say(f"{info.get('policy')}: 95% interval ± {info.get('half_width', 0):.4f} with "
                f"{len(result.seeds)} seeds (target ± {precision.half_width:g}"
                + ("" if info.get("reached") else f", not reached within "
                   f"--max-seeds {precision.max_seeds}") + ")")
    return result


def bench_command(args: argparse.Namespace) -> int:
    """Run ``uniscale bench`` (arguments from :func:`uniscale.cli.main`'s parser)."""
    started = time.time()
    scenario = check_scenario(args.scenario)
    policies = parse_policies(args.policies)
    if args.seeds is not None and args.seeds < 1:
        raise ConfigurationError(f"--seeds must be at least 1, got {args.seeds}")
    precision = None
    if args.seeds is None:
        precision = Precision(half_width=args.ci, max_seeds=args.max_seeds)
    if args.warm_start and scenario != "static":
        raise ConfigurationError(f"--warm-start runs the static benchmark only; drop "
                                 f"--scenario {scenario} or --warm-start")
    feedback = feedback_options(getattr(args, "feedback_delay", None),
                                getattr(args, "feedback_rate", None),
                                getattr(args, "label_noise", None),
                                getattr(args, "implicit_reward", None))
    if feedback is not None:
        policies = _without_peer(policies, args.policies)
    context = check_context(getattr(args, "context", None))
    ctx = prepare(args.table, data_dir=args.data_dir, aggregate=args.aggregate,
                  n_grid=args.n_grid, limit=args.limit, context=context)
    seeds = list(range(args.seed_base, args.seed_base + (args.seeds or SWEEP_SEEDS)))
    settings: Any = _settings(args)
    tp = tradeoff_points(ctx)
    t = ctx.table
    console.say(f"table {t.name}: {t.n_prompts} prompts ({int(t.is_test.sum())} test), "
                f"{len(t.pairs)} (model, strategy) pairs, {ctx.env.n_arms} arms, samples "
                f"combine by {'best score' if ctx.env.aggregate == 'best' else 'vote'}")
    for note in t.notes:
        console.say(f"note: {note}")
    if args.budget is not None:
        objective: Objective = Budget(per_request=args.budget)
    else:
        wtp = args.wtp if args.wtp is not None else tp["suggested"]
        objective = Tradeoff(willingness_to_pay=wtp)
    how = "" if args.budget is not None or args.wtp is not None \
        else " (auto: " + _describe_tradeoff(tp) + ")"
    console.say(f"objective: {objective_text(objective)}{how}")
    console.say("warm start: every learner first learns the train split run through every "
                "arm, then runs online on the test part" if args.warm_start else
                "cold start: the learners run online over train then test; figures are "
                "the test part's")
    if feedback is not None:
        console.say(f"feedback to the online learners: {feedback.label}")
    if context is not None:
        console.say(_context_note(ctx, context))
    tuned = None
    if args.tune:
        learners = sum(p in LEARNERS for p in policies)
        steps = learners * int((~t.is_test).sum()) * len(TUNE_GRID) * 2  # 2 tuning seeds
        with console.progress_bar(steps, "tuning on the train split",
                                  enabled=not args.quiet) as advance:
            tuned = tune_on_train(ctx, objective, policies=policies, progress=advance)
        settings = tuned["chosen"]
        for name, chosen in settings.items():
            console.say(f"tuned on the train split: {name}: alpha={chosen.alpha}, "
                        f"hybrid={chosen.hybrid}")
    sweep_wtp = args.sweep_wtp or tp["sweep"]
    per_seed = stream_steps(ctx, policies, args.warm_start)
    if precision is None:
        with console.progress_bar(per_seed * len(seeds), "replaying",
                                  enabled=not args.quiet) as advance:
            result = run_bench(ctx, objective, seeds, policies=policies, settings=settings,
                               scenario=scenario, progress=advance,
                               warm_start=args.warm_start, feedback=feedback)
    else:
        result = _run_to_precision(ctx, objective, precision, args, policies, settings,
                                   scenario, per_seed, feedback)
    sweep = None
    if args.sweep:
        with console.progress_bar(per_seed * len(seeds) * len(sweep_wtp), "sweeping",
                                  enabled=not args.quiet) as advance:
            sweep = run_sweep(ctx, sweep_wtp, seeds, policies=policies, settings=settings,
                              progress=advance, warm_start=args.warm_start,
                              feedback=feedback)
    out: dict[str, Any] = result.to_json()
    out["tradeoff"] = tp
    out["fixed_arms"] = fixed_points(ctx, "test")
    out["aggregate"] = ctx.env.aggregate
    out["notes"] = list(t.notes)
    out["context"] = {"field": context, "used": ctx.side is not None}
    if feedback is not None:
        out["feedback"] = {"delay": feedback.plan.delay, "rate": feedback.plan.rate,
                           "label_noise": feedback.plan.flip, "implicit": feedback.implicit}
    out["settings"] = ({k: v.__dict__ for k, v in settings.items()}
                       if isinstance(settings, dict) else settings.__dict__)
    errors = budget_errors(result, objective)
    for name, err in errors.items():
        out["policies"][name]["budget_error"] = err
    if tuned is not None:
        out["tuning"] = tuned["scores"]
    start = "warm start" if args.warm_start else "cold start"
    print_result(result, objective, f"{t.name} — {objective_text(objective)}, "
                 f"{len(result.seeds)} "
                 f"seeds, {start}" + (f", scenario {scenario}" if scenario != "static" else ""))
    if result.phases:
        for phase, summary in zip(result.scenario.phases, result.phases, strict=True):
            console.print_summary(f"phase from request {phase.start}: {phase.label}",
                                  summary, {})
        console.print_adaptation(f"adaptation ({result.scenario.tracked})",
                                 result.adaptation)
    if sweep is not None:
        console.print_frontier(f"{t.name} — frontier across willingness to pay", sweep)
        out["sweep"] = {k: v for k, v in sweep.items() if k != "results"}
    if args.plot is not None:
        from .figures import plot_result

        plot_result(args.plot, ctx, result, sweep)
        console.say(f"wrote {args.plot}")
    if args.json is not None:
        args.json.write_text(json.dumps(clean_json(out), indent=2))
        console.say(f"wrote {args.json}")
    console.say(f"done in {time.time() - started:.1f}s")
    return 0
