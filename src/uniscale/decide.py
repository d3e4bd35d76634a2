"""One decision: score every allowed arm, prune, explore, guard, record it as pending."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import validate
from .arms import Arm
from .conservative import guard_model
from .explain import CandidateTable
from .explore import choose
from .policy import kernels
from .results import Decision
from .store.memory import Pending

if TYPE_CHECKING:
    from .router import Router

__all__ = ["decide_arms", "slots_of"]


def slots_of(router: Router, arms: list[Arm]) -> np.ndarray | None:
    """The policy slots of ``arms`` (``None``: every slot, in order), cached per list."""
    cached = router._slot_cache
    policy = (id(router.policy), len(router.policy.slots))
    if cached is not None and cached[0] == policy and cached[1] == arms:
        return cached[2]
    index = np.array([router.policy.slot(a.key) for a in arms], dtype=np.int64)
    every = len(arms) == len(router.policy.slots) and np.array_equal(index,
                                                                      np.arange(len(arms)))
    slots = None if every else index
    router._slot_cache = (policy, list(arms), slots)
    return slots


def decide_arms(router: Router, x: np.ndarray, tokens: int, arms: list[Arm], *,
                new_request: bool, context: Mapping[str, Any] | None = None) -> Decision:
    """Choose one of ``arms`` for context ``x`` and keep the decision pending.

    The caller holds the router's lock. An arm is pruned when a cheaper arm's lower
    bound beats its upper bound; the rest are scored ``UCB - λ·cost`` and chosen by the
    router's exploration rule, then the conservative guard (when set) may keep the
    baseline instead.

    Args:
        router: The router deciding.
        x: The context vector (text features, then side features).
        tokens: Input tokens of the request.
        arms: The allowed arms.
        new_request: False for a fallback decision serving the same request.
        context: The side features, for the decision log.

    Returns:
        The decision.
    """
    policy = router.policy
    slots = slots_of(router, arms)
    router._refresh_samples_per_call()  # a backend may learn that its server refuses `n`
    costs = router.costs.predict_all(arms, tokens, x)
    lam = router.pacer.lam
    # estimates, the (decaying) bonus, bounds, dominated arms (a cheaper arm's lower bound
    # beats their upper bound) and scores
    mean, width, bonus, ucb, raw, keep, score, best, ties, pruned, finite = kernels.decide(
        policy, x, slots, router.alpha_decay, costs, lam, router.prune)
    if not finite:
        validate.finite_scores(raw)  # never NaN into the tie-break
    over: np.ndarray | None = None
    capped = False  # the arm wanted is over the ceiling
    ceiling = router.pacer.ceiling(new_request=new_request)
    if ceiling < math.inf and bool((costs > ceiling).any()):
        over = costs > ceiling
        # under a Budget, arms whose cost would take the spend past its tolerance
        # (the cheapest serves when none fits)
        if over.all():
            over = costs > costs.min()
        capped = bool(over[best])
        score = np.where(over, -np.inf, score)
        top = np.flatnonzero(score >= score.max() - 1e-12)
        best, ties = int(top[0]), len(top)
    if router.exploration == "ucb" and ties == 1:  # what choose() returns, without a draw
        pick, propensity = best, 1.0
    else:
        pick, propensity = choose(router.exploration, score, mean, bonus, policy.alpha,
                                  lam * costs, router.temperature, router.rng)
    # under a Budget, an answer that would leave the spend more than the tolerance under
    # the budget gives way to a dearer arm of no lower estimated quality (see Budget)
    floor = router.pacer.floor() if new_request else -math.inf
    short = bool(costs[pick] < floor)
    if short:
        lift, wanted = _lift(pick, costs, mean, raw, keep, over, floor, (floor + ceiling) / 2)
        capped = capped or wanted  # what is left unspent could have bought quality
        if lift is not None:
            pick, propensity = lift, 1.0
    guard = router.guard
    if guard is not None and len(arms) > 1:
        reward = mean - lam * costs
        value = mean if guard.quality_only else reward
        keys = [a.key for a in arms]
        prefer, stand_in = reward, None
        if over is not None:
            prefer = np.where(over, -np.inf, reward)
            stand_in = _stand_in(guard.baseline, guard.alternate, keys, mean, costs, over)
            # the mixture's dearer arm must wait for what cheaper answers leave unspent
            capped = capped or (stand_in is None and guard.alternate in keys
                                and bool(over[keys.index(guard.alternate)]))
        if short:  # the mixture's dearer arm (within the ceiling) serves while short
            prefer = np.where(np.isneginf(prefer), -np.inf, costs)
        safe = guard.choose(keys, value, value - guard.confidence * width, pick,
                            prefer=prefer, alternate=stand_in,
                            **guard_model(policy, x, mean, guard))
        if safe != pick:
            pick, propensity = safe, 1.0
    decision = Decision(
        id=f"{router._id_prefix}{next(router._id_count):016x}", arm=arms[pick],
        predicted_cost=float(costs[pick]),
        quality=float(mean[pick]), ucb=float(ucb[pick]), cost_weight=lam,
        input_tokens=tokens,
        pruned=tuple(arms[i].key for i in np.flatnonzero(~keep)) if pruned else (),
        propensity=propensity,
        table=CandidateTable(arms, mean, bonus, ucb, costs, raw, keep, pick),
    )
    evicted = router.pending.put(Pending(decision.id, arms[pick].key, x,
                                         decision.predicted_cost, decision.predicted_cost,
                                         router.pending.clock(), input_tokens=tokens))
    if evicted:
        router.stats["evicted"] = router.stats.get("evicted", 0) + evicted
    router.pacer.charge(decision.predicted_cost, new_request=new_request,
                        capped=capped)
    router.stats["decisions"] += 1
    if router.decision_log is not None:
        router.decision_log.decision(decision, x[:router.featurizer.dim], context,
                                     router.exploration)
    return decision


def _lift(pick: int, costs: np.ndarray, mean: np.ndarray, raw: np.ndarray, keep: np.ndarray,
          over: np.ndarray | None, floor: float, middle: float
          ) -> tuple[int | None, bool]:
    """What serves instead of ``pick`` when its cost leaves the spend under the floor.

    The candidates cost more than ``pick``, have an estimated quality at least its own and
    are neither pruned nor over the ceiling. Of those that bring the spend back to the
    budget (cost at least ``middle``, the mid-point of floor and ceiling), else of those
    that reach ``floor``, the one of best score (``raw``) serves; when none reaches the
    floor, the dearest. Returns the index (``None``: no candidate) and whether an arm
    dearer than the one served and of no lower estimated quality exists (then what is left
    unspent could have bought quality and stays owed, see :class:`~uniscale.Budget`).
    """
    def dearer(i: int) -> np.ndarray:
        return (costs > costs[i]) & (mean >= mean[i]) & keep

    fits = dearer(pick) if over is None else dearer(pick) & ~over
    if not fits.any():
        return None, bool(dearer(pick).any())
    reach = fits & (costs >= middle)  # back to the budget itself, else to the floor
    if not reach.any():
        reach = fits & (costs >= floor)
    lift = int(np.argmax(np.where(reach, raw, -np.inf) if reach.any()
                         else np.where(fits, costs, -np.inf)))
    return lift, bool(dearer(lift).any())


def _stand_in(baseline: str, alternate: str | None, keys: list[str], mean: np.ndarray,
              costs: np.ndarray, over: np.ndarray) -> str | None:
    """What serves for a budget mixture's dearer arm while the ceiling keeps it out.

    The arm within the ceiling that adds the most estimated quality per USD over the
    baseline (as the mixture's arm was chosen on the eval set), or ``None``: the dearer
    arm fits, or nothing within the ceiling beats the baseline.
    """
    if alternate is None or alternate not in keys or baseline not in keys \
            or not over[keys.index(alternate)]:
        return None
    b = keys.index(baseline)
    gain = np.where(~over & (costs > costs[b]) & (mean > mean[b]),
                    (mean - mean[b]) / np.maximum(costs - costs[b], 1e-300), -np.inf)
    return keys[int(np.argmax(gain))] if np.isfinite(gain).any() else None
