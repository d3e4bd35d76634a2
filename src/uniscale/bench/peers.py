"""The ``paretobandit`` peer: the published ParetoBandit router, through its public API.

ParetoBandit (PyPI ``paretobandit``, Apache-2.0) is a disjoint LinUCB router over models
with a static log-price penalty, forgetting, and a primal-dual budget pacer. Here it is
fed what the UniScale learners get:

* the same arms (each ``(model, strategy, n)`` arm is one entry of its model registry),
  the same prompt feature vectors (through ``FeatureService.for_precomputed``, with the
  constant bias coordinate it expects appended) and the same stream;
* the same rewards: under a trade-off ``quality − cost/W`` (its reward range widened with
  ``RouterConfig(reward_min=...)``, its static price penalty off, since a fixed penalty
  on the log list price has no exchange rate to W); under a budget the quality, with its
  ``BudgetPacer`` (``ADAPTIVE`` mode, as in its own budget experiments) tracking the
  target from the realised cost of every request (set on the routing log before
  feedback, as its own demo does);
* under ``--warm-start``, the eval set through ``BanditRouter.update`` (its documented
  batch path; one time step per train prompt, every arm observed). Its
  ``generate_warmup_priors`` needs its sentence-transformer encoder and PCA and a
  joblib file, so it is not used.

What does not map: it has no per-request set of allowed arms; where its pick cannot
serve a prompt (ragged tables) the request is served by the allowed arm its policy scores
highest (``DisjointLinUCBPolicy.select_arm`` with ``candidates=``) and that arm gets the
feedback. Its registry prices are per model, so an ``n``-sample arm is priced with ``n``
times the output price (what one call with ``n`` completions costs); strategy templates
are not priced. Its hyperparameters are its published defaults.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from ..objective import Budget, Objective, Tradeoff
from .env import ReplayEnv
from .evalset import EvalSet
from .hindsight import Trace

__all__ = ["PEER_NAME", "ParetoBanditPeer", "paretobandit_available", "run_paretobandit"]

PEER_NAME = "paretobandit"

Progress = Callable[[int], None]


def paretobandit_available() -> bool:
    """True when the ``paretobandit`` package is installed (without importing it)."""
    return importlib.util.find_spec("pareto_bandit") is not None


def _with_bias(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((X.shape[0], 1))])


class ParetoBanditPeer:
    """A ParetoBandit ``BanditRouter`` over some arms of a replay environment.

    Args:
        env: The environment.
        arms: Boolean mask of the arms it routes among.
        objective: Trade-off or budget.
        dim: Width of the feature vectors (before the bias coordinate).
        seed: Seed of its tie-breaking generator.
        reward_floor: Lowest reward it may be fed (trade-off: ``−max cost / W``).
    """

    def __init__(self, env: ReplayEnv, arms: np.ndarray, objective: Objective, dim: int,
                 seed: int, reward_floor: float = 0.0) -> None:
        from pareto_bandit import BanditRouter, FeatureService, RouterConfig
        from pareto_bandit.budget_pacer import BudgetPacer, PacingMode

        logging.getLogger("pareto_bandit").setLevel(logging.ERROR)
        self.env = env
        self.index = np.flatnonzero(arms)
        self.keys = [env.arms[i].key for i in self.index]
        self.key_arm = {k: int(i) for k, i in zip(self.keys, self.index, strict=True)}
        registry = {}
        for i, key in zip(self.index, self.keys, strict=True):
            price = env.table.prices[str(env.arm_model[i])]
            registry[key] = {"input_cost_per_m": price.input,
                             "output_cost_per_m": price.output * int(env.arm_n[i])}
        pacer = None
        if isinstance(objective, Budget):
            pacer = BudgetPacer(target_avg_spend_usd=objective.per_request,
                                mode=PacingMode.ADAPTIVE)
        self.lam = 1.0 / objective.willingness_to_pay if isinstance(objective, Tradeoff) \
            else 0.0
        config = RouterConfig(reward_min=min(0.0, reward_floor), reward_max=1.0)
        self.router = BanditRouter.create(
            model_registry=registry, priors="none",
            feature_service=FeatureService.for_precomputed(dim + 1),
            cost_penalty=0.0, budget_pacer=pacer, bandit_seed=seed, config=config)

    def reward(self, quality: float, cost: float) -> float:
        """The reward it is fed: ``quality − cost/W`` (trade-off) or the quality (budget)."""
        return quality - self.lam * cost

    def warm_start(self, evalset: EvalSet, X: np.ndarray) -> int:
        """Learn the eval set through ``BanditRouter.update`` (one time step per prompt).

        Returns:
            The number of records learned.
        """
        Xb = _with_bias(X)
        own = np.isin(evalset.arm, self.index)
        last = -1
        count = 0
        for p, a, s, c in zip(evalset.prompt[own], evalset.arm[own], evalset.score[own],
                              evalset.cost[own], strict=True):
            self.router.update(self.env.arms[a].key, Xb[p], self.reward(float(s), float(c)),
                               advance_time=bool(p != last))
            last = p
            count += 1
        return count

    def route(self, x: np.ndarray, allowed: np.ndarray) -> tuple[int, Any]:
        """Pick an arm for the feature vector ``x`` (with bias) among ``allowed`` arms."""
        key, log = self.router.route(x)
        arm = self.key_arm[key]
        if not allowed[arm]:
            keys = [self.keys[j] for j, i in enumerate(self.index) if allowed[i]]
            key, _ = self.router.bandit.select_arm(x, candidates=keys)
            log.selected_model = key
            arm = self.key_arm[key]
        return arm, log

    def feedback(self, log: Any, quality: float, cost: float) -> None:
        """Report the outcome of a routed request (the realised cost goes to its pacer)."""
        log.cost_usd = float(cost)
        self.router.process_feedback(log.request_id, reward=self.reward(quality, cost))


def run_paretobandit(env: ReplayEnv, arms: np.ndarray, objective: Objective,
                     order: np.ndarray, X: np.ndarray, seed: int, *,
                     evalset: EvalSet | None = None, progress: Progress | None = None,
                     fallback: np.ndarray | None = None) -> Trace:
    """ParetoBandit online over a stream (warm-started on ``evalset`` when given).

    Args:
        env: The environment.
        arms: Boolean mask of its arms.
        objective: The objective.
        order: Table row served at each step.
        X: ``(P, d)`` feature vectors.
        seed: Seed of its generator and of the replayed draws.
        evalset: Eval set to warm-start from.
        progress: Called with steps done.
        fallback: Arm per step serving prompts none of its arms can serve.
    """
    lam = 1.0 / objective.willingness_to_pay if isinstance(objective, Tradeoff) else 0.0
    max_cost = float(np.nanmax(np.where(env.allowed, 1.0, np.nan)
                               * env.table.cost.max(axis=2)[:, env.arm_pair]
                               * env.arm_n[None, :]))
    peer = ParetoBanditPeer(env, arms, objective, X.shape[1], seed,
                            reward_floor=-lam * max_cost)
    if evalset is not None:
        peer.warm_start(evalset, X)
    Xb = _with_bias(X)
    rng = np.random.default_rng([seed, 7])
    steps = len(order)
    out_arm = np.zeros(steps, dtype=np.int64)
    out_q, out_c = np.zeros(steps), np.zeros(steps)
    for t, p in enumerate(order):
        allowed = env.allowed[p] & arms
        if not allowed.any() and fallback is not None:
            a, log = int(fallback[t]), None
        else:
            a, log = peer.route(Xb[p], allowed)
        g, n = int(env.arm_pair[a]), int(env.arm_n[a])
        rows = env.draw(int(p), g, n, rng)
        quality = float(env.table.score[p, g, env.chosen(int(p), g, rows)])
        cost = env.cost(int(p), g, rows)
        if log is not None:
            peer.feedback(log, quality, cost)
        out_arm[t], out_q[t], out_c[t] = a, quality, cost
        if progress is not None and (t % 50 == 49 or t == steps - 1):
            progress(50 if t % 50 == 49 else t % 50 + 1)
    return Trace(out_arm, out_q, out_c)
