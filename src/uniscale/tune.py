"""Choosing the learner's settings on your own recorded outcomes (time-ordered CV).

:meth:`Router.tune` replays an eval set (every arm's outcome on each request) through
candidate configurations: each is fitted on the requests of the earlier folds and then
served the later fold online — deciding, and learning the chosen arm's recorded score —
so the figure is what that configuration would have earned. The best single arm is
evaluated the same way. When no candidate beats it, the router falls back to that arm
(as a conservative baseline it leaves only when confident) and keeps learning online.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .conservative import ConservativeGuard
from .errors import ConfigurationError
from .features import Featurizer, HashingFeaturizer
from .fit import Outcome, as_outcome, prepare_outcomes

if TYPE_CHECKING:
    from .router import Router

__all__ = ["TuneReport", "tune_router"]


@dataclass(frozen=True)
class TuneReport:
    """What :meth:`Router.tune` tried and chose.

    Attributes:
        chosen: The settings applied to the router.
        candidates: ``(settings, cross-validated mean reward)`` of every candidate.
        best_arm: Key of the best single arm.
        best_arm_reward: Its cross-validated mean reward.
        fallback: True when no candidate beat the best single arm, so the router now
            serves that arm unless confident that another one is better.
        requests: Requests in the records.
    """

    chosen: dict[str, Any]
    candidates: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    best_arm: str = ""
    best_arm_reward: float = float("nan")
    fallback: bool = False
    requests: int = 0

    def __str__(self) -> str:
        lines = [f"tuned on {self.requests} requests (time-ordered folds)"]
        for settings, reward in sorted(self.candidates, key=lambda c: -c[1]):
            mark = "*" if settings == self.chosen else " "
            lines.append(f" {mark} {_text(settings):<40} reward {reward:.4f}")
        lines.append(f"   best single arm {self.best_arm:<24} reward {self.best_arm_reward:.4f}")
        if self.fallback:
            lines.append("   no setting beat the best single arm: serving it as the baseline")
        return "\n".join(lines)


def _text(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def _group_key(item: Outcome) -> str:
    if item.features is not None:
        return "f:" + np.asarray(item.features, dtype=float).tobytes().hex()
    return "r:" + repr(item.request) + repr(sorted((item.context or {}).items()))


def _make(router: Router, settings: Mapping[str, Any]) -> Router:
    dim = settings.get("dim")
    featurizer: Featurizer = router.featurizer if dim is None else HashingFeaturizer(int(dim))
    policy = router.policy
    made = type(router)(
        list(router.arms), router.costs.prices, router.objective, featurizer=featurizer,
        alpha=float(settings["alpha"]), ridge=policy.ridge, arm_ridge=policy.arm_ridge,
        forgetting=policy.forgetting, hybrid=bool(settings["hybrid"]),
        shared_dim=policy.shared_dim or 8, prune=router.prune,
        prior_output_tokens=router.costs.prior_output_tokens, seed=router.seed,
        context_dim=router.context.dim,
    )
    made.costs.samples_per_call.update(router.costs.samples_per_call)
    return made


@dataclass(frozen=True)
class _Request:
    outcomes: tuple[Outcome, ...]


def _reward(router: Router, item: Outcome, lam: float) -> float:
    arm = router.arms.find(item.arm) if isinstance(item.arm, str) else item.arm
    if item.cost is not None:
        cost = float(item.cost)
    elif item.usage is not None:
        cost = router.costs.observed_cost(arm.model, item.usage)
    else:
        cost = router.costs.predict(arm, item.input_tokens or 0)
    return float(item.score) - lam * cost


def _serve(router: Router, groups: Sequence[_Request], lam: float) -> list[float]:
    """Serve each request online: decide, score the chosen arm's record, learn it."""
    rewards = []
    for group in groups:
        first = group.outcomes[0]
        by_key = {(o.arm if isinstance(o.arm, str) else o.arm.key): o for o in group.outcomes}
        d = router.decide(first.request, features=first.features, allowed=list(by_key),
                          input_tokens=first.input_tokens, context=first.context)
        chosen = by_key[d.arm.key]
        rewards.append(_reward(router, chosen, lam))
        router.feedback(d.id, float(chosen.score),
                        cost=None if chosen.cost is None else float(chosen.cost))
    return rewards


