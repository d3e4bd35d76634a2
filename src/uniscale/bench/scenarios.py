"""Dynamic scenarios: the conditions of the stream change mid-way.

* ``budget-shift``: the per-request budget halves mid-stream.
* ``price-change``: the price of the model the best fixed arm uses goes ×4 mid-stream.
* ``model-added``: the model of best mean quality is hidden until mid-stream.
* ``drift``: the stream is ordered by dataset (or, on one-dataset tables, from easy to
  hard prompts), so the traffic mix shifts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .env import Expected, ReplayEnv

__all__ = ["SCENARIOS", "Phase", "Scenario", "adaptation", "build_scenario", "phase_masks"]

SCENARIOS = ("budget-shift", "price-change", "model-added", "drift")


@dataclass(frozen=True)
class Phase:
    """Conditions that hold from step ``start`` on.

    Attributes:
        start: First step of the phase (0-based position in the stream).
        label: Short description.
        price_scale: Price multiplier per model (models not named keep their price).
        budget_scale: Multiplier of the ``Budget.per_request`` target.
        hidden_models: Models whose arms do not exist yet.
    """

    start: int
    label: str
    price_scale: Mapping[str, float] = field(default_factory=dict)
    budget_scale: float = 1.0
    hidden_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A stream order and its phases.

    Attributes:
        name: Scenario name (``"static"`` for the plain benchmark).
        phases: Phases in order; the first starts at 0.
        order: ``"split"`` (train then test, each shuffled) or a fixed order of prompts
            (``"dataset"``: shuffled within a group, groups in turn).
        groups: For ``order="dataset"``: the group of each prompt, in stream order.
        tracked: What adaptation is measured on: ``"cost"``, ``"share:<model>"`` or
            ``"reward"``.
    """

    name: str = "static"
    phases: tuple[Phase, ...] = (Phase(0, "all"),)
    order: str = "split"
    groups: tuple[int, ...] = ()
    tracked: str = "reward"

    def phase_at(self, steps: int) -> np.ndarray:
        """Phase index of every step of a stream of ``steps`` requests."""
        starts = np.array([p.start for p in self.phases])
        return np.searchsorted(starts, np.arange(steps), side="right") - 1


def _best_fixed_model(env: ReplayEnv, expected: Expected, lam: float) -> str:
    reward = expected.reward(lam)
    served = env.allowed.mean(0)
    mean = np.where(served >= 1.0, np.nanmean(np.where(env.allowed, reward, np.nan), 0),
                    -np.inf)
    return str(env.arm_model[int(np.argmax(mean))])


def build_scenario(name: str, env: ReplayEnv, expected: Expected, lam: float) -> Scenario:
    """The scenario ``name`` on a table.

    Args:
        name: One of :data:`SCENARIOS`, or ``"static"``.
        env: The environment.
        expected: Its expected outcomes (to pick the repriced or hidden model).
        lam: The cost weight of the run (to find the best fixed arm).

    Raises:
        ValueError: For an unknown name, or a table that cannot express the scenario.
    """
    steps = env.table.n_prompts
    half = steps // 2
    if name == "static":
        return Scenario()
    if name == "budget-shift":
        return Scenario(name, (Phase(0, "budget B"), Phase(half, "budget B/2", budget_scale=0.5)),
                        tracked="cost")
    if name == "price-change":
        model = _best_fixed_model(env, expected, lam)
        return Scenario(name, (Phase(0, "list prices"),
                               Phase(half, f"{model} price x4", price_scale={model: 4.0})),
                        tracked=f"share:{model}")
    if name == "model-added":
        single = env.arm_n == 1
        means = {m: float(np.nanmean(expected.quality[:, single & (env.arm_model == m)]))
                 for m in env.table.models}
        if len(means) < 2:
            raise ValueError("model-added needs a table with at least two models")
        model = max(means, key=lambda m: means[m])
        return Scenario(name, (Phase(0, f"without {model}", hidden_models=(model,)),
                               Phase(half, f"{model} added")),
                        tracked=f"share:{model}")
    if name == "drift":
        datasets = sorted(set(env.table.datasets))
        if len(datasets) > 1:
            group = np.array([datasets.index(d) for d in env.table.datasets])
            labels = datasets
        else:  # one dataset: easy prompts first, then hard ones (mean n=1 quality)
            q = np.nanmean(expected.quality[:, env.arm_n == 1], axis=1)
            group = (q < np.median(q)).astype(int)
            labels = ["easier half", "harder half"]
        order = np.argsort(group, kind="stable")
        sizes = np.bincount(group, minlength=len(labels))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        phases = tuple(Phase(int(s), str(lab)) for s, lab, n in
                       zip(starts, labels, sizes, strict=True) if n > 0)
        return Scenario(name, phases, order="dataset", groups=tuple(int(g) for g in
                                                                     group[order]),
                        tracked="reward")
    raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")


def phase_masks(scenario: Scenario, steps: int) -> list[np.ndarray]:
    """Boolean mask of the steps of each phase."""
    phase = scenario.phase_at(steps)
    return [phase == i for i in range(len(scenario.phases))]


def adaptation(series: np.ndarray, start: int, end: int, *, tol: float,
               window: int = 50) -> int | None:
    """Requests after ``start`` until a rolling mean settles near its steady state.

    The steady state is the mean of ``series`` over the second half of ``[start, end)``.
    The answer is the smallest ``k`` such that every window of ``window`` requests
    starting at ``start + k`` or later (within the phase) has a mean within ``tol`` of it.

    Args:
        series: Per-request values (averaged over seeds).
        start: First request of the phase.
        end: One past its last request.
        tol: Allowed absolute deviation.
        window: Rolling window.

    Returns:
        ``k``, or ``None`` when the phase is too short to tell.
    """
    length = end - start
    window = max(1, min(window, length // 4))
    if length < 2 * window:
        return None
    segment = np.asarray(series[start:end], dtype=float)
    target = segment[length // 2:].mean()
    rolling = np.convolve(segment, np.ones(window) / window, mode="valid")
    bad = np.abs(rolling - target) > tol
    if not bad.any():
        return 0
    last_bad = int(np.flatnonzero(bad)[-1])
    return last_bad + 1


def group_sizes(groups: Sequence[int]) -> list[int]:
    """Sizes of consecutive groups."""
    return list(np.bincount(np.asarray(groups))) if groups else []
