"""The cost model prices an early-stopping arm at the samples it is expected to use."""

from __future__ import annotations

from pathlib import Path

import pytest

import uniscale as us
from uniscale.samplecount import SampleCountModel, calls_for

PRICE = us.Price(input=1.0, output=2.0)


def _router(arms: list[us.Arm], per_call: int = 1) -> us.Router:
    backend = us.FakeBackend(["42"], max_samples_per_call=per_call, output_tokens=10)
    return us.Router(arms, {"m": PRICE}, backends={"m": backend}, seed=0)


def test_adaptive_arm_is_priced_at_observed_samples_not_n() -> None:
    fixed = us.Arm("m", us.SelfConsistency(), 20)
    adaptive = us.Arm("m", us.SelfConsistency(early_stop="beta"), 20)
    router = _router([fixed, adaptive])
    before = router.costs.predict_all([fixed, adaptive], 100)
    assert before[1] == pytest.approx(before[0])  # nothing seen: priced at n
    for _ in range(3):
        result = router.invoke("q", allowed=[adaptive])
        assert len(result.samples) == 4  # unanimous: the Beta rule stops at 4
    used, calls = router.costs.sample_counts.expected(adaptive, 20)
    assert used == pytest.approx((3 * 4 + 20) / 4) and calls == pytest.approx(used)
    out = router.costs.expected_output_tokens(adaptive)
    extra = router.costs.expected_extra_input_tokens(adaptive)
    want = (1.0 * (100 + extra) * calls + 2.0 * out * used) / 1e6
    assert router.costs.predict(adaptive, 100) == pytest.approx(want, rel=1e-12)
    # decide prices it the same way: every term scales with the expected samples
    learned = router.decide("q", allowed=[adaptive], input_tokens=100).predicted_cost
    router.costs.sample_counts = SampleCountModel()
    unseen = router.decide("q", allowed=[adaptive], input_tokens=100).predicted_cost
    assert learned == pytest.approx(unseen * used / 20, rel=1e-12)
    fixed_used, fixed_calls = router.costs.sample_counts.expected(fixed, 20)
    assert (fixed_used, fixed_calls) == (20.0, 20.0)


def test_unseen_n_borrows_the_fraction_of_its_model_and_strategy() -> None:
    strategy = us.SelfConsistency(early_stop="beta")
    seen, unseen = us.Arm("m", strategy, 20), us.Arm("m", strategy, 40)
    model = SampleCountModel()
    for _ in range(4):
        model.observe(seen, 5, 5)
    assert model.prior_samples(unseen) == pytest.approx(40 * 5 / 20)
    assert model.expected(unseen, 40)[0] == pytest.approx(10.0)
    model.observe(seen, 20, 0)  # backed out of a cost: no counted run, nothing learned
    assert model.expected(seen, 20)[0] == pytest.approx((4 * 5 + 20) / 5)


def test_native_backend_calls_follow_the_waves() -> None:
    arm = us.Arm("m", us.SelfConsistency(early_stop=us.EarlyStop(first_wave=4, wave=4)), 20)
    assert calls_for(arm, 20, per_call=8) == 5  # five waves of 4, one call each
    assert calls_for(arm, 6, per_call=8) == 2
    assert calls_for(arm, 6, per_call=1) == 8  # two whole waves, one call per sample
    router = _router([arm], per_call=8)
    result = router.invoke("q")
    assert result.usage.calls == 1 and len(result.samples) == 4
    used, calls = router.costs.sample_counts.expected(arm, 1, per_call=8)
    assert used == pytest.approx((4 + 20) / 2) and calls == pytest.approx((1 + 5) / 2)


def test_sample_counts_survive_save_and_load(tmp_path: Path) -> None:
    adaptive = us.Arm("m", us.SelfConsistency(early_stop="decided"), 5)
    router = _router([adaptive])
    router.invoke("q")  # 3 agreeing votes of 5 decide the vote
    path = str(tmp_path / "state.json")
    router.save(path)
    loaded = us.Router.load(path)
    assert loaded.costs.sample_counts.state() == router.costs.sample_counts.state()
    assert loaded.costs.predict(adaptive, 50) == pytest.approx(router.costs.predict(adaptive, 50))
