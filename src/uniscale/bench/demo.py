"""``uniscale demo``: the benchmark on the tables shipped in the package, offline.

Every learner and peer is warm-started on the train split (an eval set through every
arm) and then runs online on the test part, at the willingness to pay W suggested by the
train split's fixed-arm hull (every policy, several seeds) and at the other W values of
the frontier (fewer seeds, no ParetoBandit); one table also runs under a budget. Nothing
here looks at the test part to choose anything: W and the budget come from the train
split (:func:`demo_choice`), and the tables, their seed counts and the shipped subset
were fixed by the time the run takes (under 150 s on a 2-core machine), not by its
figures.

Each (run, seed) pair is an independent job (its stream, replayed draws and routers
are seeded by the seed alone), so the jobs are spread over :data:`WORKERS` processes;
the figures are the same as one process running them in order.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ..objective import Budget, Objective, Tradeoff
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
from .report import Bench, BenchResult, frontier, tradeoff_points
from .runner import Context, SeedRun

__all__ = ["BUDGET_POLICIES", "DEMO_TABLES", "SWEEP_POLICIES", "WORKERS", "DemoChoice",
           "DemoTable", "Job", "demo_choice", "demo_command", "run_jobs"]

WORKERS = 2
"""Processes the demo's jobs are spread over (at most the machine's cores)."""


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
    DemoTable("faithful_cot", 6, 1, "model x prompting strategy", budget=2, sweep_step=3),
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


@dataclass(frozen=True)
class Job:
    """One seed of one benchmark run on a shipped table: the unit of work of the demo.

    Attributes:
        path: The table's file.
        limit: The prompt subset (see :func:`~uniscale.bench.command.prepare`).
        objective: The run's objective.
        policies: The run's policies.
        seed: The seed.
        steps: Online learner steps (the progress bar's unit).
    """

    path: Path
    limit: int | None
    objective: Objective
    policies: tuple[str, ...]
    seed: int
    steps: int


def _bench(ctx: Context, objective: Objective, policies: Sequence[str]) -> Bench:
    """The warm-started static benchmark of ``uniscale bench --warm-start``."""
    return Bench(ctx, objective, policies, None, "static", None, True)


def _run(ctx: Context, job: Job) -> tuple[SeedRun, float]:
    started = time.process_time()
    run = _bench(ctx, job.objective, job.policies).seed(job.seed)
    return run, time.process_time() - started


_WORKER_CONTEXTS: dict[tuple[Path, int | None], Context] = {}


def _worker(job: Job) -> tuple[SeedRun, float]:
    """A job in a worker process (each table is prepared once per process)."""
    started = time.process_time()
    key = (job.path, job.limit)
    if key not in _WORKER_CONTEXTS:
        _WORKER_CONTEXTS[key] = prepare(job.path, limit=job.limit)
    run, _ = _run(_WORKER_CONTEXTS[key], job)
    return run, time.process_time() - started


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Workers started here run one BLAS thread each (unless the caller chose)."""
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    unset = [n for n in names if n not in os.environ]
    os.environ.update({n: "1" for n in unset})
    try:
        yield
    finally:
        for n in unset:
            os.environ.pop(n, None)


def _pool(workers: int) -> ProcessPoolExecutor | None:
    """Worker processes, or None where this platform cannot start them."""
    try:
        return ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    except (ImportError, NotImplementedError, OSError):  # e.g. no POSIX semaphores
        return None


def run_jobs(jobs: Sequence[Job], contexts: dict[Path, Context], workers: int,
             advance: Callable[[int], None]) -> tuple[list[SeedRun], float]:
    """Every job's seed run, in the order of ``jobs``, and the CPU seconds of the workers.

    The CPU seconds are those spent in worker processes (0 when the jobs ran here,
    where this process's own clock already counts them).

    Args:
        jobs: The jobs.
        contexts: Prepared tables by path, for jobs run in this process (a table not
            there is prepared).
        workers: Processes to spread the jobs over (1: this process, in order; also
            where worker processes cannot be started).
        advance: Called with a job's steps when it is done.
    """
    pool = _pool(min(workers, len(jobs))) if workers > 1 and len(jobs) > 1 else None
    if pool is None:
        here: list[SeedRun] = []
        for job in jobs:
            if job.path not in contexts:
                contexts[job.path] = prepare(job.path, limit=job.limit)
            here.append(_run(contexts[job.path], job)[0])
            advance(job.steps)
        return here, 0.0
    done: list[tuple[SeedRun, float] | None] = [None] * len(jobs)
    longest_first = sorted(range(len(jobs)), key=lambda i: -jobs[i].steps)
    with _one_blas_thread(), pool:
        futures = {pool.submit(_worker, jobs[i]): i for i in longest_first}
        for future in as_completed(futures):
            i = futures[future]
            done[i] = future.result()
            advance(jobs[i].steps)
    runs = [d for d in done if d is not None]
    return [r for r, _ in runs], sum(c for _, c in runs)


@dataclass(frozen=True)
class _Run:
    """One benchmark run of a table: its objective, policies and seeds."""

    objective: Objective
    policies: tuple[str, ...]
    seeds: tuple[int, ...]


def _scaled(count: int, args: argparse.Namespace) -> int:
    return 1 if args.small else max(1, round(count * args.seeds / 3))


def _available(policies: tuple[str, ...]) -> tuple[str, ...]:
    known = default_policies()
    return tuple(p for p in policies if p in known)


def _plan(spec: DemoTable, ctx: Context, choice: DemoChoice, args: argparse.Namespace
          ) -> list[_Run]:
    """The table's runs: the suggested W, the other W values, then the budget."""
    seeds = tuple(range(_scaled(spec.seeds, args)))
    sweep_seeds = tuple(range(_scaled(spec.sweep_seeds, args)))
    runs = [_Run(Tradeoff(choice.wtp), default_policies(), seeds)]
    runs += [_Run(Tradeoff(w), _available(SWEEP_POLICIES), sweep_seeds)
             for w in choice.others]
    if spec.budget:
        runs.append(_Run(Budget(per_request=choice.budget), _available(BUDGET_POLICIES),
                         tuple(range(_scaled(spec.budget, args)))))
    return runs


def _report(spec: DemoTable, ctx: Context, choice: DemoChoice,
            results: list[BenchResult]) -> tuple[dict[str, Any], dict[str, Any],
                                                  dict[str, Any] | None]:
    """Print a table's figures; its JSON entry, frontier and Budget panel (or None)."""
    tp, wtp = choice.tradeoff, choice.wtp
    budget = results.pop() if isinstance(results[-1].objective, Budget) else None
    main = results[0]
    sweep_seeds = len(results[1].seeds) if len(results) > 1 else len(main.seeds)
    t = ctx.table
    console.say(f"\n{spec.name} ({spec.axes}): {t.n_prompts} prompts "
                f"({int(t.is_test.sum())} test), {len(t.models)} model(s), "
                f"{ctx.env.n_arms} arms; W = {wtp:.4g} USD per unit of quality")
    results.sort(key=lambda r: getattr(r.objective, "willingness_to_pay", 0.0))
    sweep = frontier(ctx, results, default_policies())
    print_result(main, main.objective, f"{spec.name} — W = {wtp:.4g} USD, "
                 f"{len(main.seeds)} seed(s), warm start")
    console.print_frontier(f"{spec.name} — test part at every W of the plot "
                           f"({sweep_seeds} seed(s) away from W = {wtp:.4g})", sweep)
    entry: dict[str, Any] = {**main.to_json(), "axes": spec.axes, "tradeoff": tp,
                             "sweep": {k: v for k, v in sweep.items() if k != "results"}}
    panel = None
    if budget is not None:
        target = choice.budget
        print_result(budget, budget.objective,
                     f"{spec.name} — budget {target:.4g} USD/request, warm start")
        entry["budget"] = {"target": target, **budget.to_json(),
                           "budget_error": budget_errors(budget, budget.objective)}
        panel = {
            "title": f"Budget: {spec.name}, target {target:.3g} USD/request",
            "target": target,
            "series": {name: np.mean([r.traces[name].cost for r in budget.runs], axis=0)
                       for name in ("uniscale", "paretobandit", "trained-router")
                       if name in budget.runs[0].traces},
        }
    return entry, sweep, panel


def demo_command(args: argparse.Namespace) -> int:
    """Run ``uniscale demo`` (arguments from :func:`uniscale.cli.main`'s parser)."""
    started, cpu = time.time(), time.process_time()
    shipped = Path(__file__).resolve().parent.parent / "data"
    tables = []
    jobs: list[Job] = []
    contexts: dict[Path, Context] = {}
    for spec in DEMO_TABLES:
        path = shipped / f"{spec.name}.jsonl.gz"
        ctx = contexts[path] = prepare(path, limit=args.limit)
        choice = demo_choice(ctx, sweep_step=spec.sweep_step, small=args.small)
        runs = _plan(spec, ctx, choice, args)
        tables.append((spec, ctx, choice, runs, len(jobs)))
        jobs += [Job(path, args.limit, run.objective, run.policies, seed,
                     stream_steps(ctx, run.policies, True))
                 for run in runs for seed in run.seeds]
    workers = 1 if args.small else min(WORKERS, os.cpu_count() or 1)
    with console.progress_bar(sum(j.steps for j in jobs),
                              f"replaying {len(DEMO_TABLES)} tables",
                              enabled=not args.quiet) as advance:
        seed_runs, job_cpu = run_jobs(jobs, contexts, workers, advance)
    sweeps = []
    report: list[dict[str, Any]] = []
    budget_panel: dict[str, Any] | None = None
    for spec, ctx, choice, runs, first in tables:
        results = []
        for run in runs:
            done, first = seed_runs[first:first + len(run.seeds)], first + len(run.seeds)
            results.append(_bench(ctx, run.objective, run.policies).result(done))
        entry, sweep, panel = _report(spec, ctx, choice, results)
        sweeps.append((f"{spec.name}: test part, every W", sweep))
        report.append(entry)
        budget_panel = panel or budget_panel
    plot_frontiers(sweeps, args.out, budget=budget_panel)
    console.say(f"\nwrote {args.out}")
    if args.json is not None:
        args.json.write_text(json.dumps(clean_json({"tables": report}), indent=2))
        console.say(f"wrote {args.json}")
    used = time.process_time() - cpu + job_cpu
    console.say(f"done in {time.time() - started:.1f}s ({used:.1f}s of CPU"
                f"{f' in {workers} processes' if job_cpu else ''})")
    return 0
