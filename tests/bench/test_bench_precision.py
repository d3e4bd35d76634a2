"""How figures are scored (expected outcomes) and how many seeds a run takes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import Context, load_table, run_seed
from uniscale.bench.report import Precision, run_bench, run_to_precision
from uniscale.cli import main

POLICIES = ("uniscale", "routing-only", "paretobandit")
LEARNER = ("uniscale",)


@pytest.fixture
def ctx(toy_path: Path) -> Context:
    return Context(load_table(toy_path), mc_samples=64)


def test_online_policies_are_scored_by_expected_outcomes(ctx: Context) -> None:
    run = run_seed(ctx, us.Tradeoff(0.01), seed=3, policies=[*POLICIES, "best-fixed"])
    exp = ctx.expected
    for name in POLICIES:
        tr = run.traces[name]
        assert tr.observed is not None
        q_obs, _ = tr.observed
        np.testing.assert_allclose(tr.quality, exp.quality[run.order, tr.arm])
        np.testing.assert_allclose(tr.cost, exp.cost[run.order, tr.arm])
        assert set(np.unique(q_obs)) <= {0.0, 1.0}  # what the learner was fed: one draw
        # the draws are unbiased for the expectation the figures use
        assert abs(float(np.mean(q_obs - tr.quality))) < 0.15
        assert not np.allclose(q_obs, tr.quality)
    assert run.traces["best-fixed"].observed is None


def test_precision_adds_seeds_until_the_interval_is_narrow(ctx: Context) -> None:
    loose = run_to_precision(ctx, us.Tradeoff(0.01), Precision(half_width=10.0, min_seeds=3),
                             policies=LEARNER)
    assert loose.seeds == (0, 1, 2)
    assert loose.precision is not None and loose.precision["reached"] is True
    capped = run_to_precision(ctx, us.Tradeoff(0.01),
                              Precision(half_width=1e-6, min_seeds=2, max_seeds=4),
                              policies=LEARNER, first_seed=10)
    assert capped.seeds == (10, 11, 12, 13)
    info = capped.precision
    assert info is not None and info["reached"] is False and info["seeds"] == 4
    assert info["half_width"] == pytest.approx(capped.policies["uniscale"].ci95.half_width)
    # the same seeds as a fixed run: the stopping rule changes how many, not what they give
    fixed = run_bench(ctx, us.Tradeoff(0.01), [10, 11, 12, 13], policies=LEARNER)
    assert fixed.policies["uniscale"].test_reward == capped.policies["uniscale"].test_reward


def test_precision_meets_a_reachable_target(ctx: Context) -> None:
    first = run_bench(ctx, us.Tradeoff(0.01), [0, 1, 2], policies=LEARNER)
    half3 = first.policies["uniscale"].ci95.half_width
    assert half3 > 0
    target = half3 / 1.5  # about 2.3x the seeds, well within the cap
    res = run_to_precision(ctx, us.Tradeoff(0.01),
                           Precision(half_width=target, min_seeds=3, max_seeds=12),
                           policies=LEARNER)
    info = res.precision
    assert info is not None
    assert 3 < info["seeds"] <= 12
    if info["reached"]:
        assert res.policies["uniscale"].ci95.half_width <= target
    else:
        assert info["seeds"] == 12


def test_precision_settings_are_checked() -> None:
    with pytest.raises(us.ConfigurationError, match="must be positive"):
        Precision(half_width=0.0)
    with pytest.raises(us.ConfigurationError, match="at least 2 seeds"):
        Precision(min_seeds=1)
    with pytest.raises(us.ConfigurationError, match="seed cap"):
        Precision(min_seeds=5, max_seeds=3)


def test_bench_default_seeds_follow_the_target(toy_path: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    code = main(["bench", str(toy_path), "--wtp", "0.01", "--policies", "uniscale",
                 "--ci", "1e-6", "--max-seeds", "6", "--json", str(out), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["seeds"] == [0, 1, 2, 3, 4, 5]
    assert data["precision"]["reached"] is False
    assert data["precision"]["target_half_width"] == 1e-6
    assert math.isfinite(data["precision"]["half_width"])
    text = capsys.readouterr().out
    assert "adding 1 seed(s)" in text and "not reached within --max-seeds 6" in text


@pytest.mark.parametrize(("flags", "message"), [
    (["--ci", "0"], "the target interval must be positive"),
    (["--max-seeds", "3"], "the seed cap (3) must be at least the 5 seeds always run"),
])
def test_bench_precision_flag_errors(toy_path: Path, capsys: pytest.CaptureFixture[str],
                                     flags: list[str], message: str) -> None:
    assert main(["bench", str(toy_path), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # checked before any work
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("uniscale: error: ") and message in err[0]
