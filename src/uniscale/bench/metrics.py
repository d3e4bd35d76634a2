"""Figures of a benchmark run: means, spreads, gap closed, frontier comparisons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..objective import Objective
from .env import ReplayEnv
from .hindsight import HINDSIGHT_TEST, Trace
from .runner import SeedRun
from .scenarios import Scenario, adaptation
from .stats import Interval, mean_interval, paired_difference

__all__ = [
    "PolicySummary",
    "adaptation_table",
    "convex_hull",
    "gap_closed",
    "hull_cost_at",
    "hull_quality_at",
    "summarize",
]


@dataclass(frozen=True)
class PolicySummary:
    """Mean figures of one policy over seeds.

    Attributes:
        quality: Mean quality over the whole stream.
        cost: Mean USD per request over the whole stream.
        reward: Mean reward over the whole stream.
        test_quality: Mean quality over the test part.
        test_cost: Mean USD per request over the test part.
        test_reward: Mean reward over the test part.
        reward_std: Standard deviation over seeds of the test reward.
        reward_std_all: Standard deviation over seeds of the whole-stream reward.
        ci95: 95% interval of the test reward over seeds.
        paired: This policy's test reward minus ``uniscale``'s, seed by seed, with its
            95% interval (None without ``uniscale``).
    """

    quality: float
    cost: float
    reward: float
    test_quality: float
    test_cost: float
    test_reward: float
    reward_std: float
    reward_std_all: float
    ci95: Interval = field(default_factory=lambda: Interval(float("nan"), float("nan")))
    paired: Interval | None = None

    def verdict(self) -> str:
        """``"tie"``, ``"ahead of uniscale"`` or ``"behind uniscale"`` (paired, 95%)."""
        if self.paired is None or not self.paired.excludes_zero():
            return "tie"
        return "ahead of uniscale" if self.paired.mean > 0 else "behind uniscale"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        out: dict[str, Any] = {k: float(v) for k, v in self.__dict__.items()
                               if isinstance(v, (int, float))}
        out["ci95"] = self.ci95.as_list()
        if self.paired is not None:
            out["paired_diff"] = {"vs": "uniscale", "mean": self.paired.mean,
                                  "ci95": self.paired.as_list(), "verdict": self.verdict()}
        return out


def _figures(trace: Trace, lam: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    if not mask.any():
        return float("nan"), float("nan"), float("nan")
    q, c = trace.quality[mask], trace.cost[mask]
    return float(q.mean()), float(c.mean()), float((q - lam[mask] * c).mean())


def summarize(runs: Sequence[SeedRun], policies: Sequence[str],
              steps: np.ndarray | None = None) -> dict[str, PolicySummary]:
    """Mean figures per policy over seeds, intervals and paired differences.

    Args:
        runs: One run per seed.
        policies: Policies to summarise (with ``best-fixed``, its test-hindsight twin
            ``best-fixed-hindsight`` is summarised too); policies a run lacks are skipped.
        steps: Optional boolean mask of the steps to count (a phase); default all.

    Returns:
        Summary per policy.
    """
    names = list(policies)
    if "best-fixed" in names and HINDSIGHT_TEST not in names:
        names.insert(names.index("best-fixed") + 1, HINDSIGHT_TEST)
    figures: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in names:
        if not all(name in run.traces for run in runs):
            continue
        whole, test = [], []
        for run in runs:
            mask = np.ones(len(run.order), dtype=bool) if steps is None else steps
            whole.append(_figures(run.traces[name], run.lam, mask))
            test.append(_figures(run.traces[name], run.lam, mask & run.is_test))
        figures[name] = (np.array(whole), np.array(test))
    ref = figures["uniscale"][1][:, 2] if "uniscale" in figures else None
    out: dict[str, PolicySummary] = {}
    for name, (w, t) in figures.items():
        out[name] = PolicySummary(
            quality=float(np.mean(w[:, 0])), cost=float(np.mean(w[:, 1])),
            reward=float(np.mean(w[:, 2])), test_quality=float(np.mean(t[:, 0])),
            test_cost=float(np.mean(t[:, 1])), test_reward=float(np.mean(t[:, 2])),
            reward_std=float(np.std(t[:, 2])), reward_std_all=float(np.std(w[:, 2])),
            ci95=mean_interval(t[:, 2]),
            paired=None if ref is None or name == "uniscale" else
            paired_difference(t[:, 2], ref),
        )
    return out


def gap_closed(summary: Mapping[str, PolicySummary], *, test: bool = True,
               top: str = "oracle") -> dict[str, float]:
    """(R − R_best-fixed) / (R_top − R_best-fixed) of every policy.

    Args:
        summary: Output of :func:`summarize` (must hold ``best-fixed`` and ``top``).
        test: Use the test-part rewards (else the whole stream's).
        top: The ceiling: ``"oracle"`` (unreachable) or ``"trained-router"``.

    Returns:
        Gap closed per policy (NaN when ``top`` is not above ``best-fixed``); empty when
        a needed policy is missing.
    """
    if "best-fixed" not in summary or top not in summary:
        return {}

    def reward(name: str) -> float:
        s = summary[name]
        return s.test_reward if test else s.reward

    base, ceiling = reward("best-fixed"), reward(top)
    span = ceiling - base
    return {name: (float((reward(name) - base) / span) if span > 1e-12 else float("nan"))
            for name in summary}


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Upper-left frontier of (cost, quality) points: the concave hull mixing arms reaches.

    Returns:
        ``(m, 2)`` vertices by increasing cost and quality.
    """
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    pts = pts[np.lexsort((-pts[:, 1], pts[:, 0]))]
    hull: list[np.ndarray] = []
    for pt in pts:
        if hull and pt[1] <= hull[-1][1]:
            continue  # dearer and not better
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (pt[0] - x1) <= (pt[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(pt)
    return np.array(hull)


def hull_quality_at(hull: np.ndarray, cost: float) -> float:
    """Best quality the fixed arms' hull reaches at ``cost`` (NaN below its cheapest arm)."""
    if cost < hull[0, 0]:
        return float("nan")
    return float(np.interp(cost, hull[:, 0], hull[:, 1]))


def hull_cost_at(hull: np.ndarray, quality: float) -> float:
    """Least cost at which the hull reaches ``quality`` (NaN above its best arm)."""
    if quality > hull[-1, 1]:
        return float("nan")
    if quality <= hull[0, 1]:
        return float(hull[0, 0])
    return float(np.interp(quality, hull[:, 1], hull[:, 0]))


def _tracked_series(run: SeedRun, name: str, tracked: str, arm_model: np.ndarray
                    ) -> np.ndarray:
    trace = run.traces[name]
    if tracked == "cost":
        return trace.cost
    if tracked.startswith("share:"):
        model = tracked.split(":", 1)[1]
        return (arm_model[trace.arm] == model).astype(float)
    return trace.quality - run.lam * trace.cost


def adaptation_table(runs: Sequence[SeedRun], scenario: Scenario, env: ReplayEnv,
                     objective: Objective, learners: Sequence[str], *, window: int = 50
                     ) -> list[dict[str, Any]]:
    """How fast each learner settles after every phase change.

    The tracked series (``scenario.tracked``: per-request cost, share of a model's arms,
    or reward) is averaged over seeds; the answer per change is the number of requests
    after it until every rolling window of ``window`` requests stays within a tolerance
    of the new phase's steady state (10% of it for cost, 0.10 for a share, 0.05 for a
    reward).

    Returns:
        One row per (change, learner): ``{"phase", "policy", "before", "after",
        "steady", "requests", "tolerance", "window"}``.
    """
    steps = len(runs[0].order)
    rows: list[dict[str, Any]] = []
    for i, phase in enumerate(scenario.phases[1:], start=1):
        end = scenario.phases[i + 1].start if i + 1 < len(scenario.phases) else steps
        start = phase.start
        for name in learners:
            series = np.mean([_tracked_series(r, name, scenario.tracked, env.arm_model)
                              for r in runs], axis=0)
            length = end - start
            steady = float(series[start + length // 2:end].mean()) if length else float("nan")
            if scenario.tracked == "cost":
                tol = 0.1 * abs(steady)
            elif scenario.tracked.startswith("share:"):
                tol = 0.10
            else:
                tol = 0.05
            w = max(1, min(window, length // 4))
            before = series[max(0, start - w):start]
            after = series[start:start + w]
            rows.append({
                "phase": phase.label, "policy": name,
                "before": float(before.mean()) if len(before) else float("nan"),
                "after": float(after.mean()) if len(after) else float("nan"),
                "steady": steady,
                "requests": adaptation(series, start, end, tol=tol, window=w),
                "tolerance": float(tol), "window": int(w),
            })
    return rows
