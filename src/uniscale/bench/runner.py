"""Running policies over a replayed prompt stream.

Learning policies are real :class:`~uniscale.Router` instances: every request goes
through :meth:`Router.invoke` on :class:`~uniscale.bench.env.ReplayBackend` backends and
its replayed score comes back through :meth:`Router.feedback`, as in a user's app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..cost import Price
from ..errors import ConfigurationError
from ..features import HashingFeaturizer
from ..objective import Budget, Objective
from ..router import Router
from ..types import as_messages
from .env import DEFAULT_N_GRID, PROMPT_OPTION, Expected, ReplayEnv, replay_backends
from .evalset import EvalSet, outcome_records, run_eval_set
from .feedback import FeedbackOptions
from .hindsight import Trace, conditions, cost_weight, expected_trace, hindsight
from .mabpeer import MAB_NAME, run_mabwiser
from .peers import PEER_NAME, run_paretobandit
from .policies import ALL_POLICIES, KNOWN_POLICIES, LEARNERS, RouterSettings, policy_mask
from .scenarios import Phase, Scenario
from .sidecontext import CONTEXT_DIM, SideContext, side_context
from .table import Table
from .trained import fit_trained_router

__all__ = ["Context", "SeedRun", "Trace", "cost_weight", "run_seed"]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class SeedRun:
    """One seed's stream and every policy's trace on it.

    Attributes:
        seed: The seed.
        order: ``(T,)`` prompt index served at each step.
        is_test: ``(T,)`` True where the prompt belongs to the test split.
        lam: ``(T,)`` cost weight used to score rewards at each step.
        traces: Trace per policy name (``"best-fixed-hindsight"``: the fixed arm best on
            the test part, a labelled reference).
        fixed_arm: Arm index of ``best-fixed`` (chosen on train) and of the fixed arm
            best on the test part (``{"train": ..., "test": ...}``).
        warm_start: Whether the learners were warm-started on the train split (the
            stream is then the test part only).
    """

    seed: int
    order: np.ndarray
    is_test: np.ndarray
    lam: np.ndarray
    traces: Mapping[str, Trace]
    fixed_arm: Mapping[str, int]
    warm_start: bool = False


class Context:
    """A table prepared for replay: environment, expected outcomes, features.

    The learners see only what a user's app sees: the prompt text (featurised, and
    counted for the input estimate) and the usage the replayed backend reports; the
    router's cost model learns each strategy's extra input (its template) from usage.
    With ``context="task"`` they also see each prompt's dataset as ``context=``, and
    the peers the same encoded vector appended to their features
    (:mod:`~uniscale.bench.sidecontext`).

    Args:
        table: The replay table.
        aggregate: ``"vote"`` or ``"best"`` (see :class:`ReplayEnv`).
        n_grid: Candidate sample counts.
        mc_samples: Monte Carlo draws for the expected vote of ``n > 1`` arms.
        context: Side-feature field passed with every request (``"task"``) or None.

    Raises:
        ConfigurationError: For an unknown ``context`` field.
    """

    def __init__(self, table: Table, *, aggregate: str = "vote",
                 n_grid: Sequence[int] = DEFAULT_N_GRID, mc_samples: int = 128,
                 context: str | None = None) -> None:
        self.table = table
        self.n_grid = tuple(n_grid)
        self.mc_samples = mc_samples
        self.context = context
        self.side: SideContext | None = side_context(table, context)
        self.env = ReplayEnv(table, aggregate=aggregate, n_grid=n_grid)
        self.expected: Expected = self.env.expected(samples=mc_samples)
        self._features: dict[tuple[int, int], np.ndarray] = {}

    def features(self, dim: int, ngrams: int = 2) -> np.ndarray:
        """``(P, dim)`` hashing features of every prompt (computed once per width and
        largest n-gram)."""
        if (dim, ngrams) not in self._features:
            fz = HashingFeaturizer(dim, ngrams=ngrams)
            self._features[dim, ngrams] = np.stack(
                [fz.transform(as_messages(str(p))) for p in self.table.prompts])
        return self._features[dim, ngrams]

    def peer_features(self, dim: int, seed: int, ngrams: int = 2) -> np.ndarray:
        """The features of the peers: the text features, then the side features (if any).

        The side features are the vector a router with ``seed`` encodes the request's
        ``context=`` into, so peers and learners see the same numbers.
        """
        X = self.features(dim, ngrams)
        if self.side is None:
            return X
        return np.hstack([X, self.side.matrix(seed, CONTEXT_DIM)])

    def request_context(self, prompt: int) -> dict[str, Any] | None:
        """The ``context=`` of table row ``prompt`` (None without side features)."""
        return None if self.side is None else self.side.of(prompt)


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


def _learn(ctx: Context, name: str, mask: np.ndarray, objective: Objective,
           scenario: Scenario, order: np.ndarray, seed: int, settings: RouterSettings,
           progress: Progress | None, fallback: np.ndarray, warm: EvalSet | None = None,
           feedback: FeedbackOptions | None = None) -> Trace:
    """One learner over the stream.

    Where none of the policy's arms can serve a prompt (a ragged table), the request is
    served by ``fallback[t]`` (the best fixed policy's arm), added to the router then.
    With ``warm``, the router first learns the eval set's records of its own arms
    (:meth:`Router.fit`). With ``feedback``, the scores reach the router as its plan
    says (late, sparse, noisy; implicit rewards standing in).
    """
    env, table = ctx.env, ctx.table
    X = ctx.features(settings.dim, settings.ngrams)
    steps = len(order)
    phases = scenario.phases
    hidden0 = set(phases[0].hidden_models)
    arms = [a for i, a in enumerate(env.arms) if mask[i] and a.model not in hidden0]
    router = Router(
        arms, prices=table.prices, objective=objective,
        backends=replay_backends(env, table.models, seed),
        featurizer=HashingFeaturizer(settings.dim, ngrams=settings.ngrams),
        alpha=settings.alpha, ridge=settings.ridge, arm_ridge=settings.arm_ridge,
        forgetting=settings.forgetting, hybrid=settings.hybrid, context_dim=CONTEXT_DIM,
        prior_output_tokens=settings.prior_output_tokens, seed=seed,
        implicit_reward=None if feedback is None else feedback.rewards(),
    )
    queue = None if feedback is None else feedback.queue(seed)
    if warm is not None:
        router.fit(outcome_records(warm.where(mask), env, X, ctx.side))
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
                               context=ctx.request_context(int(p)), **_replay_option(int(p)))
        a = env.arm_index[result.decision.arm]
        _, g, k = result.sample.payload
        quality = float(table.score[p, g, k])
        cost = env.cost(p, g, (s.payload[2] for s in result.samples), arm_scale[a])
        if queue is None:
            router.feedback(result.decision.id, quality, cost=cost)
        else:
            queue.push(t, result.decision.id, quality, cost)
            for decision_id, score, spent in queue.due(t):
                router.feedback(decision_id, score, cost=spent)
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
        shifted = replace(objective, per_request=objective.per_request * phase.budget_scale)
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
             scenario: Scenario | None = None, progress: Progress | None = None,
             warm_start: bool = False, feedback: FeedbackOptions | None = None) -> SeedRun:
    """Run every policy over one seed's stream.

    Args:
        ctx: The prepared table.
        objective: :class:`Tradeoff` or :class:`Budget`.
        seed: Seed of the stream order, the replayed draws and the routers.
        policies: Policy names (see :data:`~uniscale.bench.policies.ALL_POLICIES`).
        settings: Hyperparameters of the learning policies (one for all, or per policy).
        scenario: Conditions that change mid-stream (default: none).
        progress: Called with the number of learner steps done since the last call.
        warm_start: Run the train split through every arm as an offline eval set, warm
            start every learner and peer on it, and stream the test part only.
        feedback: How the online learners receive their scores (default: every score,
            exact, before the next request); ParetoBandit is not run under it.

    Returns:
        The traces.

    Raises:
        ConfigurationError: For an unknown policy, or a warm start with a scenario.
    """
    per_policy = settings if isinstance(settings, Mapping) else {}
    default = settings if isinstance(settings, RouterSettings) else RouterSettings()
    scenario = scenario or Scenario()
    unknown = set(policies) - set(KNOWN_POLICIES)
    if unknown:
        raise ConfigurationError(f"unknown policies {sorted(unknown)}; known: "
                                 f"{', '.join(KNOWN_POLICIES)}")
    if warm_start and scenario.name != "static":
        raise ConfigurationError("--warm-start runs the static benchmark only; drop "
                                 f"--scenario {scenario.name} or --warm-start")
    env, table = ctx.env, ctx.table
    rng = np.random.default_rng(seed)
    order = _stream(ctx, scenario, rng)
    if warm_start:
        order = order[table.is_test[order]]
    is_test = table.is_test[order]
    cond = conditions(ctx.expected.quality, ctx.expected.cost, env.allowed, env.arm_model,
                      scenario, order)
    train_rows = np.flatnonzero(~table.is_test)
    if (~is_test).any():
        train = (cond.quality[~is_test], cond.cost[~is_test], cond.allowed[~is_test])
    else:
        train = (ctx.expected.quality[train_rows], ctx.expected.cost[train_rows],
                 env.allowed[train_rows])
    traces, fixed_arm, lam, ranking = hindsight(cond, objective, scenario, is_test, train,
                                                policies)
    best = fixed_arm["train"]
    evalset = None
    if warm_start or "trained-router" in policies:
        evalset = run_eval_set(env, train_rows, np.random.default_rng([seed, 1]))
    warm = evalset if warm_start else None
    X = ctx.peer_features(default.dim, seed, default.ngrams)
    fallback = traces["best-fixed"].arm
    for name in policies:
        if name in LEARNERS:
            mask = policy_mask(env, name, best, ranking)
            run = _learn(ctx, name, mask, objective, scenario, order, seed,
                         per_policy.get(name, default), progress, fallback, warm, feedback)
            traces[name] = expected_trace(cond, run.arm, run.quality, run.cost)
    if "trained-router" in policies and evalset is not None:
        traces["trained-router"] = _trained(ctx, evalset, X, objective, cond, train_rows,
                                            order, seed)
    if PEER_NAME in policies and scenario.name == "static" and feedback is None:
        run = run_paretobandit(env, np.ones(env.n_arms, dtype=bool), objective, order, X,
                               seed, evalset=warm, progress=progress, fallback=fallback)
        traces[PEER_NAME] = expected_trace(cond, run.arm, run.quality, run.cost)
    if MAB_NAME in policies and scenario.name == "static" and feedback is None:
        run = run_mabwiser(env, objective, order, X, seed, evalset=warm, progress=progress)
        traces[MAB_NAME] = expected_trace(cond, run.arm, run.quality, run.cost)
    return SeedRun(seed, order, is_test, lam, traces, fixed_arm, warm_start)


def _trained(ctx: Context, evalset: EvalSet, X: np.ndarray, objective: Objective,
             cond: Any, train_rows: np.ndarray, order: np.ndarray, seed: int) -> Trace:
    """The trained router's greedy choices along the stream (expected outcomes)."""
    env = ctx.env
    model = fit_trained_router(evalset, X, env.n_arms, seed=seed)
    if isinstance(objective, Budget):
        lam = model.budget_weight(X[train_rows], env.allowed[train_rows],
                                  objective.per_request)
    else:
        lam = cost_weight(objective)
    choice = model.choose(X[order], cond.allowed, lam)
    rows = np.arange(len(order))
    return Trace(choice, np.nan_to_num(cond.quality[rows, choice]),
                 np.nan_to_num(cond.cost[rows, choice]))
