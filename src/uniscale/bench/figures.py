"""The figure of a ``uniscale bench`` run: a frontier, or a scenario's timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .metrics import convex_hull
from .plot import plot_frontiers, plot_timeline
from .report import BenchResult, fixed_points
from .runner import Context

__all__ = ["plot_result", "single_sweep"]


def single_sweep(result: BenchResult, ctx: Context) -> dict[str, Any]:
    """A one-point "sweep" of a run at one objective (for ``--plot`` without ``--sweep``)."""
    fixed = fixed_points(ctx, "test")
    hull = convex_hull(np.array([[p["cost"], p["quality"]] for p in fixed]))
    return {"fixed_arms": fixed, "hull": hull.tolist(),
            "frontier": {k: [{"cost": v.test_cost, "quality": v.test_quality}]
                         for k, v in result.policies.items()}}


def _series(ctx: Context, result: BenchResult, policy: str) -> list[np.ndarray]:
    tracked = result.scenario.tracked
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
    return per_seed


def plot_result(path: Path, ctx: Context, result: BenchResult,
                sweep: dict[str, Any] | None) -> Path:
    """Write the run's figure: the scenario timeline, or the frontier panel."""
    name = ctx.table.name
    if result.phases:
        series = {}
        for policy in ("uniscale", "routing-only", "tts-only", "oracle", "best-fixed"):
            if policy in result.runs[0].traces:
                per_seed = _series(ctx, result, policy)
                if per_seed:
                    series[policy] = np.mean(per_seed, axis=0)
        return plot_timeline(series, [p.start for p in result.scenario.phases],
                             [p.label for p in result.scenario.phases], path,
                             ylabel=result.scenario.tracked,
                             title=f"{name}: scenario {result.scenario.name}")
    return plot_frontiers([(name, sweep if sweep is not None else single_sweep(result, ctx))],
                          path)
