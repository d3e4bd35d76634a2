"""Warm start: outcomes recorded offline, learned in one batch.

An *eval set* run through every arm gives full information (each arm's score on each
prompt); a decision log gives bandit feedback (only the chosen arm's). Both are a list of
:class:`Outcome` records, which :meth:`Router.fit` learns in one batch add of the LinUCB
sums plus one re-factorisation, the cost model learning from the same records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .arms import Arm
from .errors import ConfigurationError, UniScaleError
from .evalcheck import EvalSetCheck, choose_ridge, held_out_reward
from .inputs import check_number
from .policy.blas import SerialBlas
from .policy.linucb import LinUCB
from .types import Usage

if TYPE_CHECKING:
    from .router import Router

__all__ = ["TRUST_Z", "Outcome", "PreparedOutcomes", "as_outcome", "fit_router",
           "prepare_outcomes"]

TRUST_Z = 0.0
"""Standard errors by which the held-out advantage of routing over the best single arm
must clear zero before the model is trusted (else that arm is kept as a baseline). On
train splits (``benchmarks/warm_resplit.py TABLE --seeds 16 --variants default,trust1,
trust2``), zero / one / two: date_mot 0.675 / 0.670 / 0.659 (trained router 0.682),
gsm8k_mot 0.589 / 0.592 / 0.592 (best-fixed 0.592), gsm8k_verifier 0.350 / 0.348 / 0.351,
aqua_pot −0.094 / −0.097 / −0.095, game24_tot 0.146 / 0.138 / 0.147. On test (``uniscale
bench TABLE --warm-start --seeds 8``), two to zero: date_mot 0.690 to 0.705 (trained router
0.706), game24_tot 0.133 to 0.140, gsm8k_verifier 0.387 to 0.370 (best-fixed 0.382),
aqua_pot 0.036 to −0.075 (73 prompts). The revised (CLUCB) guard: date_mot 0.660 on train."""

@dataclass(frozen=True)
class Outcome:
    """What one arm achieved on one request, recorded offline.

    Attributes:
        arm: The arm (an :class:`Arm` of the router, or its key such as
            ``"gpt-4o/single/1"``).
        score: Quality in ``[0, 1]``.
        request: The prompt or messages (featurised like a live request); or
        features: The context vector, instead of ``request``.
        cost: Observed USD, when known (teaches the cost model).
        usage: Billed tokens, when known (teaches the cost model better than ``cost``).
        context: Side features, as passed to :meth:`Router.decide`.
        input_tokens: Input tokens of the request, when known better than estimated.
        weight: How much this record counts (1 = one live feedback).
    """

    arm: Arm | str
    score: float
    request: Any = None
    features: Any = None
    cost: float | None = None
    usage: Usage | None = None
    context: Mapping[str, Any] | None = None
    input_tokens: int | None = None
    weight: float = 1.0


_FIELDS = {f.name for f in fields(Outcome)}


@dataclass(frozen=True)
class PreparedOutcomes:
    """Validated records, ready to be added to a router's state.

    Attributes:
        arms: Arm of each record.
        slots: ``(N,)`` policy slot of each record.
        X: ``(N, d)`` context vectors.
        scores: ``(N,)`` scores.
        weights: ``(N,)`` weights.
        tokens: ``(N,)`` input tokens of each request.
        costs: Observed USD per record (None: unknown).
        usages: Usage per record (None: unknown).
    """

    arms: list[Arm]
    slots: np.ndarray
    X: np.ndarray
    scores: np.ndarray
    weights: np.ndarray
    tokens: np.ndarray
    costs: list[float | None]
    usages: list[Usage | None]


def as_outcome(record: Any) -> Outcome:
    """``record`` as an :class:`Outcome` (from a mapping with the same keys)."""
    if isinstance(record, Outcome):
        return record
    if isinstance(record, Mapping):
        unknown = set(record) - _FIELDS
        if unknown:
            raise ConfigurationError(
                f"unknown outcome fields {sorted(unknown)}: use {sorted(_FIELDS)}")
        try:
            return Outcome(**record)
        except TypeError as exc:
            raise ConfigurationError(
                f"an outcome needs at least arm= and score=: {exc}") from None
    raise ConfigurationError(
        f"cannot learn from {type(record).__name__}: pass uniscale.Outcome(...) records "
        "or mappings with the keys arm, score and request or features")


def prepare_outcomes(router: Router, records: Iterable[Any]) -> PreparedOutcomes:
    """Validate every record and compute its context vector, changing nothing.

    Raises:
        UniScaleError: A record is malformed; the message names the record's position.
    """
    arms: list[Arm] = []
    rows: list[np.ndarray] = []
    scores: list[float] = []
    weights: list[float] = []
    tokens: list[int] = []
    costs: list[float | None] = []
    usages: list[Usage | None] = []
    if isinstance(records, (str, bytes, Mapping, Outcome)):
        raise ConfigurationError("fit() takes an iterable of outcomes, e.g. a list")
    for i, record in enumerate(records):
        try:
            item = as_outcome(record)
            arm = item.arm if isinstance(item.arm, Arm) else router.arms.find(str(item.arm))
            router.arms.index(arm)
            score = check_number("score", item.score, 1.0)
            weight = check_number("weight", item.weight, None)
            cost = None if item.cost is None else check_number("cost", item.cost, None)
            if item.usage is not None and not isinstance(item.usage, Usage):
                raise ConfigurationError(
                    f"usage must be a uniscale.Usage, got {type(item.usage).__name__}")
            if item.request is None and item.features is None:
                raise ConfigurationError(
                    "an outcome needs request= or features= (to warm start from a decision "
                    "log, write it with Router(log=..., log_features=True))")
            x, n_tokens = router.context_vector(item.request, item.features, item.input_tokens,
                                                item.context)
        except UniScaleError as exc:
            raise type(exc)(f"outcome #{i}: {exc}") from None
        arms.append(arm)
        rows.append(x)
        scores.append(score)
        weights.append(weight)
        tokens.append(n_tokens)
        costs.append(cost)
        usages.append(item.usage)
    slots = np.array([router.policy.slot(a.key) for a in arms], dtype=np.int64)
    dim = router.policy.dim
    X = np.vstack(rows) if rows else np.zeros((0, dim))
    return PreparedOutcomes(arms, slots, X, np.array(scores), np.array(weights),
                            np.array(tokens, dtype=np.int64), costs, usages)


def fit_router(router: Router, records: Iterable[Any], *, baseline: bool = True,
               cross_validate: bool = True) -> int:
    """Learn ``records`` into ``router`` (all or nothing); see :meth:`Router.fit`."""
    batch = prepare_outcomes(router, records)
    _learn_costs(router, batch)
    eval_set = _is_eval_set(batch)
    wanted = eval_set and (cross_validate or (baseline and router.guard is None))
    check = _check(router, batch, choose=cross_validate) if wanted else None
    if check is not None and cross_validate:
        policy = router.policy
        if check.hybrid != policy.hybrid and policy.updates == 0:
            router.policy = _fresh_policy(router, check.hybrid, check.ridge)
        else:
            policy.arm_ridge *= check.ridge / policy.ridge  # keeps a configured ratio
            policy.ridge = check.ridge  # add_batch re-factorises with it
    with SerialBlas(router.policy.blas_threads):
        router.policy.add_batch(batch.slots, batch.X, batch.scores, batch.weights)
    router.stats["fitted"] = router.stats.get("fitted", 0) + len(batch.arms)
    if check is not None:
        router.stats["eval_set"] = _summary(check)
    _start_pacer(router, batch)
    if baseline and router.guard is None and eval_set:
        _keep_best_arm(router, batch, check)
    return len(batch.arms)


def _learn_costs(router: Router, batch: PreparedOutcomes) -> None:
    # the token model learns every record in one pass; BLAS on the policy's threads
    with SerialBlas(router.policy.blas_threads), router.costs.batch():
        for i, arm in enumerate(batch.arms):
            usage, usd = batch.usages[i], batch.costs[i]
            x, tokens = batch.X[i], int(batch.tokens[i])
            if usage is not None:
                router.costs.observe(arm, usage.output_tokens, arm.n,
                                     input_tokens=usage.input_tokens, calls=usage.calls,
                                     request_tokens=tokens, x=x)
            elif usd is not None:
                router.costs.observe_cost(arm, usd, tokens, x)


def _is_eval_set(batch: PreparedOutcomes) -> bool:
    """Several arms recorded on most requests (an eval set, not a decision log)."""
    if len(batch.arms) == 0:
        return False
    _, per_request = np.unique(batch.X, axis=0, return_counts=True)
    return float(np.median(per_request)) >= 2


def _record_costs(router: Router, batch: PreparedOutcomes) -> np.ndarray:
    """USD of each record: observed, else billed from its usage, else predicted."""
    cost = np.array([np.nan if c is None else c for c in batch.costs], dtype=float)
    for i in np.flatnonzero(np.isnan(cost)):
        usage = batch.usages[i]
        arm = batch.arms[i]
        cost[i] = router.costs.observed_cost(arm.model, usage) if usage is not None \
            else router.costs.predict(arm, int(batch.tokens[i]), batch.X[i])
    return cost


def _check(router: Router, batch: PreparedOutcomes, *, choose: bool, folds: int = 5
           ) -> EvalSetCheck | None:
    """Cross-validate the eval set (see :mod:`uniscale.evalcheck`).

    With ``choose``, the ridge prior and the sharing are chosen; otherwise the router's
    own settings are only evaluated. The sharing is the one of least held-out squared
    error of the score (every arm scored on every held-out request), not of best greedy
    held-out reward: the reward compares one noisy outcome per request and rarely
    separates the two (routerbench: disjoint ahead by 0.75 standard errors, kept shared
    under the former rule, the reward two standard errors ahead), the error uses every
    record. On train splits only (each table's train prompts split again, 70% eval set,
    30% online): routerbench 0.822 to 0.826 (8 seeds; the trained router 0.828),
    date_mot 0.662 to 0.659 (16 seeds, a tie at ±0.011).
    """
    X, first, request = np.unique(batch.X, axis=0, return_index=True, return_inverse=True)
    request = np.asarray(request).reshape(-1)
    R = len(X)
    if R < 2 or len(batch.arms) == 0:
        return None
    fold_of = np.arange(R) % min(folds, R)
    keys = sorted({a.key for a in batch.arms})
    index = {k: j for j, k in enumerate(keys)}
    arm_of = {a.key: a for a in batch.arms}
    col = np.array([index[a.key] for a in batch.arms], dtype=np.int64)
    lam = router.pacer.lam
    value = np.full((R, len(keys)), np.nan)
    value[request, col] = batch.scores - lam * _record_costs(router, batch)
    cost = np.stack([router.costs.predict_all([arm_of[k] for k in keys],
                                              int(batch.tokens[i]), batch.X[i])
                     for i in first])
    with SerialBlas(router.policy.blas_threads):  # many small factorisations
        ridge, errors = (choose_ridge(X, request, col, batch.scores, batch.weights,
                                      len(keys), fold_of) if choose
                         else (router.policy.ridge, {}))
        sharing = (True, False) if choose and router.policy.hybrid else (router.policy.hybrid,)
        quality = {h: _held_out_quality(router, batch, X, request, fold_of, keys, ridge, h)
                   for h in sharing}
    held = {h: held_out_reward(value, q - lam * cost, fold_of) for h, q in quality.items()}
    score = np.full((R, len(keys)), np.nan)
    score[request, col] = batch.scores
    error = {h: float(np.nanmean((q - score) ** 2)) for h, q in quality.items()}
    # the configured sharing, unless the other predicts the held-out scores better
    hybrid = router.policy.hybrid
    if len(held) == 2 and error[False] < error[True]:
        hybrid = False
    best = held[hybrid]
    count = (~np.isnan(value)).sum(0)
    overall = np.nanmean(np.where(count >= 0.9 * count.max(), value, -np.inf), axis=0)
    return EvalSetCheck(
        ridge, errors, hybrid, {"hybrid" if h else "disjoint": held[h].model_reward
                                for h in sharing},
        best.model_reward, keys[int(np.argmax(overall))], best.best_arm_reward,
        best.advantage, best.stderr, best.advantage > TRUST_Z * best.stderr,
        {"hybrid" if h else "disjoint": e for h, e in error.items()})


def _fresh_policy(router: Router, hybrid: bool, ridge: float) -> LinUCB:
    """An empty policy like the router's, with ``hybrid`` and prior ``ridge``."""
    policy = router.policy
    config = policy.config()
    config.update(hybrid=hybrid, ridge=ridge, arm_ridge=policy.arm_ridge * ridge / policy.ridge)
    fresh = LinUCB(**config)
    for k, key in enumerate(policy.slots):
        fresh.add_slot(key, dict(zip(policy.columns, policy.desc[k], strict=True)))
    return fresh


