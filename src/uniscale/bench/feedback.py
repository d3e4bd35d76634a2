"""Replaying with realistic feedback: late, sparse and noisy scores, implicit rewards.

A user rarely scores every answer at once. :class:`FeedbackPlan` says which requests get
a score (``rate``), how many requests later it arrives (``delay``) and how often it is
wrong (``flip``: the score ``s`` arrives as ``1 - s``). :func:`run_with_feedback` streams a
table's prompts through one :class:`~uniscale.Router` over the replayed arms, as the
benchmark's learners do, but delivers the scores through the plan, optionally with
implicit rewards standing in for the missing ones.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError
from ..features import HashingFeaturizer
from ..fit import Outcome
from ..implicit import ImplicitRewards
from ..objective import Objective
from ..router import Router
from ..stopping import EarlyStop
from .env import PROMPT_OPTION, replay_backends
from .hindsight import Trace
from .policies import RouterSettings
from .waves import STEP_OPTION, adaptive_arms, wave_backends

if TYPE_CHECKING:
    from .runner import Context

__all__ = ["IMPLICIT_CHOICES", "FeedbackOptions", "FeedbackPlan", "FeedbackQueue",
           "feedback_options", "run_with_feedback"]

IMPLICIT_CHOICES = ("agreement",)
"""Values of ``uniscale bench --implicit-reward``."""


@dataclass(frozen=True)
class FeedbackPlan:
    """Which scores reach the learner, when, and how wrong.

    Attributes:
        delay: Requests later that a score arrives (0: before the next request).
        rate: Share of requests that are scored at all, in ``(0, 1]``.
        flip: Probability that a score arrives flipped (``1 - score``), in ``[0, 1)``.
    """

    delay: int = 0
    rate: float = 1.0
    flip: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.delay, bool) or not isinstance(self.delay, int) or self.delay < 0:
            raise ValueError(f"feedback delay must be a whole number of requests >= 0, "
                             f"got {self.delay!r}")
        if not 0.0 < self.rate <= 1.0:
            raise ValueError(f"feedback rate must be in (0, 1], got {self.rate!r}")
        if not 0.0 <= self.flip < 1.0:
            raise ValueError(f"label flip rate must be in [0, 1), got {self.flip!r}")

    @property
    def label(self) -> str:
        """Short description, e.g. ``"10% scored, delay 5, flip 0.1"``."""
        parts = [f"{self.rate:.0%} scored"]
        if self.delay:
            parts.append(f"delay {self.delay}")
        if self.flip:
            parts.append(f"flip {self.flip:g}")
        return ", ".join(parts)


class FeedbackQueue:
    """Scores on their way to the learner.

    Args:
        plan: The feedback plan.
        rng: Generator of the rate and flip draws.
    """

    def __init__(self, plan: FeedbackPlan, rng: np.random.Generator) -> None:
        self.plan = plan
        self.rng = rng
        self._queue: deque[tuple[int, str, float, float]] = deque()

    def push(self, step: int, decision_id: str, score: float, cost: float) -> bool:
        """Offer the score of the request served at ``step``; True when it will arrive."""
        if self.plan.rate < 1.0 and self.rng.random() >= self.plan.rate:
            return False
        if self.plan.flip and self.rng.random() < self.plan.flip:
            score = 1.0 - score
        self._queue.append((step + self.plan.delay, decision_id, score, cost))
        return True

    def due(self, step: int) -> list[tuple[str, float, float]]:
        """Scores that arrive before the request of ``step + 1`` is decided."""
        out = []
        while self._queue and self._queue[0][0] <= step:
            _, decision_id, score, cost = self._queue.popleft()
            out.append((decision_id, score, cost))
        return out

    def __len__(self) -> int:
        return len(self._queue)


@dataclass(frozen=True)
class FeedbackOptions:
    """How the benchmark's online learners receive their scores.

    Attributes:
        plan: Which scores arrive, when and how wrong.
        implicit: ``"agreement"``: a result's vote share (or best verifier score) stands
            in, with weight 0.3, for a score that has not arrived one request after it
            was due; ``None``: no implicit rewards.
    """

    plan: FeedbackPlan = FeedbackPlan()
    implicit: str | None = None

    def rewards(self) -> ImplicitRewards | None:
        """A fresh :class:`~uniscale.ImplicitRewards` for one router, or ``None``."""
        if self.implicit is None:
            return None
        return ImplicitRewards(self.implicit, weight=0.3, delay=None,
                               delay_requests=self.plan.delay + 1)

    def queue(self, seed: int) -> FeedbackQueue:
        """The queue of one learner's scores (its draws seeded by ``seed``)."""
        return FeedbackQueue(self.plan, np.random.default_rng([seed, 7]))

    @property
    def label(self) -> str:
        """Short description, e.g. ``"10% scored, delay 5, + implicit agreement"``."""
        text = self.plan.label
        return text + (f", + implicit {self.implicit}" if self.implicit else "")


