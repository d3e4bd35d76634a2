"""Policies side by side over a replayed stream, and the JSON figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import ALL_POLICIES, Context, load_table, run_bench, run_seed
from uniscale.bench.report import run_sweep, tradeoff_points


@pytest.fixture
def ctx(toy_path: Path) -> Context:
    return Context(load_table(toy_path), mc_samples=64)


def test_every_policy_runs_on_the_same_stream(ctx: Context) -> None:
    run = run_seed(ctx, us.Tradeoff(0.01), seed=1)
    assert set(ALL_POLICIES) <= set(run.traces)
    steps = ctx.table.n_prompts
    assert len(run.order) == steps and sorted(run.order) == list(range(steps))
    assert not run.is_test[: int((~ctx.table.is_test).sum())].any()  # train first
    env = ctx.env
    for name in ("uniscale", "routing-only", "tts-only", "trained-router", "paretobandit"):
        arms = run.traces[name].arm
        assert env.allowed[run.order, arms].all()  # only arms the prompt can serve
    assert (env.arm_n[run.traces["routing-only"].arm] == 1).all()
    fixed_model = env.arm_model[run.fixed_arm["train"]]
    assert (env.arm_model[run.traces["tts-only"].arm] == fixed_model).all()


def test_oracle_bounds_the_hindsight_policies(ctx: Context) -> None:
    res = run_bench(ctx, us.Tradeoff(0.01), [0, 1])
    p = res.policies
    assert p["oracle"].reward >= p["best-fixed"].reward >= p["random"].reward - 1e-9
    assert p["oracle"].test_reward >= p["best-fixed"].test_reward
    assert res.gap_closed["oracle"] == 1.0 and res.gap_closed["best-fixed"] == 0.0
    for name in ("uniscale", "routing-only", "tts-only"):
        assert 0.0 <= p[name].quality <= 1.0 and p[name].cost > 0


def test_json_has_the_documented_fields(ctx: Context) -> None:
    out = run_bench(ctx, us.Tradeoff(0.01), [0], policies=("uniscale", "random")).to_json()
    assert {"table", "objective", "seeds", "policies", "gap_closed"} <= set(out)
    assert out["objective"] == {"kind": "tradeoff", "willingness_to_pay": 0.01}
    assert set(out["policies"]) == {"uniscale", "random", "best-fixed", "best-fixed-hindsight",
                                    "oracle"}
    keys = {"quality", "cost", "reward", "test_quality", "test_cost", "test_reward",
            "reward_std", "ci95"}
    assert all(keys <= set(v) for v in out["policies"].values())


def test_runs_are_reproducible(ctx: Context) -> None:
    a = run_seed(ctx, us.Tradeoff(0.01), seed=5, policies=("uniscale",))
    b = run_seed(ctx, us.Tradeoff(0.01), seed=5, policies=("uniscale",))
    assert np.array_equal(a.traces["uniscale"].arm, b.traces["uniscale"].arm)
    assert np.array_equal(a.traces["uniscale"].quality, b.traces["uniscale"].quality)


def test_budget_is_tracked(toy_path: Path) -> None:
    ctx = Context(load_table(toy_path), mc_samples=32)
    budget = float(np.nanmean(ctx.expected.cost[:, ctx.env.arm_n == 1]))
    res = run_bench(ctx, us.Budget(per_request=budget), [0], policies=("uniscale",))
    assert res.policies["uniscale"].cost == pytest.approx(budget, rel=0.35)
    assert res.policies["best-fixed"].cost <= budget * (1 + 1e-9)


def test_sweep_records_a_frontier(ctx: Context) -> None:
    tp = tradeoff_points(ctx)
    assert tp["suggested"] > 0 and len(tp["sweep"]) == 7
    sweep = run_sweep(ctx, tp["sweep"][::3], [0], policies=("uniscale", "oracle"))
    assert len(sweep["frontier"]["uniscale"]) == 3
    assert {"wtp", "cost", "quality", "quality_gain", "cost_saving"} <= set(
        sweep["frontier"]["uniscale"][0])
    assert len(sweep["hull"]) >= 1