def _held_out_quality(router: Router, batch: PreparedOutcomes, X: np.ndarray,
                      request: np.ndarray, fold_of: np.ndarray, keys: list[str],
                      ridge: float, hybrid: bool) -> np.ndarray:
    """``(R, A)`` quality of each arm on each request, by a policy fitted without its fold."""
    out = np.zeros((len(X), len(keys)))
    rec_fold = fold_of[request]
    for f in np.unique(fold_of):
        policy = _fresh_policy(router, hybrid, ridge)
        train = rec_fold != f
        policy.add_batch(batch.slots[train], batch.X[train], batch.scores[train],
                         batch.weights[train])
        slots = np.array([policy.slot(k) for k in keys], dtype=np.int64)
        for r in np.flatnonzero(fold_of == f):
            out[r] = policy.estimate(X[r], slots)[0]
    return out


def _summary(check: EvalSetCheck) -> dict[str, Any]:
    return {"ridge": check.ridge, "hybrid": check.hybrid, "held_out": dict(check.held_out),
            "model_reward": check.model_reward, "best_arm": check.best_arm,
            "best_arm_reward": check.best_arm_reward, "advantage": check.advantage,
            "stderr": check.stderr, "routing_pays": check.routing_pays,
            "sharing_error": dict(check.sharing_error)}


