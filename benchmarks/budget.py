"""How exactly ``Budget(per_request=B)`` is met, and at what quality.

Run: python benchmarks/budget.py [--seeds N] [--steps N] [--tables date_mot,...] [--cold] [--dev]

On both synthetic workloads (``uniscale.testing.synthetic`` and ``.topics``, cold start,
``--steps`` requests) and on replay tables of ``../shared/data`` (``--tables``; warm start
unless ``--cold``), it prints for each: the budget B, the mean spend of ``uniscale`` and
its error against B, its quality, and the quality of the best fixed arm whose cost fits B
(chosen on the train split for a replay table; on expected values for a synthetic one).
On a replay table "error" is scored by the expected cost of each chosen arm on its
prompt (as every bench figure is), "paid" by the replayed draws the router was charged
(what its pacer controls and a user pays), and "vs affordable" is the router's quality
minus the best affordable fixed arm's on the same streams (mean ± 95% interval over the
seeds; "tie" when the interval covers 0); "vs mixture" the same against the best fixed
policy within the budget, the train hull's two arms at B mixed in the share that spends
B on the train split (:func:`mixture`, scored on the same streams).
A replay table's B lies between the cheapest and the dearest arm of its train split's
quality-cost hull (their geometric mean, as in ``uniscale demo``); ParetoBandit runs
beside ``uniscale`` on the tables where it applies (paretobandit, routerbench). Every
figure is the stream's mean over the seeds; nothing is tuned here. ``--dev`` replays a
table's train split alone (a seeded third of it as the stream, the rest as the eval set):
settings are chosen on that, never on a test split.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

import uniscale as us
from uniscale.testing.synthetic import SyntheticWorkload, run_online
from uniscale.testing.topics import TopicWorkload

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PEER_TABLES = ("paretobandit", "routerbench")
LIMITS = {"faithful_cot": 2000}  # the full table has 10037 prompts x 112 pairs


def _row(name: str, budget: float, spend: float, quality: float, fixed: float,
         peer: tuple[float, float] | None = None, paid: float | None = None,
         ahead: tuple[float, float] | None = None,
         mixed: tuple[float, float] | None = None) -> str:
    text = (f"{name:<22} {budget:10.4g} {spend:10.4g} {100 * (spend / budget - 1):+7.2f}% "
            f"{quality:8.3f} {fixed:9.3f}")
    if paid is not None:
        text += f"  paid {100 * (paid / budget - 1):+6.2f}%"
    if ahead is not None:
        verdict = "tie" if abs(ahead[0]) <= ahead[1] else ("ahead" if ahead[0] > 0 else "behind")
        text += f"  vs affordable {ahead[0]:+.3f} ± {ahead[1]:.3f} ({verdict})"
    if mixed is not None:
        verdict = "tie" if abs(mixed[0]) <= mixed[1] else ("ahead" if mixed[0] > 0 else "behind")
        text += f"  vs mixture {mixed[0]:+.3f} ± {mixed[1]:.3f} ({verdict})"
    if peer is not None:
        text += f"   paretobandit {peer[1]:.3f} at {100 * (peer[0] / budget - 1):+.2f}%"
    return text


def synthetic(seeds: int, steps: int, budget: float) -> str:
    """``uniscale`` under a budget on :class:`SyntheticWorkload` (cold start)."""
    spend, quality, fixed = [], [], []
    for seed in range(seeds):
        workload = SyntheticWorkload(rng=np.random.default_rng(100 + seed))
        arms = workload.arms()
        router = us.Router(arms, workload.prices, us.Budget(per_request=budget),
                           workload.backends(), seed=seed)
        trace = run_online(workload, router, steps, 1.0)
        spend.append(float(np.mean(trace.cost)))
        quality.append(float(np.mean(trace.quality)))
        fixed.append(max(np.mean([workload.expected_quality(c, a) for c in workload.categories])
                         for a in arms if workload.expected_cost(a, 20) <= budget))
    return _row("synthetic (cold)", budget, float(np.mean(spend)), float(np.mean(quality)),
                float(np.mean(fixed)))


def topics(seeds: int, steps: int) -> str:
    """``uniscale`` under a budget on :class:`TopicWorkload` (cold start)."""
    spend, quality, fixed, budgets = [], [], [], []
    for seed in range(seeds):
        workload = TopicWorkload(seed=seed)
        arms = list(workload.arms())
        tokens = 4  # ~ a prompt of ten short words
        cost = np.array([[workload.expected_cost(t, a, tokens) for a in arms]
                         for t in workload.topics]).mean(0)
        budget = float(np.sqrt(cost.min() * cost.max()))
        quality_of = {(t.name, a.key): workload.expected_quality(t, a)
                      for t in workload.topics for a in arms}
        router = us.Router(workload.arms(), workload.prices, us.Budget(per_request=budget),
                           workload.backends(), seed=seed)
        got_cost, got_quality = [], []
        for _ in range(steps):
            prompt, topic = workload.prompt()
            result = router.invoke(prompt)
            router.feedback(result.decision.id, workload.score(result.text))
            got_cost.append(result.cost)
            got_quality.append(quality_of[(topic.name, result.decision.arm.key)])
        spend.append(float(np.mean(got_cost)) / budget)
        quality.append(float(np.mean(got_quality)))
        affordable = [i for i in range(len(arms)) if cost[i] <= budget]
        fixed.append(max(np.mean([quality_of[(t.name, arms[i].key)] for t in workload.topics])
                         for i in affordable))
        budgets.append(budget)
    budget = float(np.mean(budgets))
    return _row("topics (cold)", budget, float(np.mean(spend)) * budget,
                float(np.mean(quality)), float(np.mean(fixed)))


def development(ctx: Any) -> Any:
    """The table's train split alone, a seeded third of it playing the test split.

    Settings are chosen on this (``--dev``), never on a table's test split.
    """
    from dataclasses import replace

    from uniscale.bench.runner import Context

    table = ctx.table.subset(~ctx.table.is_test)
    held = np.random.default_rng(0).permutation(table.n_prompts) < table.n_prompts // 3
    return Context(replace(table, is_test=held), aggregate=table.aggregate,
                   n_grid=ctx.n_grid)


def mixture(ctx: Any, budget: float) -> tuple[int, int, float]:
    """The best fixed mixture of two arms whose mean cost fits ``budget``, on the train split.

    The two ends of the train hull's segment at the budget, ``(cheaper, dearer, share)``,
    the dearer arm serving a ``share`` of the requests so that the mixture's mean train
    cost is the budget (one arm, ``share`` 0, when the budget lies outside the hull).
    Only arms that serve every prompt are mixed.
    """
    from uniscale.bench.metrics import convex_hull
    from uniscale.bench.report import fixed_points

    points = [p for p in fixed_points(ctx, "train") if p["coverage"] >= 1.0]
    hull = convex_hull(np.array([[p["cost"], p["quality"]] for p in points]))
    index = {a.key: i for i, a in enumerate(ctx.env.arms)}
    ends = [index[next(p["arm"] for p in points
                       if (p["cost"], p["quality"]) == (float(c), float(q)))] for c, q in hull]
    below = int(np.searchsorted(hull[:, 0], budget, side="right")) - 1
    if below < 0:
        return ends[0], ends[0], 0.0
    if below == len(hull) - 1:
        return ends[-1], ends[-1], 0.0
    (c0, _), (c1, _) = hull[below], hull[below + 1]
    return ends[below], ends[below + 1], float((budget - c0) / (c1 - c0))


def _interval(diff: list[float]) -> tuple[float, float]:
    """Mean and 95% half-interval over the seeds."""
    half = 1.96 * float(np.std(diff, ddof=1)) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return float(np.mean(diff)), half


def replay(table: str, seeds: int, warm: bool, dev: bool = False) -> str:
    """``uniscale`` (and ParetoBandit where it applies) under a budget on a replay table."""
    from uniscale.bench.command import default_policies, prepare
    from uniscale.bench.demo import demo_choice
    from uniscale.bench.report import run_bench

    ctx = prepare(SHARED / f"{table}.jsonl.gz", limit=LIMITS.get(table))
    if dev:
        ctx = development(ctx)
    budget = demo_choice(ctx).budget
    peer = table in PEER_TABLES and "paretobandit" in default_policies()
    policies: tuple[str, ...] = ("uniscale", "paretobandit") if peer else ("uniscale",)
    result = run_bench(ctx, us.Budget(per_request=budget), list(range(seeds)),
                       policies=policies, warm_start=warm)
    s: Any = result.policies
    other = (s["paretobandit"].cost, s["paretobandit"].quality) if peer else None
    # what the router paid (the replayed draws its pacer was charged), and its quality
    # minus the best affordable fixed arm's on each seed's stream (mean ± 95% interval)
    paid = float(np.mean([np.mean(r.traces["uniscale"].observed[1]) for r in result.runs]))
    diff = [float(np.mean(r.traces["uniscale"].quality) - np.mean(r.traces["best-fixed"].quality))
            for r in result.runs]
    # and minus the train split's best two-arm mixture within the budget, on the same streams
    lo, hi, share = mixture(ctx, budget)
    quality = ctx.expected.quality
    ahead = [float(np.mean(r.traces["uniscale"].quality)
                   - (1 - share) * quality[r.order, lo].mean()
                   - share * quality[r.order, hi].mean()) for r in result.runs]
    name = f"{table}{' dev' if dev else ''} ({'warm' if warm else 'cold'})"
    return _row(name, budget, s["uniscale"].cost,
                s["uniscale"].quality, s["best-fixed"].quality, other, paid,
                _interval(diff), _interval(ahead))


def main(seeds: int, steps: int, tables: list[str], cold: bool, dev: bool = False) -> None:
    """Print one row per workload."""
    print(f"{'workload':<22} {'budget':>10} {'spend':>10} {'error':>8} {'quality':>8} "
          f"{'affordable':>9}")
    if steps:
        print(synthetic(seeds, steps, 0.003), flush=True)
        print(topics(seeds, steps), flush=True)
    for table in tables:
        print(replay(table, seeds, warm=not cold, dev=dev), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4000,
                        help="requests per synthetic run (0: skip the synthetic workloads)")
    parser.add_argument("--tables", default="",
                        help="comma-separated replay tables, e.g. paretobandit,routerbench")
    parser.add_argument("--cold", action="store_true", help="replay tables without warm start")
    parser.add_argument("--dev", action="store_true",
                        help="replay the train split only, a third of it as the stream "
                             "(for choosing settings)")
    args = parser.parse_args()
    main(args.seeds, args.steps, [t for t in args.tables.split(",") if t], args.cold, args.dev)
