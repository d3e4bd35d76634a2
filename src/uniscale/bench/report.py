"""Benchmark runs over seeds, sweeps and scenarios, and their JSON form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..objective import Budget, Objective, Tradeoff
from .feedback import FeedbackOptions
from .metrics import (
    PolicySummary,
    adaptation_table,
    convex_hull,
    gap_closed,
    hull_cost_at,
    hull_quality_at,
    summarize,
)
from .policies import ALL_POLICIES, LEARNERS, RouterSettings, fixed_policies
from .runner import Context, SeedRun, cost_weight, run_seed
from .scenarios import Scenario, build_scenario, phase_masks

__all__ = ["BenchResult", "fixed_points", "frontier", "run_bench", "run_sweep",
           "tradeoff_points"]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class BenchResult:
    """A benchmark run over several seeds.

    Attributes:
        table: Table name.
        objective: The objective.
        seeds: Seeds run.
        policies: Summary per policy.
        gap_closed: Gap closed on the test part per policy (oracle as the ceiling).
        fixed_arm: Key of the best fixed arm chosen on train (``"train"``) and of the
            arm that would have been best on the test part (``"test"``, hindsight).
        scenario: The scenario.
        phases: Per phase, a summary per policy (scenarios only).
        adaptation: Per phase change, requests the router took to settle.
        runs: The raw seed runs.
        gap_closed_trained: Gap closed with the trained router as the ceiling.
        warm_start: Whether the learners were warm-started on the train split.
    """

    table: str
    objective: Objective
    seeds: tuple[int, ...]
    policies: dict[str, PolicySummary]
    gap_closed: dict[str, float]
    fixed_arm: dict[str, str]
    scenario: Scenario = field(default_factory=Scenario)
    phases: tuple[dict[str, PolicySummary], ...] = ()
    adaptation: tuple[dict[str, Any], ...] = ()
    runs: tuple[SeedRun, ...] = ()
    gap_closed_trained: dict[str, float] = field(default_factory=dict)
    warm_start: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON-ready figures."""
        out: dict[str, Any] = {
            "table": self.table,
            "objective": objective_json(self.objective),
            "seeds": list(self.seeds),
            "warm_start": self.warm_start,
            "policies": {k: v.as_dict() for k, v in self.policies.items()},
            "gap_closed": self.gap_closed,
            "gap_closed_vs_trained_router": self.gap_closed_trained,
            "best_fixed_arm": {"train": self.fixed_arm["train"],
                               "test_hindsight": self.fixed_arm["test"]},
        }
        if self.scenario.name != "static":
            out["scenario"] = {
                "name": self.scenario.name,
                "tracked": self.scenario.tracked,
                "phases": [
                    {"start": ph.start, "label": ph.label,
                     "policies": {k: v.as_dict() for k, v in summ.items()}}
                    for ph, summ in zip(self.scenario.phases, self.phases, strict=True)
                ],
                "adaptation": list(self.adaptation),
            }
        return out


def objective_json(objective: Objective) -> dict[str, Any]:
    """JSON form of an objective."""
    if isinstance(objective, Tradeoff):
        return {"kind": "tradeoff", "willingness_to_pay": objective.willingness_to_pay}
    assert isinstance(objective, Budget)
    return {"kind": "budget", "per_request": objective.per_request}