def _keep_best_arm(router: Router, batch: PreparedOutcomes, check: EvalSetCheck | None
                   ) -> None:
    """Make the eval set's best single arm a baseline the router leaves only when sure.

    Only for an eval set (several arms recorded on most requests). The best arm is the
    one of highest mean reward on the records (under a :class:`Budget`: of highest mean
    score among those whose mean cost fits the budget); the router serves another arm
    only while its pessimistic estimate keeps the running reward at or above the
    baseline's. The baseline is installed only where the eval set's cross-validation
    found that routing does not pay (:data:`TRUST_Z`), so no slack is given: on train
    re-splits (``benchmarks/warm_resplit.py TABLE --seeds 8``), a slack of 0 against the
    former 2% — paretobandit table +0.0008 ± 0.0003, gsm8k_mot +0.0009 ± 0.0004,
    gsm8k_verifier +0.0001 ± 0.0009, game24_tot and aqua_pot (16 seeds) unchanged; 1%
    was between. (2% was chosen when every eval set installed a baseline, where routing
    pays too: there 0 held on to it, routerbench 0.795 against 0.802.) Under a
    :class:`Budget` the baseline is a mixture: the
    best affordable arm and, as its ``alternate``, the dearer arm that adds the most
    quality per USD over it (see :mod:`uniscale.conservative`).
    """
    from .conservative import ConservativeGuard
    from .objective import Budget

    objective = router.pacer.objective
    if check is not None and check.routing_pays and not isinstance(objective, Budget):
        return
    cost = _record_costs(router, batch)
    keys = sorted({a.key for a in batch.arms})
    index = {k: j for j, k in enumerate(keys)}
    col = np.array([index[a.key] for a in batch.arms])
    n = np.bincount(col, minlength=len(keys)).astype(float)
    served = n >= 0.9 * n.max()  # arms that served (nearly) every request
    mean_q = np.bincount(col, batch.scores, len(keys)) / np.maximum(n, 1)
    mean_c = np.bincount(col, cost, len(keys)) / np.maximum(n, 1)
    if not isinstance(objective, Budget):
        value = np.where(served, mean_q - router.pacer.lam * mean_c, -np.inf)
        router.guard = ConservativeGuard(keys[int(np.argmax(value))], 0.0)
        return
    fits = served & (mean_c <= objective.per_request)
    if not fits.any():
        return
    best = int(np.argmax(np.where(fits, mean_q, -np.inf)))
    # the best fixed policy under a budget mixes the best affordable arm with the dearer
    # arm of best quality gained per USD: alone the affordable arm leaves the rest of the
    # budget unspent (paretobandit table: 18.6% under it), and the mixture is no worse
    slope = np.where(served & (mean_c > objective.per_request) & (mean_q > mean_q[best]),
                     (mean_q - mean_q[best]) / np.maximum(mean_c - mean_c[best], 1e-300),
                     -np.inf)
    alternate = keys[int(np.argmax(slope))] if np.isfinite(slope).any() else None
    # under a Budget the guard's rewards carry a large λ·cost term, so any slack in
    # reward units let the router trade quality away (paretobandit table: quality 0.835
    # with 2% against 0.927 with none, the best affordable arm 0.928)
    router.guard = ConservativeGuard(keys[best], 0.0, alternate=alternate, quality_only=True)


