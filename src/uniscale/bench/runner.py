"""Running policies over a replayed prompt stream.

Learning policies are real :class:`~uniscale.Router` instances: every request goes
through :meth:`Router.invoke` on :class:`~uniscale.bench.env.ReplayBackend` backends and
its replayed score comes back through :meth:`Router.feedback`, as in a user's app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cost import Price
from ..features import HashingFeaturizer
from ..objective import Budget, Objective, Tradeoff
from ..router import Router
from ..types import as_messages
from .env import DEFAULT_N_GRID, PROMPT_OPTION, Expected, ReplayEnv, replay_backends
from .policies import (
    ALL_POLICIES,
    LEARNERS,
    RouterSettings,
    budget_lambda,
    fixed_policies,
    oracle_choice,
)
from .scenarios import Phase, Scenario
from .table import Table

__all__ = ["Context", "SeedRun", "Trace", "cost_weight", "run_seed"]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Trace:
    """What one policy did at every step of a stream.

    Attributes:
        arm: ``(T,)`` arm index per step (``-1``: a mixture, for ``random``).
        quality: ``(T,)`` score of the answer (expected, for hindsight policies).
        cost: ``(T,)`` USD spent.
    """

    arm: np.ndarray
    quality: np.ndarray
    cost: np.ndarray


@dataclass(frozen=True)
class SeedRun:
    """One seed's stream and every policy's trace on it.

    Attributes:
        seed: The seed.
        order: ``(T,)`` prompt index served at each step.
        is_test: ``(T,)`` True where the prompt belongs to the test split.
        lam: ``(T,)`` cost weight used to score rewards at each step.
        traces: Trace per policy name (``"best-fixed:test"``: the fixed arm best on the
            test part, used for the test figures of ``best-fixed``).
        fixed_arm: Arm index of ``best-fixed`` for the whole stream and for the test part.
    """

    seed: int
    order: np.ndarray
    is_test: np.ndarray
    lam: np.ndarray
    traces: Mapping[str, Trace]
    fixed_arm: Mapping[str, int]


class Context:
    """A table prepared for replay: environment, expected outcomes, features.

    The learners see only what a user's app sees: the prompt text (featurised, and
    counted for the input estimate) and the usage the replayed backend reports; the
    router's cost model learns each strategy's extra input (its template) from usage.

    Args:
        table: The replay table.
        aggregate: ``"vote"`` or ``"best"`` (see :class:`ReplayEnv`).
        n_grid: Candidate sample counts.
        mc_samples: Monte Carlo draws for the expected vote of ``n > 1`` arms.
    """

    def __init__(self, table: Table, *, aggregate: str = "vote",
                 n_grid: Sequence[int] = DEFAULT_N_GRID, mc_samples: int = 128) -> None:
        self.table = table
        self.n_grid = tuple(n_grid)
        self.mc_samples = mc_samples
        self.env = ReplayEnv(table, aggregate=aggregate, n_grid=n_grid)
        self.expected: Expected = self.env.expected(samples=mc_samples)
        self._features: dict[int, np.ndarray] = {}

    def features(self, dim: int) -> np.ndarray:
        """``(P, dim)`` hashing features of every prompt (computed once per width)."""
        if dim not in self._features:
            fz = HashingFeaturizer(dim)
            self._features[dim] = np.stack(
                [fz.transform(as_messages(str(p))) for p in self.table.prompts])
        return self._features[dim]

    def policy_mask(self, name: str, fixed_model: str) -> np.ndarray:
        """Arms a learning policy may use."""
        env = self.env
        if name == "uniscale":
            return np.ones(env.n_arms, dtype=bool)
        if name == "routing-only":
            return env.arm_n == 1
        if name == "tts-only":
            return env.arm_model == fixed_model
        raise ValueError(f"{name!r} is not a learning policy")


def cost_weight(objective: Objective) -> float:
    """λ used to score rewards: ``1/W`` for a trade-off, 0 for a budget (reward = quality)."""
    return 1.0 / objective.willingness_to_pay if isinstance(objective, Tradeoff) else 0.0


def _stream(ctx: Context, scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    is_test = ctx.table.is_test
    if scenario.order == "split":
        train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        return np.concatenate([rng.permutation(train), rng.permutation(test)])
    datasets = sorted(set(ctx.table.datasets))
    if len(datasets) > 1:
        group = np.array([datasets.index(d) for d in ctx.table.datasets])
    else:
        q = np.nanmean(ctx.expected.quality[:, ctx.env.arm_n == 1], axis=1)
        group = (q < np.median(q)).astype(int)
    return np.lexsort((rng.random(len(group)), group))


def _conditions(ctx: Context, scenario: Scenario, steps: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step: phase index, price scale of every arm, visibility of every arm."""
    env = ctx.env
    phase = scenario.phase_at(steps)
    scale = np.ones((len(scenario.phases), env.n_arms))
    visible = np.ones((len(scenario.phases), env.n_arms), dtype=bool)
    for i, ph in enumerate(scenario.phases):
        for model, factor in ph.price_scale.items():
            scale[i, env.arm_model == model] = factor
        for model in ph.hidden_models:
            visible[i, env.arm_model == model] = False
    return phase, scale[phase], visible[phase]


