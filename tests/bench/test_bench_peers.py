"""The peers in the same run: the trained ridge router and the real ParetoBandit package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import Context, fit_trained_router, load_table, run_eval_set
from uniscale.bench.evalset import EvalSet
from uniscale.bench.peers import ParetoBanditPeer, run_paretobandit
from uniscale.bench.trained import ridge

pytest.importorskip("pareto_bandit")


@pytest.fixture
def ctx(toy_path: Path) -> Context:
    return Context(load_table(toy_path), mc_samples=16)


def _spy(peer: ParetoBanditPeer) -> list[tuple[str, float]]:
    """Record what the real router is fed, then let it learn as usual."""
    calls: list[tuple[str, float]] = []
    original = peer.router.process_feedback

    def record(request_id: str, reward: float) -> None:
        calls.append((peer.router.log_index[request_id].selected_model, reward))
        original(request_id, reward)

    peer.router.process_feedback = record  # type: ignore[method-assign]
    return calls


def test_eval_set_covers_every_train_prompt_and_arm(ctx: Context) -> None:
    train = np.flatnonzero(~ctx.table.is_test)
    es = run_eval_set(ctx.env, train, np.random.default_rng(0))
    assert len(es) == int(ctx.env.allowed[train].sum())
    assert set(es.prompt.tolist()) == set(train.tolist())
    assert ((es.score == 0) | (es.score == 1)).all() and (es.cost > 0).all()
    again = run_eval_set(ctx.env, train, np.random.default_rng(0))
    assert np.array_equal(es.score, again.score)


def test_paretobandit_registry_maps_every_arm(ctx: Context) -> None:
    env = ctx.env
    peer = ParetoBanditPeer(env, np.ones(env.n_arms, dtype=bool), us.Tradeoff(0.01), dim=8,
                            seed=0, reward_floor=-2.0)
    assert sorted(peer.router.registry) == sorted(a.key for a in env.arms)
    five = next(a for a in env.arms if a.n == 5)
    entry = peer.router.registry[five.key]
    price = ctx.table.prices[five.model]
    assert entry["output_cost_per_m"] == pytest.approx(5 * price.output)
    assert peer.router.config.reward_min == -2.0 and peer.router.cost_penalty == 0.0


def test_paretobandit_is_fed_the_same_rewards_and_serves_allowed_arms(ctx: Context) -> None:
    env, wtp = ctx.env, 0.01
    X = ctx.features(16)
    peer = ParetoBanditPeer(env, np.ones(env.n_arms, dtype=bool), us.Tradeoff(wtp), dim=16,
                            seed=0, reward_floor=-5.0)
    calls = _spy(peer)
    Xb = np.hstack([X, np.ones((len(X), 1))])
    rng = np.random.default_rng(0)
    served = []
    for p in range(ctx.table.n_prompts):
        a, log = peer.route(Xb[p], env.allowed[p])
        assert env.allowed[p, a]
        g, n = int(env.arm_pair[a]), int(env.arm_n[a])
        rows = env.draw(p, g, n, rng)
        quality = float(ctx.table.score[p, g, env.chosen(p, g, rows)])
        cost = env.cost(p, g, rows)
        peer.feedback(log, quality, cost)
        served.append((env.arms[a].key, quality - cost / wtp))
    assert [c[0] for c in calls] == [s[0] for s in served]
    assert [r for _, r in calls] == pytest.approx([r for _, r in served])


def test_paretobandit_under_a_budget_paces_on_realised_costs(ctx: Context) -> None:
    env = ctx.env
    budget = float(np.nanmean(ctx.expected.cost[:, env.arm_n == 1]))
    order = np.random.default_rng(1).permutation(ctx.table.n_prompts)
    trace = run_paretobandit(env, np.ones(env.n_arms, dtype=bool), us.Budget(budget),
                             order, ctx.features(16), seed=3)
    assert env.allowed[order, trace.arm].all()
    assert (trace.quality >= 0).all() and (trace.cost > 0).all()
    peer = ParetoBanditPeer(env, np.ones(env.n_arms, dtype=bool), us.Budget(budget), dim=4,
                            seed=0)
    calls = _spy(peer)
    pacer = peer.router.budget_pacer
    assert pacer is not None and pacer.target_avg_spend_usd == budget
    a, log = peer.route(np.ones(5) / 5, env.allowed[0])
    peer.feedback(log, 1.0, 3 * budget)
    assert calls == [(env.arms[a].key, 1.0)]  # the quality: the pacer handles the cost
    assert pacer.n_observations == 1
    assert pacer.cost_ema == pytest.approx(0.95 * budget + 0.05 * 3 * budget)


def test_paretobandit_warm_start_is_one_time_step_per_prompt(ctx: Context) -> None:
    env = ctx.env
    train = np.flatnonzero(~ctx.table.is_test)
    es = run_eval_set(env, train, np.random.default_rng(0))
    peer = ParetoBanditPeer(env, np.ones(env.n_arms, dtype=bool), us.Tradeoff(0.01), dim=16,
                            seed=0, reward_floor=-5.0)
    assert peer.warm_start(es, ctx.features(16)) == len(es)
    assert peer.router.bandit.t == len(train)
    fresh = ParetoBanditPeer(env, np.ones(env.n_arms, dtype=bool), us.Tradeoff(0.01), dim=16,
                             seed=0, reward_floor=-5.0)
    x = np.append(ctx.features(16)[train[0]], 1.0)
    key = env.arms[0].key
    assert peer.router.bandit.get_ucb_variance(key, x) < \
        fresh.router.bandit.get_ucb_variance(key, x)


def test_ridge_recovers_weights() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    w = np.array([0.5, -1.0, 0.0, 2.0, 0.1])
    assert ridge(X, X @ w, 1e-6) == pytest.approx(w, abs=1e-6)


def _evalset(prompts: np.ndarray, arms: np.ndarray, score: np.ndarray) -> EvalSet:
    n = len(prompts)
    return EvalSet(prompts, arms, score, np.full(n, 0.01), np.ones(n, dtype=np.int64),
                   np.ones(n, dtype=np.int64))


def test_trained_router_learns_which_arm_suits_which_prompt() -> None:
    # prompts 0..19 of kind A (feature 0), 20..39 of kind B; arm 0 is right on A, arm 1 on B
    X = np.zeros((40, 3))
    X[:20, 0], X[20:, 1], X[:, 2] = 1.0, 1.0, 1.0
    prompts = np.repeat(np.arange(40), 2)
    arms = np.tile([0, 1], 40)
    kind_a = prompts < 20
    score = np.where(kind_a == (arms == 0), 1.0, 0.0)
    model = fit_trained_router(_evalset(prompts, arms, score), X, n_arms=3)
    assert model.seen.tolist() == [True, True, False]
    allowed = np.ones((40, 3), dtype=bool)
    choice = model.choose(X, allowed, lam=0.0)
    assert choice[:20].tolist() == [0] * 20 and choice[20:].tolist() == [1] * 20
    only_two = allowed.copy()
    only_two[:, 0] = False
    assert set(model.choose(X, only_two, lam=0.0).tolist()) <= {1, 2}
    assert model.ridge in (0.1, 1.0, 10.0)


def test_trained_router_respects_a_budget() -> None:
    X = np.ones((30, 1))
    prompts = np.repeat(np.arange(30), 2)
    arms = np.tile([0, 1], 30)
    es = EvalSet(prompts, arms, np.where(arms == 1, 0.9, 0.5), np.where(arms == 1, 0.1, 0.01),
                 np.ones(60, dtype=np.int64), np.ones(60, dtype=np.int64))
    model = fit_trained_router(es, X, n_arms=2, grid=(1e-6,))
    allowed = np.ones((30, 2), dtype=bool)
    assert (model.choose(X, allowed, 0.0) == 1).all()
    lam = model.budget_weight(X, allowed, budget=0.05)
    assert (model.choose(X, allowed, lam) == 0).all()