def _start_pacer(router: Router, batch: PreparedOutcomes, limit: int = 2000) -> None:
    """Under a :class:`Budget` not yet serving, start λ where the fitted model spends B.

    On the eval set's requests, the cost weight is chosen (by bisection on ``log λ``) as
    the smallest whose greedy choices — estimated quality minus ``λ`` × predicted cost,
    over every arm — have a mean predicted cost within the budget, so a short stream
    does not spend its first part finding λ.
    """
    from .objective import Budget

    objective = router.pacer.objective
    if not isinstance(objective, Budget) or router.pacer.requests or len(batch.arms) == 0:
        return
    _, first = np.unique(batch.X, axis=0, return_index=True)
    first = np.sort(first)[:: max(1, -(-len(first) // limit))]
    arms = list(router.arms)
    slots = np.array([router.policy.slot(a.key) for a in arms], dtype=np.int64)
    quality = np.stack([router.policy.estimate(batch.X[i], slots)[0] for i in first])
    cost = np.stack([router.costs.predict_all(arms, int(batch.tokens[i]), batch.X[i])
                     for i in first])
    rows = np.arange(len(first))

    def spend(lam: float) -> float:
        return float(cost[rows, np.argmax(quality - lam * cost, axis=1)].mean())

    budget = objective.per_request
    if spend(0.0) <= budget:
        router.pacer.multiplier = 0.0
        return
    lo, hi = -6.0, 12.0  # log10 of λ · B
    if spend(10 ** hi / budget) > budget:
        return  # nothing fits the budget: keep the configured start
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if spend(10 ** mid / budget) <= budget else (mid, hi)
    router.pacer.multiplier = float(10 ** hi)