def _hindsight(ctx: Context, objective: Objective, scenario: Scenario, order: np.ndarray,
               is_test: np.ndarray, policies: Sequence[str]
               ) -> tuple[dict[str, Trace], dict[str, int], np.ndarray]:
    steps = len(order)
    phase, scale, visible = _conditions(ctx, scenario, steps)
    Q = ctx.expected.quality[order]
    C = ctx.expected.cost[order] * scale
    allowed = ctx.env.allowed[order] & visible
    lam_report = np.full(steps, cost_weight(objective))
    lam_oracle = lam_report.copy()
    budget = None
    if isinstance(objective, Budget):
        targets = np.array([objective.per_request * ph.budget_scale
                            for ph in scenario.phases])[phase]
        budget = float(targets.mean())
        for i in range(len(scenario.phases)):
            sel = phase == i
            if sel.any():
                lam_oracle[sel] = budget_lambda(Q[sel], C[sel], allowed[sel],
                                                float(targets[sel][0]))
    rows = np.arange(steps)
    traces: dict[str, Trace] = {}

    def trace(choice: np.ndarray) -> Trace:
        return Trace(choice, np.nan_to_num(Q[rows, choice]), np.nan_to_num(C[rows, choice]))

    if "oracle" in policies:
        traces["oracle"] = trace(oracle_choice(Q - lam_oracle[:, None] * C, allowed))
    if "random" in policies:
        n_ok = allowed.sum(1)
        traces["random"] = Trace(np.full(steps, -1),
                                 np.where(allowed, np.nan_to_num(Q), 0).sum(1) / n_ok,
                                 np.where(allowed, np.nan_to_num(C), 0).sum(1) / n_ok)
    always = np.asarray(visible.all(0), dtype=bool)
    fixed = fixed_policies(Q, C, allowed, lam_report)
    best = fixed.best(budget, always)
    rewards_test = (np.nan_to_num(Q[rows, fixed.choices]) - lam_report
                    * np.nan_to_num(C[rows, fixed.choices]))[:, is_test]
    if is_test.any():
        if budget is None:
            best_test = int(np.argmax(np.where(always, rewards_test.mean(1), -np.inf)))
        else:
            test_fixed = fixed_policies(Q[is_test], C[is_test], allowed[is_test], 0.0)
            best_test = test_fixed.best(budget, always)
    else:
        best_test = best
    traces["best-fixed"] = trace(fixed.choices[best])
    traces["best-fixed:test"] = trace(fixed.choices[best_test])
    return traces, {"all": best, "test": best_test}, lam_report