def run_bench(ctx: Context, objective: Objective, seeds: Sequence[int], *,
              policies: Sequence[str] = ALL_POLICIES,
              settings: RouterSettings | Mapping[str, RouterSettings] | None = None,
              scenario: str | Scenario = "static", progress: Progress | None = None,
              warm_start: bool = False, feedback: FeedbackOptions | None = None
              ) -> BenchResult:
    """Run every policy for every seed and summarise.

    Args:
        ctx: The prepared table.
        objective: :class:`Tradeoff` or :class:`Budget`.
        seeds: Seeds.
        policies: Policy names.
        settings: Learner hyperparameters.
        scenario: A scenario name or value.
        progress: Called with learner steps done.
        warm_start: Warm-start every learner and peer on the train split (an offline
            eval set through every arm) and stream the test part only.
        feedback: How the online learners receive their scores (late, sparse, noisy,
            implicit rewards); default: every score, exact, at once.

    Returns:
        The result.
    """
    needed = list(dict.fromkeys([*policies, "best-fixed", "oracle"]))
    if not isinstance(scenario, Scenario):
        lam = cost_weight(objective)
        if isinstance(objective, Budget):
            lam = 1.0 / max(objective.per_request, 1e-12)
        scenario = build_scenario(scenario, ctx.env, ctx.expected, lam)
    runs = tuple(run_seed(ctx, objective, s, policies=needed, settings=settings,
                          scenario=scenario, progress=progress, warm_start=warm_start,
                          feedback=feedback)
                 for s in seeds)
    summary = summarize(runs, needed)
    env = ctx.env
    fixed = {part: env.arms[runs[0].fixed_arm[part]].key for part in ("train", "test")}
    phases: tuple[dict[str, PolicySummary], ...] = ()
    adapt: tuple[dict[str, Any], ...] = ()
    if scenario.name != "static":
        steps = len(runs[0].order)
        phases = tuple(summarize(runs, needed, mask) for mask in phase_masks(scenario, steps))
        adapt = tuple(adaptation_table(runs, scenario, env, objective,
                                       [p for p in needed if p in LEARNERS]))
    return BenchResult(ctx.table.name, objective, tuple(seeds), summary, gap_closed(summary),
                       fixed, scenario, phases, adapt, runs,
                       gap_closed(summary, top="trained-router"), warm_start)


def fixed_points(ctx: Context, part: str = "test") -> list[dict[str, Any]]:
    """Expected (cost, quality) of every fixed arm on a part of the table.

    On a ragged table an arm that cannot serve every prompt is completed by a fallback
    arm that can: the best-quality one and, as a second point, the cheapest one.

    Args:
        ctx: The prepared table.
        part: ``"test"``, ``"train"`` or ``"all"``.
    """
    t = ctx.table
    mask = {"test": t.is_test, "train": ~t.is_test, "all": np.ones(t.n_prompts, bool)}[part]
    quality, cost = ctx.expected.quality[mask], ctx.expected.cost[mask]
    allowed = ctx.env.allowed[mask]
    points: list[dict[str, Any]] = []
    for label, lam in (("best quality", 0.0), ("cheapest", 1e9)):
        fp = fixed_policies(quality, cost, allowed, lam)
        fallback = ctx.env.arms[int(fp.ranking[0])].key
        for i, a in enumerate(ctx.env.arms):
            if lam > 0 and fp.coverage[i] >= 1.0:
                continue  # same point as with the other fallback
            points.append({"arm": a.key, "cost": float(fp.cost[i]),
                           "quality": float(fp.quality[i]), "coverage": float(fp.coverage[i]),
                           "fallback": None if fp.coverage[i] >= 1.0 else
                           f"{label}: {fallback}"})
    return points


