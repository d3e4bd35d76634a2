"""Safe exploration against the arm a user runs today (baseline=, conservative=)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.conservative import ConservativeGuard
from uniscale.testing.topics import Topic, TopicWorkload, run_cold_start


def test_guard_serves_the_baseline_when_trying_would_break_the_constraint() -> None:
    guard = ConservativeGuard("base", 0.1)
    keys = ["base", "new"]
    # the new arm looks better but its lower bound is far below the baseline
    assert guard.choose(keys, np.array([0.5, 0.9]), np.array([0.5, 0.0]), pick=1) == 0
    assert guard.earned == guard.reference == 0.5
    # with a confident estimate the router may try it
    assert guard.choose(keys, np.array([0.5, 0.9]), np.array([0.5, 0.8]), pick=1) == 1
    assert guard.earned == pytest.approx(1.3) and guard.reference == pytest.approx(1.0)
    # a baseline the request cannot use imposes nothing
    assert guard.choose(["new"], np.array([0.9]), np.array([0.0]), pick=0) == 0
    with pytest.raises(us.ConfigurationError, match="fraction"):
        ConservativeGuard("base", 1.5)


def test_baseline_is_checked_and_saved(tmp_path: Path) -> None:
    arms = [us.Arm("a", us.Single()), us.Arm("b", us.Single())]
    prices = {"a": us.Price(1, 1), "b": us.Price(1, 1)}
    with pytest.raises(us.ConfigurationError, match="no arm with key"):
        us.Router(arms, prices, baseline="c/single/1")
    with pytest.raises(us.ConfigurationError, match="conservative"):
        us.Router(arms, prices, baseline=arms[0], conservative=-1)
    router = us.Router(arms, prices, baseline="a/single/1", conservative=0.02)
    for _ in range(5):
        d = router.decide("q")
        assert d.arm == arms[0]  # nothing is known yet: the baseline serves
        router.feedback(d.id, 1.0)
    router.save(str(tmp_path / "s.json"))
    assert us.Router.load(str(tmp_path / "s.json")).guard == router.guard


@pytest.mark.slow
@pytest.mark.parametrize("W", [0.005, 0.02])
def test_cold_start_never_falls_far_behind_the_baseline_and_ends_above_it(W: float) -> None:
    wl = TopicWorkload(seed=0)
    arms = list(wl.arms())
    assert len(arms) >= 9

    def reward(topic: Topic, arm: us.Arm) -> float:
        return (wl.expected_quality(topic, arm, 2000)
                - wl.expected_cost(topic, arm, 20) / W)

    baseline = max(arms, key=lambda a: np.mean([reward(t, a) for t in wl.topics]))
    got, fixed, served = run_cold_start(wl, us.Tradeoff(W), 4000, baseline=baseline,
                                        conservative=0.05)  # default exploration settings
    running, reference = np.cumsum(got), np.cumsum(fixed[baseline.key])
    assert np.all(running >= 0.95 * reference - 1e-9)
    assert running[-1] > reference[-1]
    assert sum(a != baseline.key for a in served) > 100  # it did explore and switch
