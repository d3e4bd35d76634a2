"""Dynamic scenarios: per-phase figures and adaptation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import Context, load_table, run_bench
from uniscale.bench.scenarios import adaptation


@pytest.fixture
def ctx(toy_path: Path) -> Context:
    return Context(load_table(toy_path), mc_samples=32)


def test_price_change_scales_the_cost(ctx: Context) -> None:
    res = run_bench(ctx, us.Tradeoff(0.01), [0], policies=("uniscale",),
                    scenario="price-change")
    assert len(res.phases) == 2
    (model, factor), = res.scenario.phases[1].price_scale.items()
    assert factor == 4.0
    run = res.runs[0]
    half = res.scenario.phases[1].start
    oracle = run.traces["oracle"]
    arms = oracle.arm[half:]
    quality_cost = ctx.expected.cost[run.order[half:], arms]
    scale = np.where(ctx.env.arm_model[arms] == model, 4.0, 1.0)
    assert np.allclose(oracle.cost[half:], quality_cost * scale)
    assert res.adaptation and res.adaptation[0]["policy"] == "uniscale"


def test_model_added_hides_the_model_first(ctx: Context) -> None:
    res = run_bench(ctx, us.Tradeoff(1.0), [0], policies=("uniscale", "routing-only"),
                    scenario="model-added")
    hidden = res.scenario.phases[0].hidden_models[0]
    half = res.scenario.phases[1].start
    for name in ("uniscale", "routing-only", "oracle"):
        arms = res.runs[0].traces[name].arm
        assert not (ctx.env.arm_model[arms[:half]] == hidden).any()
    assert (ctx.env.arm_model[res.runs[0].traces["oracle"].arm[half:]] == hidden).any()


def test_budget_shift_halves_the_target(ctx: Context) -> None:
    budget = float(np.nanmean(ctx.expected.cost))
    res = run_bench(ctx, us.Budget(budget), [0], policies=("uniscale",),
                    scenario="budget-shift")
    assert res.scenario.phases[1].budget_scale == 0.5
    first, second = res.phases
    assert second["oracle"].cost <= budget / 2 * (1 + 1e-9)
    assert first["oracle"].cost <= budget * (1 + 1e-9)
    out = res.to_json()
    assert out["scenario"]["name"] == "budget-shift" and len(out["scenario"]["phases"]) == 2


def test_drift_orders_the_stream_by_dataset(ctx: Context) -> None:
    res = run_bench(ctx, us.Tradeoff(0.01), [0], policies=("uniscale",), scenario="drift")
    run = res.runs[0]
    datasets = ctx.table.datasets[run.order]
    start = res.scenario.phases[1].start
    assert (datasets[:start] == datasets[0]).all() and (datasets[start:] != datasets[0]).all()
    assert [p.label for p in res.scenario.phases] == ["alpha", "beta"]


def test_unknown_scenario_is_refused(ctx: Context) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        run_bench(ctx, us.Tradeoff(0.01), [0], scenario="storm")


def test_adaptation_counts_requests_to_settle() -> None:
    series = np.concatenate([np.ones(100), np.linspace(1, 0, 40), np.zeros(360)])
    k = adaptation(series, 100, 500, tol=0.05, window=20)
    assert k is not None and 20 <= k <= 40
    assert adaptation(np.zeros(400), 0, 400, tol=0.05, window=20) == 0
