"""One router over a replay table, the way ``uniscale bench`` runs its ``uniscale`` policy,
with any :class:`~uniscale.Router` option (``log=``, ``exploration=``, ...).

It lets a log, a report or an off-policy estimate be checked against what the bench
computes for the same stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bench.env import PROMPT_OPTION, replay_backends
from ..bench.policies import RouterSettings
from ..bench.runner import Context, Trace
from ..features import HashingFeaturizer
from ..objective import Objective
from ..router import Router

__all__ = ["replay_frozen", "replay_order", "replay_router"]


def replay_order(ctx: Context, seed: int, steps: int | None = None) -> np.ndarray:
    """The bench's static stream for ``seed`` (train prompts shuffled, then test), repeated
    with fresh shuffles up to ``steps`` requests when given."""
    rng = np.random.default_rng(seed)
    is_test = ctx.table.is_test
    parts: list[np.ndarray] = []
    total = 0
    while not parts or (steps is not None and total < steps):
        train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        parts.append(np.concatenate([rng.permutation(train), rng.permutation(test)]))
        total += len(parts[-1])
    order = np.concatenate(parts)
    return order if steps is None else order[:steps]


def replay_router(ctx: Context, objective: Objective, seed: int, *,
                  order: np.ndarray | None = None, settings: RouterSettings | None = None,
                  **router_options: Any) -> tuple[Router, Trace]:
    """Serve a stream of a replay table through one router over every arm.

    Every request goes through :meth:`Router.invoke` on replay backends and its replayed
    score and cost come back through :meth:`Router.feedback`, as in ``uniscale bench``.

    Args:
        ctx: The prepared table.
        objective: The router's objective.
        seed: Seed of the stream (when ``order`` is not given), draws and router.
        order: Prompt index per request (default :func:`replay_order`).
        settings: Router hyperparameters (default the bench's).
        router_options: Further :class:`Router` arguments.

    Returns:
        The router after the stream, and what it did at every step.
    """
    env, table = ctx.env, ctx.table
    settings = settings or RouterSettings()
    order = replay_order(ctx, seed) if order is None else np.asarray(order)
    X = ctx.features(settings.dim)
    router = Router(
        env.arms, prices=table.prices, objective=objective,
        backends=replay_backends(env, table.models, seed),
        featurizer=HashingFeaturizer(settings.dim), alpha=settings.alpha,
        ridge=settings.ridge, arm_ridge=settings.arm_ridge, forgetting=settings.forgetting,
        hybrid=settings.hybrid, prior_output_tokens=settings.prior_output_tokens, seed=seed,
        **router_options,
    )
    options: dict[str, Any] = {}
    arm = np.zeros(len(order), dtype=np.int64)
    quality = np.zeros(len(order))
    cost = np.zeros(len(order))
    for t, p in enumerate(order):
        allowed = env.arms_where(env.allowed[p])
        options[PROMPT_OPTION] = int(p)
        result = router.invoke(str(table.prompts[p]), features=X[p], allowed=allowed,
                               **options)
        _, g, k = result.sample.payload
        arm[t] = env.arm_index[result.decision.arm]
        quality[t] = float(table.score[p, g, k])
        cost[t] = env.cost(p, g, (s.payload[2] for s in result.samples))
        router.feedback(result.decision.id, quality[t], cost=cost[t])
    return router, Trace(arm, quality, cost)


def replay_frozen(ctx: Context, router: Router, order: np.ndarray, seed: int) -> Trace:
    """Serve a stream with a router that does not learn (no feedback, no usage seen).

    The real outcome of a fixed configuration, to compare with an off-policy estimate
    of it. Draws come from a generator seeded with ``seed``.
    """
    env, table = ctx.env, ctx.table
    X = ctx.features(router.featurizer.dim)
    rng = np.random.default_rng(seed)
    arm = np.zeros(len(order), dtype=np.int64)
    quality = np.zeros(len(order))
    cost = np.zeros(len(order))
    for t, p in enumerate(order):
        d = router.decide(str(table.prompts[p]), features=X[p],
                          allowed=env.arms_where(env.allowed[p]))
        g = env.pair(d.arm.model, d.arm.strategy.variant)
        rows = env.draw(int(p), g, d.arm.n, rng)
        arm[t] = env.arm_index[d.arm]
        quality[t] = float(table.score[p, g, env.chosen(int(p), g, rows)])
        cost[t] = env.cost(int(p), g, rows)
    return Trace(arm, quality, cost)
