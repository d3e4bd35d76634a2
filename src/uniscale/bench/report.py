"""Benchmark runs over seeds, sweeps and scenarios, and their JSON form."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ConfigurationError
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
from .policies import ALL_POLICIES, LEARNERS, OPTIONAL_PEERS, PEERS, RouterSettings, fixed_policies
from .runner import Context, SeedRun, cost_weight, run_seed
from .scenarios import Scenario, build_scenario, phase_masks
from .stats import t_quantile

__all__ = ["Bench", "BenchResult", "Precision", "fixed_points", "frontier", "run_bench",
           "run_sweep", "run_to_precision", "tradeoff_points"]

Progress = Callable[[int], None]
ONLINE = LEARNERS + PEERS + OPTIONAL_PEERS


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
        precision: With a seed count chosen for a target interval, the target, the
            interval reached and the seeds it took (see :class:`Precision`).
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
    precision: dict[str, Any] | None = None

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
        if self.precision is not None:
            out["precision"] = self.precision
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
    bench = Bench(ctx, objective, policies, settings, scenario, progress, warm_start,
                   feedback)
    return bench.result([bench.seed(s) for s in seeds])


@dataclass(frozen=True)
class Precision:
    """How many seeds a run takes: enough for a target interval, within a cap.

    Seeds are added until the 95% interval of ``policy``'s test reward is at most
    ``half_width`` on either side (or ``max_seeds`` are spent). The number of seeds
    needed is estimated from the spread of the seeds run so far (a fixed-width
    sequential interval, Chow and Robbins 1965); the stopping rule looks at the spread
    only, never at a mean, and the seeds are always ``first, first + 1, ...``, so a run
    is reproducible. The interval is over seeds: it covers the stream order, the replayed
    draws and the learners' randomness on this table's test prompts, not a population of
    other prompts.

    Attributes:
        half_width: Target half width of the interval.
        min_seeds: Seeds always run (the spread is estimated from them).
        max_seeds: Cap on the seeds.
        policy: The policy whose interval is targeted (``uniscale`` by default; when it
            is not run, the first online policy of the run).
    """

    half_width: float = 0.01
    min_seeds: int = 5
    max_seeds: int = 64
    policy: str = "uniscale"

    def __post_init__(self) -> None:
        if not self.half_width > 0:
            raise ConfigurationError(f"the target interval must be positive, got "
                                     f"{self.half_width}")
        if self.min_seeds < 2:
            raise ConfigurationError(f"an interval needs at least 2 seeds, got "
                                     f"min_seeds={self.min_seeds}")
        if self.max_seeds < self.min_seeds:
            raise ConfigurationError(f"the seed cap ({self.max_seeds}) must be at least the "
                                     f"{self.min_seeds} seeds always run")

    def more(self, result: BenchResult, policy: str) -> int:
        """Seeds to add to ``result`` (0: the target is met or the cap reached).

        The spread over the seeds so far gives the seeds the target needs (with the t
        quantile of that many); a run at most doubles before it is looked at again, so
        a noisy first estimate does not overshoot.
        """
        n = len(result.seeds)
        s = result.policies.get(policy)
        if s is None or n >= self.max_seeds:
            return 0
        half = s.ci95.half_width
        if not math.isfinite(half) or half <= self.half_width:
            return 0
        sd = half * math.sqrt(n) / t_quantile(n - 1)
        needed = n + 1
        while needed < self.max_seeds and \
                t_quantile(needed - 1) * sd / math.sqrt(needed) > self.half_width:
            needed += 1
        return max(1, min(needed, 2 * n, self.max_seeds) - n)


def run_to_precision(ctx: Context, objective: Objective, precision: Precision, *,
                     first_seed: int = 0, policies: Sequence[str] = ALL_POLICIES,
                     settings: RouterSettings | Mapping[str, RouterSettings] | None = None,
                     scenario: str | Scenario = "static", progress: Progress | None = None,
                     warm_start: bool = False, feedback: FeedbackOptions | None = None,
                     on_batch: Callable[[BenchResult, int], None] | None = None
                     ) -> BenchResult:
    """:func:`run_bench` with as many seeds as ``precision`` asks for.

    Args:
        ctx: The prepared table.
        objective: :class:`Tradeoff` or :class:`Budget`.
        precision: Target interval and seed limits.
        first_seed: The first seed.
        policies: Policy names.
        settings: Learner hyperparameters.
        scenario: A scenario name or value.
        progress: Called with learner steps done.
        warm_start: See :func:`run_bench`.
        feedback: See :func:`run_bench`.
        on_batch: Called with the result so far and the seeds about to be added.

    Returns:
        The result (its ``precision`` entry says whether the target was met).
    """
    bench = Bench(ctx, objective, policies, settings, scenario, progress, warm_start,
                   feedback)
    target = precision.policy if precision.policy in policies else next(
        (p for p in policies if p in ONLINE), precision.policy)
    runs = [bench.seed(first_seed + i) for i in range(precision.min_seeds)]
    result = bench.result(runs)
    while (extra := precision.more(result, target)) > 0:
        if on_batch is not None:
            on_batch(result, extra)
        start = first_seed + len(runs)
        runs += [bench.seed(start + i) for i in range(extra)]
        result = bench.result(runs)
    s = result.policies.get(target)
    half = s.ci95.half_width if s is not None else float("nan")
    return replace(result, precision={
        "policy": target, "target_half_width": precision.half_width,
        "half_width": half, "seeds": len(runs), "max_seeds": precision.max_seeds,
        "reached": bool(math.isfinite(half) and half <= precision.half_width)})


class Bench:
    """One benchmark configuration: runs seeds and summarises them."""

    def __init__(self, ctx: Context, objective: Objective, policies: Sequence[str],
                 settings: RouterSettings | Mapping[str, RouterSettings] | None,
                 scenario: str | Scenario, progress: Progress | None,
                 warm_start: bool, feedback: FeedbackOptions | None = None) -> None:
        self.ctx, self.objective, self.settings = ctx, objective, settings
        self.progress, self.warm_start, self.feedback = progress, warm_start, feedback
        self.needed = list(dict.fromkeys([*policies, "best-fixed", "oracle"]))
        if not isinstance(scenario, Scenario):
            lam = cost_weight(objective)
            if isinstance(objective, Budget):
                lam = 1.0 / max(objective.per_request, 1e-12)
            scenario = build_scenario(scenario, ctx.env, ctx.expected, lam)
        self.scenario = scenario

    def seed(self, seed: int) -> SeedRun:
        """Every policy over one seed's stream."""
        return run_seed(self.ctx, self.objective, seed, policies=self.needed,
                        settings=self.settings, scenario=self.scenario,
                        progress=self.progress, warm_start=self.warm_start,
                        feedback=self.feedback)

    def result(self, runs: Sequence[SeedRun]) -> BenchResult:
        """The summary of some seed runs."""
        needed, scenario, env = self.needed, self.scenario, self.ctx.env
        summary = summarize(runs, needed)
        fixed = {part: env.arms[runs[0].fixed_arm[part]].key for part in ("train", "test")}
        phases: tuple[dict[str, PolicySummary], ...] = ()
        adapt: tuple[dict[str, Any], ...] = ()
        if scenario.name != "static":
            steps = len(runs[0].order)
            phases = tuple(summarize(runs, needed, mask)
                           for mask in phase_masks(scenario, steps))
            adapt = tuple(adaptation_table(runs, scenario, env, self.objective,
                                           [p for p in needed if p in LEARNERS]))
        return BenchResult(self.ctx.table.name, self.objective,
                           tuple(r.seed for r in runs), summary, gap_closed(summary), fixed,
                           scenario, phases, adapt, tuple(runs),
                           gap_closed(summary, top="trained-router"), self.warm_start)


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