def _learn(ctx: Context, name: str, mask: np.ndarray, objective: Objective,
           scenario: Scenario, order: np.ndarray, seed: int, settings: RouterSettings,
           progress: Progress | None, fallback: np.ndarray) -> Trace:
    """One learner over the stream.

    Where none of the policy's arms can serve a prompt (a ragged table), the request is
    served by ``fallback[t]`` (the best fixed policy's arm), added to the router then.
    """
    env, table = ctx.env, ctx.table
    X = ctx.features(settings.dim)
    steps = len(order)
    phases = scenario.phases
    hidden0 = set(phases[0].hidden_models)
    arms = [a for i, a in enumerate(env.arms) if mask[i] and a.model not in hidden0]
    router = Router(
        arms, prices=table.prices, objective=objective,
        backends=replay_backends(env, table.models, seed),
        featurizer=HashingFeaturizer(settings.dim), alpha=settings.alpha,
        ridge=settings.ridge, arm_ridge=settings.arm_ridge, forgetting=settings.forgetting,
        hybrid=settings.hybrid,
        prior_output_tokens=settings.prior_output_tokens, seed=seed,
    )
    in_router = np.array([a in router.arms for a in env.arms])
    own = in_router.copy()  # the policy's own arms that exist so far
    arm_scale = np.ones(env.n_arms)
    starts = {ph.start: ph for ph in phases[1:]}
    out_arm = np.zeros(steps, dtype=np.int64)
    out_q = np.zeros(steps)
    out_c = np.zeros(steps)
    for t, p in enumerate(order):
        ph = starts.get(t)
        if ph is not None:
            _apply_phase(router, ctx, ph, objective, mask, own, arm_scale)
            in_router |= own
        ok = env.allowed[p] & own
        if not ok.any():
            fb = int(fallback[t])
            if not in_router[fb]:
                router.add_arm(env.arms[fb])
                in_router[fb] = True
            ok = np.zeros_like(ok)
            ok[fb] = True
        allowed = env.arms_where(ok)
        result = router.invoke(str(table.prompts[p]), features=X[p], allowed=allowed,
                               **_replay_option(int(p)))
        a = env.arm_index[result.decision.arm]
        _, g, k = result.sample.payload
        quality = float(table.score[p, g, k])
        cost = env.cost(p, g, (s.payload[2] for s in result.samples), arm_scale[a])
        router.feedback(result.decision.id, quality, cost=cost)
        out_arm[t], out_q[t], out_c[t] = a, quality, cost
        if progress is not None and (t % 50 == 49 or t == steps - 1):
            progress(50 if t % 50 == 49 else t % 50 + 1)
    return Trace(out_arm, out_q, out_c)


def _replay_option(p: int) -> dict[str, Any]:
    """The request option naming the replayed prompt."""
    return {PROMPT_OPTION: p}


def _apply_phase(router: Router, ctx: Context, phase: Phase, objective: Objective,
                 mask: np.ndarray, own: np.ndarray, arm_scale: np.ndarray) -> None:
    """Enter ``phase``: prices, budget target and newly available arms."""
    env, table = ctx.env, ctx.table
    arm_scale[:] = 1.0
    for model in table.models:
        factor = phase.price_scale.get(model, 1.0)
        base = table.prices[model]
        router.set_price(model, Price(base.input * factor, base.output * factor))
        arm_scale[env.arm_model == model] = factor
    if isinstance(objective, Budget):
        shifted = Budget(objective.per_request * phase.budget_scale, step=objective.step,
                         initial_multiplier=objective.initial_multiplier)
        router.objective = shifted
        router.pacer.objective = shifted  # keeps the learned multiplier: λ = μ / B
    for i, arm in enumerate(env.arms):
        if mask[i] and not own[i] and arm.model not in phase.hidden_models:
            if arm not in router.arms:
                router.add_arm(arm)
            own[i] = True


def run_seed(ctx: Context, objective: Objective, seed: int, *,
             policies: Sequence[str] = ALL_POLICIES,
             settings: RouterSettings | Mapping[str, RouterSettings] | None = None,
             scenario: Scenario | None = None, progress: Progress | None = None) -> SeedRun:
    """Run every policy over one seed's stream.

    Args:
        ctx: The prepared table.
        objective: :class:`Tradeoff` or :class:`Budget`.
        seed: Seed of the stream order, the replayed draws and the routers.
        policies: Policy names (see :data:`~uniscale.bench.policies.ALL_POLICIES`).
        settings: Hyperparameters of the learning policies (one for all, or per policy).
        scenario: Conditions that change mid-stream (default: none).
        progress: Called with the number of learner steps done since the last call.

    Returns:
        The traces.
    """
    per_policy = settings if isinstance(settings, Mapping) else {}
    default = settings if isinstance(settings, RouterSettings) else RouterSettings()
    scenario = scenario or Scenario()
    unknown = set(policies) - set(ALL_POLICIES)
    if unknown:
        raise ValueError(f"unknown policies {sorted(unknown)}; known: {list(ALL_POLICIES)}")
    rng = np.random.default_rng(seed)
    order = _stream(ctx, scenario, rng)
    is_test = ctx.table.is_test[order]
    traces, fixed_arm, lam = _hindsight(ctx, objective, scenario, order, is_test, policies)
    fixed_model = str(ctx.env.arm_model[fixed_arm["all"]])
    for name in policies:
        if name in LEARNERS:
            mask = ctx.policy_mask(name, fixed_model)
            traces[name] = _learn(ctx, name, mask, objective, scenario, order, seed,
                                  per_policy.get(name, default), progress,
                                  traces["best-fixed"].arm)
    return SeedRun(seed, order, is_test, lam, traces, fixed_arm)