def tradeoff_points(ctx: Context) -> dict[str, Any]:
    """Where the trade-off is real, from the fixed arms' hull on the train split.

    On the concave hull of the fixed arms' (cost, quality), the best fixed arm at
    willingness-to-pay W changes where ``W = Δcost / Δquality`` between neighbours.
    Between two such breakpoints an interior hull arm (neither the cheapest nor the
    dearest) is best; the geometric mean of the two is a W where the trade-off is real.

    Returns:
        ``{"hull": [...], "breakpoints": [...], "interior": [...], "suggested": W,
        "sweep": [...]}``.
    """
    points = fixed_points(ctx, "train")
    pts = np.array([[p["cost"], p["quality"]] for p in points])
    hull = convex_hull(pts)
    breaks = [float((hull[i + 1, 0] - hull[i, 0]) / (hull[i + 1, 1] - hull[i, 1]))
              for i in range(len(hull) - 1)]
    interior = [float(np.sqrt(breaks[i] * breaks[i + 1])) for i in range(len(breaks) - 1)]
    if interior:
        suggested = interior[len(interior) // 2]
    elif breaks:
        suggested = breaks[0]
    else:
        suggested = 1.0
    lo = min(breaks) / 3 if breaks else suggested / 10
    hi = max(breaks) * 3 if breaks else suggested * 10
    sweep = [float(w) for w in np.geomspace(lo, hi, 7)]
    return {"hull": hull.tolist(), "breakpoints": breaks, "interior": interior,
            "suggested": float(suggested), "sweep": sweep}


def run_sweep(ctx: Context, wtps: Sequence[float], seeds: Sequence[int], *,
              policies: Sequence[str] = ALL_POLICIES,
              settings: RouterSettings | Mapping[str, RouterSettings] | None = None,
              progress: Progress | None = None, warm_start: bool = False,
              feedback: FeedbackOptions | None = None) -> dict[str, Any]:
    """Each policy's test-part (cost, quality) across willingness-to-pay values.

    Returns:
        ``{"wtp": [...], "frontier": {policy: [{"wtp", "cost", "quality", "reward",
        "quality_gain", "cost_saving"}]}, "fixed_arms": [...], "hull": [...],
        "runs": [JSON of each W's run], "results": [BenchResult of each W]}``, where
        ``quality_gain`` is the quality above the fixed arms' hull at equal cost and
        ``cost_saving`` the share of the hull's cost saved at equal quality (NaN when
        the point lies outside the hull's range).
    """
    results = [run_bench(ctx, Tradeoff(float(w)), seeds, policies=policies, settings=settings,
                         progress=progress, warm_start=warm_start, feedback=feedback)
               for w in wtps]
    return frontier(ctx, results, policies)


def frontier(ctx: Context, results: Sequence[BenchResult], policies: Sequence[str]
             ) -> dict[str, Any]:
    """The sweep figures (see :func:`run_sweep`) of runs at several trade-offs.

    Args:
        ctx: The prepared table.
        results: One run per willingness to pay (each with a :class:`Tradeoff`).
        policies: Policies to report (those a run lacks are skipped for it).
    """
    fixed = fixed_points(ctx, "test")
    hull = convex_hull(np.array([[p["cost"], p["quality"]] for p in fixed]))
    points: dict[str, list[dict[str, float]]] = {p: [] for p in policies}
    for res in results:
        assert isinstance(res.objective, Tradeoff)
        w = res.objective.willingness_to_pay
        for name in policies:
            if name not in res.policies:
                continue
            s = res.policies[name]
            equal_cost = hull_cost_at(hull, s.test_quality)
            points[name].append({
                "wtp": float(w), "cost": s.test_cost, "quality": s.test_quality,
                "reward": s.test_reward,
                "quality_gain": s.test_quality - hull_quality_at(hull, s.test_cost),
                "cost_saving": (1.0 - s.test_cost / equal_cost) if equal_cost > 0
                else float("nan"),
            })
    return {"wtp": [float(r.objective.willingness_to_pay) for r in results
                    if isinstance(r.objective, Tradeoff)],
            "frontier": points, "fixed_arms": fixed, "hull": hull.tolist(),
            "runs": [r.to_json() for r in results], "results": list(results)}


TUNE_GRID = (
    RouterSettings(alpha=0.3, hybrid=True),
    RouterSettings(alpha=0.5, hybrid=True),
    RouterSettings(alpha=1.0, hybrid=True),
    RouterSettings(alpha=0.3, hybrid=False),
    RouterSettings(alpha=1.0, hybrid=False),
)
"""Learner settings tried by :func:`tune_on_train`."""


def tune_on_train(ctx: Context, objective: Objective, *, seeds: Sequence[int] = (1000, 1001),
                  grid: Sequence[RouterSettings] = TUNE_GRID,
                  policies: Sequence[str] = LEARNERS, progress: Progress | None = None
                  ) -> dict[str, Any]:
    """Pick each learner's settings by its mean reward on a stream of train prompts only.

    The test split is never looked at; the seeds differ from the evaluation seeds.

    Returns:
        ``{"chosen": {policy: RouterSettings}, "scores": [{"settings", policy: reward}]}``.
    """
    train = Context(ctx.table.subset(~ctx.table.is_test), aggregate=ctx.env.aggregate,
                    n_grid=ctx.n_grid, mc_samples=ctx.mc_samples)
    learners = [p for p in policies if p in LEARNERS]
    scores: list[dict[str, Any]] = []
    best: dict[str, tuple[float, RouterSettings]] = {}
    for settings in grid:
        runs = [run_seed(train, objective, s, policies=learners, settings=settings,
                         progress=progress) for s in seeds]
        summary = summarize(runs, learners)
        row: dict[str, Any] = {"settings": dict(settings.__dict__)}
        for name in learners:
            value = summary[name].reward
            row[name] = value
            if name not in best or value > best[name][0]:
                best[name] = (value, settings)
        scores.append(row)
    return {"chosen": {k: v[1] for k, v in best.items()}, "scores": scores}
