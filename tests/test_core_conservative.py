"""Safe exploration against the arm a user runs today (baseline=, conservative=)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.conservative import ConservativeGuard
from uniscale.testing.topics import TopicWorkload, best_single_arm, run_cold_start


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


def test_revised_guard_re_estimates_past_picks_from_the_current_model() -> None:
    keys, x = ["base", "new"], np.array([1.0, 0.0])
    narrow = {"base": (0.5, 0.01), "new": (0.95, 0.01)}

    def run(guard: ConservativeGuard, model: dict[str, tuple[float, float]]) -> int:
        kw = {"x": x, "mean": np.array([0.5, 0.9]), "estimate": lambda _, k: model[k],
              "version": [1.0]}
        # a first try whose lower bound is close enough to the baseline's reward
        assert guard.choose(keys, np.array([0.5, 0.9]), np.array([0.5, 0.46]), 1, **kw) == 1
        # a second, wide one: what was charged at play time leaves no slack for it
        return guard.choose(keys, np.array([0.5, 0.9]), np.array([0.5, 0.0]), 1, **kw)

    assert run(ConservativeGuard("base", 0.1), narrow) == 0
    # the model now knows the first pick well: its sum is 0.94, the slack covers a try
    assert run(ConservativeGuard("base", 0.1, revised=True), narrow) == 1
    # while it is still unsure of it, the baseline serves
    assert run(ConservativeGuard("base", 0.1, revised=True),
               {"base": (0.5, 0.01), "new": (0.95, 0.5)}) == 0
    guard = ConservativeGuard("base", 0.1, revised=True)
    run(guard, narrow)
    again = ConservativeGuard.from_state(guard.state(), dim=2)
    assert again.state() == guard.state()
    with pytest.raises(ValueError, match="summed contexts"):
        ConservativeGuard.from_state(guard.state(), dim=3)


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


def test_guarded_router_saves_its_summed_contexts(tmp_path: Path) -> None:
    wl = TopicWorkload(seed=1)
    base = best_single_arm(wl, 0.02)
    router = us.Router(list(wl.arms()), wl.prices, us.Tradeoff(0.02), wl.backends(), seed=1,
                       baseline=base, conservative=0.05)
    assert router.guard is not None and not router.guard.revised  # play-time sums
    router.guard = ConservativeGuard(base.key, 0.05, revised=True)
    for _ in range(300):
        d = router.decide(wl.prompt()[0])
        router.feedback(d.id, 0.9 if d.arm.model == "mini" else 0.6)  # a cheap arm pays
    state = router.guard.state()
    assert state["served"] and state["cache"] is not None  # it tried other arms
    router.save(str(tmp_path / "g.json"))
    loaded = us.Router.load(str(tmp_path / "g.json"))
    assert loaded.guard is not None and loaded.guard.state() == state


@pytest.mark.slow
@pytest.mark.parametrize("W", [0.005, 0.02])
def test_cold_start_never_falls_far_behind_the_baseline_and_ends_above_it(W: float) -> None:
    wl = TopicWorkload(seed=0)
    assert len(wl.arms()) >= 9
    baseline = best_single_arm(wl, W)
    got, fixed, served = run_cold_start(wl, us.Tradeoff(W), 4000, baseline=baseline,
                                        conservative=0.05)  # default exploration settings
    running, reference = np.cumsum(got), np.cumsum(fixed[baseline.key])
    assert np.all(running >= 0.95 * reference - 1e-9)
    assert sum(a != baseline.key for a in served) > 100  # it did explore and switch
    if W == 0.005:  # 10 seeds: +0.0066 ± 0.0026, all above (seed 0: +0.007)
        assert np.mean(got) > np.mean(fixed[baseline.key]) + 0.003
    # at W = 0.02 the end is a tie over 10 seeds (see benchmarks/cold_start.py --baseline):
    # only the constraint is asserted there
