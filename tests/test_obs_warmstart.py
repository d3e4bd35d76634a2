"""Warm start from a decision log: Router.fit(read_log(path))."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench.runner import Context
from uniscale.bench.table import load_table
from uniscale.testing.replay import replay_order, replay_router

SHIPPED = Path(us.__file__).parent / "data" / "faithful_cot.jsonl.gz"


def test_router_fitted_from_the_log_matches_the_one_that_wrote_it(tmp_path: Path) -> None:
    table = load_table(SHIPPED)
    keep = np.sort(np.random.default_rng(0).permutation(table.n_prompts)[:500])
    ctx = Context(table.subset(keep), mc_samples=8)
    log = tmp_path / "decisions.jsonl"
    objective = us.Tradeoff(0.05)
    source, trace = replay_router(ctx, objective, 7, order=replay_order(ctx, 7, 2000),
                                  log=us.DecisionLog(log, log_features=True,
                                                     max_bytes=2_000_000))
    source.close()
    assert len(list(log.parent.iterdir())) > 1  # the log rotated on the way

    fresh = us.Router(ctx.env.arms, ctx.table.prices, objective,
                      featurizer=us.HashingFeaturizer(128), seed=7)
    # the log repeats prompts, so fit would cross-validate it like an eval set and may pick
    # another ridge prior than the writer's; the same settings must give the same router
    assert fresh.fit(us.read_log(log), cross_validate=False) == 2000
    a, b = source.policy, fresh.policy
    assert a.slots == b.slots
    assert np.array_equal(a.counts, b.counts)
    counts = np.bincount(trace.arm, minlength=ctx.env.n_arms)
    assert np.array_equal(a.counts, counts[[ctx.env.arm_index[source.arms.find(k)]
                                            for k in a.slots]])
    for name in ("A_raw", "b", "B", "S_zz", "zr"):
        assert np.allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-9), name
    x = ctx.features(128)[0]
    slots = np.arange(len(a.slots))
    x_full = source.context_vector(None, x)[0]
    for got, want in zip(b.estimate(x_full, slots), a.estimate(x_full, slots), strict=True):
        assert np.allclose(got, want, atol=1e-7)


def test_fit_from_a_log_without_features_says_what_to_do(tmp_path: Path, arms: us.ArmSpace,
                                                         prices: dict[str, us.Price]) -> None:
    log = tmp_path / "d.jsonl"
    router = us.Router(arms, prices, log=log)
    router.feedback(router.decide("What is 2+2?").id, 1.0)
    router.close()
    fresh = us.Router(arms, prices)
    with pytest.raises(us.UniScaleError, match="log_features=True"):
        fresh.fit(us.read_log(log))
    assert fresh.policy.counts.sum() == 0
