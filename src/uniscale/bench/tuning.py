"""Learner settings chosen on the train split only (``uniscale bench --tune``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..objective import Objective
from .metrics import summarize
from .policies import LEARNERS, RouterSettings
from .runner import Context, run_seed

__all__ = ["TUNE_GRID", "tune_on_train"]

Progress = Callable[[int], None]

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
                    n_grid=ctx.n_grid, mc_samples=ctx.mc_samples, context=ctx.context)
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
