"""Implicit rewards: learned when feedback is late, replaced once by explicit feedback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.implicit import ImplicitRewards, agreement_reward

SC = us.Arm("m", us.SelfConsistency(), 3)
ONE = us.Arm("m", us.Single(), 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _router(implicit: object = None, *, forgetting: float = 1.0,
            clock: Clock | None = None) -> us.Router:
    backend = us.FakeBackend(["7", "7", "8"])  # vote share 2/3
    return us.Router([SC, ONE], {"m": us.Price(1, 1)}, backends={"m": backend},
                     implicit_reward=implicit, forgetting=forgetting, seed=0,
                     clock=clock or Clock())


def _same_statistics(a: us.Router, b: us.Router) -> None:
    np.testing.assert_allclose(a.policy.A_raw, b.policy.A_raw, atol=1e-9)
    np.testing.assert_allclose(a.policy.b, b.policy.b, atol=1e-9)
    x = a.context_vector("probe")[0]
    slots = np.array([a.policy.slot(SC.key), a.policy.slot(ONE.key)])
    for got, want in zip(a.policy.estimate(x, slots), b.policy.estimate(x, slots),
                         strict=True):
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_late_feedback_is_replaced_by_the_explicit_score_exactly_once() -> None:
    implicit = ImplicitRewards(weight=0.3, delay=None, delay_requests=2)
    router, plain = _router(implicit), _router()
    served = router.invoke("q", allowed=[SC])
    reference = plain.invoke("q", allowed=[SC])
    for r in (router, plain):
        r.decide("a", allowed=[ONE])
    assert implicit.stats["learned"] == 0
    for r in (router, plain):
        r.decide("b", allowed=[ONE])
    assert implicit.stats["learned"] == 1  # two requests later, no feedback: learned
    # the implicit observation is in the statistics with weight 0.3 and reward 2/3
    slot = router.policy.slot(SC.key)
    x = router.policy.b[slot] / (0.3 * 2 / 3)
    np.testing.assert_allclose(router.policy.A_raw[slot], 0.3 * np.outer(x, x), atol=1e-9)
    assert router.feedback(served.decision.id, 1.0)
    assert plain.feedback(reference.decision.id, 1.0)
    assert implicit.stats["replaced"] == 1
    _same_statistics(router, plain)  # as if only the explicit score had ever been seen
    with pytest.raises(us.DuplicateFeedbackError):
        router.feedback(served.decision.id, 0.0)
    assert implicit.stats["replaced"] == 1
    _same_statistics(router, plain)


def test_feedback_within_the_delay_means_no_implicit_reward() -> None:
    implicit = ImplicitRewards(delay=None, delay_requests=5)
    router, plain = _router(implicit), _router()
    served, reference = router.invoke("q", allowed=[SC]), plain.invoke("q", allowed=[SC])
    router.feedback(served.decision.id, 0.0)
    plain.feedback(reference.decision.id, 0.0)
    for _ in range(6):
        router.decide("x", allowed=[ONE])
        plain.decide("x", allowed=[ONE])
    assert implicit.stats == {"learned": 0, "replaced": 0, "dropped": 0}
    _same_statistics(router, plain)


def test_time_delay_uses_the_router_clock() -> None:
    clock = Clock()
    implicit = ImplicitRewards(delay=60.0)
    router = _router(implicit, clock=clock)
    router.invoke("q", allowed=[SC])
    clock.now += 59
    router.decide("a", allowed=[ONE])
    assert implicit.stats["learned"] == 0
    clock.now += 2
    router.decide("b", allowed=[ONE])
    assert implicit.stats["learned"] == 1


def test_replacement_is_exact_under_forgetting() -> None:
    implicit = ImplicitRewards(weight=0.5, delay=None, delay_requests=1)
    router, plain = _router(implicit, forgetting=0.9), _router(forgetting=0.9)
    served, reference = router.invoke("q", allowed=[SC]), plain.invoke("q", allowed=[SC])
    other = [r.decide("o", allowed=[ONE]) for r in (router, plain)]  # learns the implicit
    assert implicit.stats["learned"] == 1
    for r, d in zip((router, plain), other, strict=True):
        r.feedback(d.id, 0.5)  # an update in between decays every sum
    router.feedback(served.decision.id, 1.0)
    plain.feedback(reference.decision.id, 1.0)
    _same_statistics(router, plain)


def test_single_samples_carry_no_agreement_and_callables_are_used() -> None:
    implicit = ImplicitRewards(delay=None, delay_requests=0)
    router = _router(implicit)
    router.invoke("q", allowed=[ONE])
    router.decide("a", allowed=[ONE])
    assert implicit.stats["learned"] == 0
    seen: list[float] = []

    def reward(result: us.Result) -> float | None:
        seen.append(result.agreement)
        return 1.0 if result.answer == "7" else None

    router = _router(ImplicitRewards(reward, delay=None, delay_requests=0))
    router.invoke("q", allowed=[SC])
    assert router.implicit is not None and router.implicit.stats["learned"] == 1
    assert seen == [pytest.approx(2 / 3)]
    assert _router("agreement").implicit is not None


def test_agreement_reward_clips_and_ignores_non_finite() -> None:
    backend = us.FakeBackend(["1", "2"])
    router = us.Router([SC], {"m": us.Price(1, 1)}, backends={"m": backend})
    result = router.invoke("q")
    assert agreement_reward(result) == pytest.approx(2 / 3)


@pytest.mark.parametrize("kwargs, words", [
    ({"reward": "vibes"}, "must be 'agreement' or a function"),
    ({"weight": 0.0}, "weight must be in"),
    ({"weight": 1.5}, "weight must be in"),
    ({"delay": None}, "give the implicit reward a delay"),
    ({"delay": -1.0}, "delay must be seconds"),
    ({"delay_requests": -2}, "delay_requests must be a whole number"),
])
def test_bad_implicit_settings_say_what_to_do(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(us.ConfigurationError, match=words):
        ImplicitRewards(**kwargs)  # type: ignore[arg-type]


def test_calibration_moves_a_confidence_towards_the_scores_it_earned() -> None:
    from uniscale.implicit import Calibration

    cal = Calibration(prior=4.0)
    assert cal(1.0) == 1.0 and cal(0.5) == 0.5  # nothing seen: the confidence itself
    for _ in range(6):
        cal.observe(1.0, 0.0)
    assert cal(1.0) == pytest.approx(4.0 / 10.0)
    assert cal(0.5) == 0.5 and cal.bin(0.39) == 0 and cal.bin(0.999) == 3


def test_calibrated_implicit_rewards_learn_from_explicit_scores() -> None:
    implicit = ImplicitRewards(weight=0.3, delay=None, delay_requests=1, calibrate=True)
    router = _router(implicit)
    for _ in range(4):  # vote share 2/3, but every one of them was wrong
        served = router.invoke("q", allowed=[SC])
        router.feedback(served.decision.id, 0.0)
    router.invoke("q", allowed=[SC])
    router.decide("next", allowed=[ONE])  # releases the last one's implicit reward
    assert implicit.stats["learned"] == 1
    (entry,) = implicit.learned.values()
    assert entry.reward == pytest.approx((0.0 + 4 * 2 / 3) / 8)


def _load(path: str, clock: Clock, **kwargs: object) -> us.Router:
    return us.Router.load(path, backends={"m": us.FakeBackend(["7", "7", "8"])},
                          clock=clock, **kwargs)  # type: ignore[arg-type]


def test_settings_and_waiting_rewards_survive_save_and_load(tmp_path: Path) -> None:
    """A reward still waiting for its delay is learned after the load, once."""
    clock = Clock()
    implicit = ImplicitRewards(weight=0.4, delay=None, delay_requests=2, calibrate=True)
    router = _router(implicit, clock=clock)
    router.invoke("q", allowed=[SC])
    path = str(tmp_path / "state.json")
    router.save(path)
    loaded = _load(path, clock)
    assert loaded.implicit is not None
    assert loaded.implicit.config() == implicit.config()
    assert list(loaded.implicit.waiting) == list(implicit.waiting)
    for r in (loaded, router):
        r.decide("a", allowed=[ONE])
        r.decide("b", allowed=[ONE])
    assert loaded.implicit.stats["learned"] == implicit.stats["learned"] == 1
    _same_statistics(loaded, router)
    loaded.decide("c", allowed=[ONE])
    assert loaded.implicit.stats["learned"] == 1  # not learned a second time


def test_learned_reward_is_replaced_after_a_load(tmp_path: Path) -> None:
    clock = Clock()
    implicit = ImplicitRewards(weight=0.3, delay=None, delay_requests=1)
    router, plain = _router(implicit, clock=clock), _router(clock=clock)
    served, reference = router.invoke("q", allowed=[SC]), plain.invoke("q", allowed=[SC])
    for r in (router, plain):
        r.decide("a", allowed=[ONE])
    assert implicit.stats["learned"] == 1
    path = str(tmp_path / "state.npz")
    router.save(path)
    loaded = _load(path, clock)
    assert loaded.feedback(served.decision.id, 1.0)
    plain.feedback(reference.decision.id, 1.0)
    assert loaded.implicit is not None and loaded.implicit.stats["replaced"] == 1
    _same_statistics(loaded, plain)  # the implicit observation was taken out exactly



def test_a_saved_reward_function_must_be_passed_again(tmp_path: Path) -> None:
    clock = Clock()

    def reward(result: us.Result) -> float | None:
        return 1.0

    router = _router(ImplicitRewards(reward, delay=None, delay_requests=3), clock=clock)
    router.invoke("q", allowed=[SC])
    path = str(tmp_path / "state.json")
    router.save(path)
    with pytest.raises(us.ConfigurationError, match="pass implicit_reward="):
        _load(path, clock)
    loaded = _load(path, clock, implicit_reward=reward)
    assert loaded.implicit is not None and loaded.implicit.reward is reward
    assert len(loaded.implicit.waiting) == 1
    # a router saved without implicit rewards gains them from the code
    path2 = str(tmp_path / "plain.json")
    _router(clock=clock).save(path2)
    assert _load(path2, clock).implicit is None
    assert _load(path2, clock, implicit_reward="agreement").implicit is not None


def test_calibration_survives_save_and_load(tmp_path: Path) -> None:
    clock = Clock()
    implicit = ImplicitRewards(weight=0.3, delay=None, delay_requests=5, calibrate=True)
    router = _router(implicit, clock=clock)
    router.feedback(router.invoke("q", allowed=[SC]).decision.id, 0.0)
    router.invoke("q", allowed=[SC])  # its confidence waits for a score
    path = str(tmp_path / "state.json")
    router.save(path)
    loaded = _load(path, clock)
    assert loaded.implicit is not None and loaded.implicit.calibration is not None
    assert implicit.calibration is not None
    mine, theirs = loaded.implicit.calibration, implicit.calibration
    assert theirs.count.sum() == 1
    for name in ("total", "count", "confidence"):
        np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name))
    assert mine(2 / 3) == theirs(2 / 3) < 2 / 3
    assert loaded.implicit.confidence == implicit.confidence