def feedback_options(delay: Any = None, rate: Any = None, noise: Any = None,
                     implicit: str | None = None) -> FeedbackOptions | None:
    """Read ``--feedback-delay K --feedback-rate R --label-noise P --implicit-reward``.

    Returns:
        ``None`` when every option is left out (every score arrives at once, exact).

    Raises:
        ConfigurationError: For a value out of range, naming the option.
    """
    if delay is None and rate is None and noise is None and implicit is None:
        return None
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int)
                              or delay < 0):
        raise ConfigurationError(f"--feedback-delay must be a whole number of requests >= 0, "
                                 f"got {delay!r}")
    for flag, value, ok, want in (
            ("--feedback-rate", rate, lambda v: 0.0 < v <= 1.0, "a share in (0, 1]"),
            ("--label-noise", noise, lambda v: 0.0 <= v < 1.0, "a flip rate in [0, 1)")):
        if value is not None and not (isinstance(value, (int, float))
                                      and math.isfinite(value) and ok(value)):
            raise ConfigurationError(f"{flag} must be {want}, got {value!r}")
    if implicit is not None and implicit not in IMPLICIT_CHOICES:
        raise ConfigurationError(f"--implicit-reward must be one of "
                                 f"{', '.join(IMPLICIT_CHOICES)}, got {implicit!r}")
    plan = FeedbackPlan(delay=0 if delay is None else delay,
                        rate=1.0 if rate is None else float(rate),
                        flip=0.0 if noise is None else float(noise))
    return FeedbackOptions(plan, implicit)


def _warm_start(router: Router, ctx: Context, X: np.ndarray, train: np.ndarray,
                arms: np.ndarray) -> int:
    """Fit the router on every arm's expected outcome on the train prompts (an eval set)."""
    env, expected = ctx.env, ctx.expected
    records = [Outcome(arm=env.arms[a], score=float(expected.quality[p, a]), features=X[p],
                       cost=float(expected.cost[p, a]),
                       input_tokens=int(ctx.table.input_tokens[p, env.arm_pair[a]]))
               for p in train for a in arms if env.allowed[p, a]]
    return router.fit(records)


def run_with_feedback(ctx: Context, plan: FeedbackPlan, objective: Objective,
                      order: np.ndarray, seed: int, *,
                      implicit: ImplicitRewards | None = None,
                      settings: RouterSettings | None = None,
                      warm_start: np.ndarray | None = None,
                      arm_mask: np.ndarray | None = None,
                      early_stop: EarlyStop | None = None) -> tuple[Trace, Router]:
    """Stream ``order``'s prompts through one router whose scores follow ``plan``.

    Args:
        ctx: The prepared table.
        plan: Which scores arrive, when and how wrong.
        objective: The router's objective.
        order: Prompt index of every step.
        seed: Seed of the router, the replayed draws and the plan's draws.
        implicit: Implicit rewards for the requests whose score has not arrived.
        settings: Router hyperparameters.
        warm_start: Prompt indices to fit the router on first (every arm's expected
            outcome: the setting of a user with an eval set), or ``None``.
        arm_mask: Arms the router may use (default: all).
        early_stop: Make every self-consistency arm stop early by this rule (its samples
            replayed wave by wave from one draw, charged per call as billed).

    Returns:
        The trace (quality is the true, unflipped score of the served answer) and the
        router, with what it learned.
    """
    settings = settings or RouterSettings()
    env, table = ctx.env, ctx.table
    X = ctx.features(settings.dim, settings.ngrams)
    mask = np.ones(env.n_arms, dtype=bool) if arm_mask is None else arm_mask
    space = env.arms if early_stop is None else adaptive_arms(env, early_stop)
    index = {a: i for i, a in enumerate(space)}
    arms = [space[i] for i in np.flatnonzero(mask)]
    router = Router(
        arms, prices=table.prices, objective=objective,
        backends=replay_backends(env, table.models, seed) if early_stop is None
        else wave_backends(env, table.models, seed),
        featurizer=HashingFeaturizer(settings.dim, ngrams=settings.ngrams),
        alpha=settings.alpha,
        ridge=settings.ridge, arm_ridge=settings.arm_ridge, forgetting=settings.forgetting,
        hybrid=settings.hybrid, prior_output_tokens=settings.prior_output_tokens,
        seed=seed, implicit_reward=implicit,
    )
    if warm_start is not None:
        if early_stop is not None:
            raise ValueError("a warm start fits fixed-n outcomes: not with early_stop")
        _warm_start(router, ctx, X, warm_start, np.flatnonzero(mask))
    queue = FeedbackQueue(plan, np.random.default_rng([seed, 7]))
    steps = len(order)
    out_arm, out_q, out_c = np.zeros(steps, dtype=np.int64), np.zeros(steps), np.zeros(steps)
    for t, p in enumerate(order):
        ok = env.allowed[p] & mask
        options: dict[str, Any] = {PROMPT_OPTION: int(p), STEP_OPTION: t}
        result = router.invoke(str(table.prompts[p]), features=X[p],
                               allowed=[space[i] for i in np.flatnonzero(ok)], **options)
        a = index[result.decision.arm]
        _, g, k = result.sample.payload
        quality = float(table.score[p, g, k])
        cost = result.cost if early_stop is not None else env.cost(
            p, g, (s.payload[2] for s in result.samples))
        queue.push(t, result.decision.id, quality, cost)
        for decision_id, score, spent in queue.due(t):
            router.feedback(decision_id, score, cost=spent)
        out_arm[t], out_q[t], out_c[t] = a, quality, cost
    return Trace(out_arm, out_q, out_c), router
