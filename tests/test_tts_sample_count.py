"""The cost model prices an early-stopping arm at the samples it is expected to use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    # decide prices it the same way, at this request's expected samples: every term
    # scales with them
    x, _ = router.context_vector("q")
    here, here_calls = router.costs.sample_counts.expected(adaptive, 20, x=x)
    assert here_calls == pytest.approx(here) and 4.0 <= here <= used
    learned = router.decide("q", allowed=[adaptive], input_tokens=100).predicted_cost
    router.costs.sample_counts = SampleCountModel()
    unseen = router.decide("q", allowed=[adaptive], input_tokens=100).predicted_cost
    assert learned == pytest.approx(unseen * here / 20, rel=1e-12)
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


def _easy_or_hard(request: us.Request, rng: np.random.Generator) -> str:
    """Unanimous on prompts about apples; a different answer every sample otherwise."""
    if "apples" in request.messages[-1].content:
        return "42"
    return str(int(rng.integers(10**9)))


def _context_router() -> tuple[us.Router, us.Arm]:
    arm = us.Arm("m", us.SelfConsistency(early_stop="beta"), 10)
    backend = us.FakeBackend(_easy_or_hard, output_tokens=10)
    return us.Router([arm], {"m": PRICE}, backends={"m": backend}, seed=0,
                     featurizer=us.HashingFeaturizer(ngrams=2)), arm  # uni- and bigrams


def _train(router: us.Router, requests: int = 80) -> list[int]:
    used = []
    for i in range(requests):
        topic = "apples" if i % 2 else "pears"
        used.append(len(router.invoke(f"how many {topic} are in crate {i}?").samples))
    return used


def test_expected_samples_follow_the_request_context() -> None:
    router, arm = _context_router()
    used = _train(router)
    assert set(used[1::2]) == {4} and set(used[0::2]) == {10}  # apples stop, pears do not
    easy = router.decide("how many apples are in crate 999?", input_tokens=100)
    hard = router.decide("how many pears are in crate 999?", input_tokens=100)
    # the running mean alone would price both at about 7 samples of 10
    mean_samples, _ = router.costs.sample_counts.expected(arm, 10)
    assert 6.0 < mean_samples < 8.0
    per_sample = (PRICE.input * (100 + router.costs.expected_extra_input_tokens(arm))
                  + PRICE.output * 10) / 1e6
    assert easy.predicted_cost / per_sample == pytest.approx(4.0, abs=1.0)
    assert hard.predicted_cost / per_sample == pytest.approx(10.0, abs=1.5)
    assert hard.predicted_cost > 1.8 * easy.predicted_cost


def test_context_blind_samples_keep_the_running_mean() -> None:
    """Where the context says nothing about the samples, the mean prices every request."""
    arm = us.Arm("m", us.SelfConsistency(early_stop="beta"), 10)
    rng = np.random.default_rng(1)
    backend = us.FakeBackend(lambda r, g: "42" if rng.random() < 0.5 else str(rng.random()),
                             output_tokens=10)
    router = us.Router([arm], {"m": PRICE}, backends={"m": backend}, seed=0)
    _train(router, 60)
    mean_samples, _ = router.costs.sample_counts.expected(arm, 10)
    x, _ = router.context_vector("how many apples are in crate 999?")
    with_context, _ = router.costs.sample_counts.expected(arm, 10, x=x)
    assert with_context == pytest.approx(mean_samples)


def test_per_context_samples_survive_save_and_load(tmp_path: Path) -> None:
    router, _ = _context_router()
    _train(router, 40)
    path = str(tmp_path / "state.npz")
    router.save(path)
    loaded = us.Router.load(path, backends={"m": us.FakeBackend(_easy_or_hard)})
    for prompt in ("how many apples are in crate 7?", "how many pears are in crate 7?"):
        want = router.decide(prompt, input_tokens=100).predicted_cost
        assert loaded.decide(prompt, input_tokens=100).predicted_cost == pytest.approx(
            want, rel=1e-9)


@pytest.mark.parametrize("first, wave, per_call", [(2, 1, 1), (3, 2, 2), (4, 4, 8), (2, 3, 3)])
def test_tabulated_waves_give_the_calls_of_calls_for(first: int, wave: int,
                                                     per_call: int) -> None:
    model = SampleCountModel()
    rule = us.EarlyStop(first_wave=first, wave=wave)
    for n in (1, 2, 5, 10, 40):
        arm = us.Arm("m", us.SelfConsistency(early_stop=rule), n)
        for seen in range(1, n + 1):
            other = SampleCountModel()
            other.observe(us.Arm("m", us.SelfConsistency(early_stop=rule), 2 * n), 2 * seen, 1)
            used, calls = other.expected(arm, 1, per_call)  # unseen arm: calls of its prior
            assert calls == calls_for(arm, used, per_call)
        assert model.expected(arm, 1, per_call)[1] == calls_for(arm, n, per_call)