def _best_arm(router: Router, groups: Sequence[_Request], lam: float) -> list[str]:
    """Arm keys ranked by mean reward over ``groups`` (where each arm has a record)."""
    totals: dict[str, list[float]] = {}
    for group in groups:
        for o in group.outcomes:
            key = o.arm if isinstance(o.arm, str) else o.arm.key
            totals.setdefault(key, []).append(_reward(router, o, lam))
    served = max(len(v) for v in totals.values())
    return sorted(totals, key=lambda k: (len(totals[k]) < served, -float(np.mean(totals[k]))))


def _fixed(router: Router, ranking: list[str], groups: Sequence[_Request], lam: float
           ) -> list[float]:
    out = []
    for group in groups:
        by_key = {(o.arm if isinstance(o.arm, str) else o.arm.key): o for o in group.outcomes}
        key = next(k for k in ranking if k in by_key)
        out.append(_reward(router, by_key[key], lam))
    return out


def tune_router(router: Router, records: Iterable[Any], *,
                alphas: Sequence[float] = (0.1, 0.3, 1.0),
                hybrid: Sequence[bool] = (True, False),
                dims: Sequence[int] | None = None, folds: int = 3) -> TuneReport:
    """Cross-validate settings on ``records`` and apply the best to ``router``.

    Args:
        router: A router that has not learned anything yet.
        records: Outcomes of an eval set, in time order (every arm on each request is
            best; a request is identified by its text and context, or its features).
        alphas: Exploration widths to try.
        hybrid: Whether to share evidence between arms (both tried by default).
        dims: Widths of the hashing featurizer to try (default: 32, 64, 128 when the
            router uses a :class:`HashingFeaturizer` and every record has a request).
        folds: Time-ordered folds; each fold after the first is served once by a router
            fitted on the folds before it.

    Returns:
        The report; the router is left fitted on every record with the chosen settings.
    """
    if router.policy.updates or len(router.pending):
        raise ConfigurationError(
            "tune() replaces what the router learned: call it on a fresh router, before "
            "serving traffic (then fit() more records or learn online)")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigurationError(f"folds must be a whole number >= 2, got {folds!r}")
    items = [as_outcome(r) for r in records]
    prepare_outcomes(router, items)  # every record checked before any work
    grouped: dict[str, list[Outcome]] = {}
    for item in items:
        grouped.setdefault(_group_key(item), []).append(item)
    groups = [_Request(tuple(v)) for v in grouped.values()]
    if len(groups) < folds:
        raise ConfigurationError(
            f"tune() needs at least {folds} distinct requests, got {len(groups)}")
    if dims is None:
        textual = all(o.features is None for o in items)
        dims = (32, 64, 128) if textual and isinstance(router.featurizer, HashingFeaturizer) \
            else ()
    grid = [dict(alpha=float(a), hybrid=bool(h), **({"dim": int(d)} if d else {}))
            for a, h, d in itertools.product(alphas, hybrid, list(dims) or [0])]
    lam = router.pacer.lam
    bounds = np.linspace(0, len(groups), folds + 1).astype(int)
    chunks = [groups[bounds[i]:bounds[i + 1]] for i in range(folds)]
    results: list[tuple[dict[str, Any], float]] = []
    fixed: list[float] = []
    for i in range(1, folds):
        seen = [g for chunk in chunks[:i] for g in chunk]
        fixed += _fixed(router, _best_arm(router, seen, lam), chunks[i], lam)
    for settings in grid:
        rewards: list[float] = []
        for i in range(1, folds):
            candidate = _make(router, settings)
            candidate.fit([o for chunk in chunks[:i] for g in chunk for o in g.outcomes])
            rewards += _serve(candidate, chunks[i], lam)
        results.append((settings, float(np.mean(rewards))))
    chosen, score = max(results, key=lambda r: r[1])
    best_arm = _best_arm(router, groups, lam)[0]
    fallback = float(np.mean(fixed)) >= score
    _apply(router, _make(router, chosen), items)
    if fallback and router.guard is None:
        router.guard = ConservativeGuard(best_arm, 0.0)
    return TuneReport(chosen, results, best_arm, float(np.mean(fixed)), fallback, len(groups))


def _apply(router: Router, tuned: Router, items: list[Outcome]) -> None:
    """Give ``router`` the tuned learner, fitted on every record."""
    tuned.fit(items)
    router.featurizer = tuned.featurizer
    router.context = tuned.context
    router.policy = tuned.policy
    router.costs = tuned.costs
    router.stats["fitted"] = router.stats.get("fitted", 0) + len(items)
