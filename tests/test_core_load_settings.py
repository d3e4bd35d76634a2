"""One settings story: settings passed to Router.load win, learned statistics stay."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import uniscale as us


def _trained(arms: us.ArmSpace, prices: dict[str, us.Price], path: Path,
             objective: us.Tradeoff | us.Budget) -> us.Router:
    router = us.Router(arms, prices, objective, alpha=1.0, seed=2)
    for i in range(40):
        d = router.decide(f"question {i} about {'math' if i % 2 else 'code'}")
        router.feedback(d.id, float(d.arm.n > 1))
    router.save(str(path))
    return router


def test_code_settings_win_and_statistics_are_kept(
        arms: us.ArmSpace, prices: dict[str, us.Price], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    saved = _trained(arms, prices, path, us.Budget(per_request=0.001))
    new_prices = {**prices, "large": us.Price(input=5.0, output=20.0)}
    fallback = [a for a in arms if a.model == "small"][:1]
    with caplog.at_level(logging.WARNING, logger="uniscale"):
        loaded = us.Router.load(str(path), prices=new_prices, alpha=0.3,
                                objective=us.Budget(per_request=0.002),
                                fallback=[fallback[0].key], feedback_ttl=30.0, prune=False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    for name in ("prices", "alpha", "objective", "fallback", "feedback_ttl", "prune"):
        assert name in warnings[0].getMessage()
    assert loaded.policy.alpha == 0.3 and loaded.costs.prices["large"].input == 5.0
    assert loaded.objective == us.Budget(per_request=0.002)
    assert loaded.pacer.multiplier == saved.pacer.multiplier  # a Budget's λ is learned
    assert loaded.fallback == tuple(fallback) and loaded.pending.ttl == 30.0
    assert loaded.prune is False
    np.testing.assert_array_equal(loaded.policy.A_raw, saved.policy.A_raw)
    np.testing.assert_array_equal(loaded.policy.b, saved.policy.b)
    assert loaded.policy.updates == saved.policy.updates == 40


def test_same_settings_load_silently(arms: us.ArmSpace, prices: dict[str, us.Price],
                                     tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.npz"
    _trained(arms, prices, path, us.Tradeoff(0.01))
    with caplog.at_level(logging.WARNING, logger="uniscale"):
        loaded = us.Router.load(str(path), prices=prices, alpha=1.0,
                                objective=us.Tradeoff(0.01), fallback=[])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loaded.costs.prices == prices


def test_new_kind_of_objective_starts_its_own_multiplier(
        arms: us.ArmSpace, prices: dict[str, us.Price], tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _trained(arms, prices, path, us.Tradeoff(0.01))
    loaded = us.Router.load(str(path), objective=us.Budget(0.001, initial_multiplier=2.0))
    assert loaded.pacer.multiplier == 2.0


def test_invalid_code_settings_are_refused(arms: us.ArmSpace, prices: dict[str, us.Price],
                                           tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _trained(arms, prices, path, us.Tradeoff(0.01))
    with pytest.raises(us.ConfigurationError, match="alpha"):
        us.Router.load(str(path), alpha=-1.0)
    with pytest.raises(us.MissingPriceError):
        us.Router.load(str(path), prices={"small": prices["small"]})
    with pytest.raises(us.ConfigurationError, match="no arm with key"):
        us.Router.load(str(path), fallback=["ghost/single/1"])


def test_exploration_is_saved_and_a_log_can_be_attached_on_load(
        arms: us.ArmSpace, prices: dict[str, us.Price], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    path, log = tmp_path / "state.json", tmp_path / "decisions.jsonl"
    router = us.Router(arms, prices, exploration="softmax", temperature=0.2, seed=1)
    d = router.decide("hello")
    router.feedback(d.id, 1.0)
    router.save(str(path))
    kept = us.Router.load(str(path))
    assert (kept.exploration, kept.temperature) == ("softmax", 0.2)
    assert kept.decide("hello again").propensity < 1.0  # really drawing, not greedy
    with caplog.at_level(logging.WARNING, logger="uniscale"):
        changed = us.Router.load(str(path), exploration="thompson", log=str(log))
    assert "exploration 'softmax' -> 'thompson'" in caplog.text
    assert changed.exploration == "thompson"
    decision = changed.decide("logged question")
    changed.close()
    logged = list(us.read_log(str(log), pending=True))
    assert [r.id for r in logged] == [decision.id]


@pytest.mark.parametrize("settings, message", [
    ({"exploration": "greedy"}, "exploration must be one of"),
    ({"temperature": 0.0}, "temperature must be a number > 0"),
])
def test_bad_exploration_on_load_is_refused_clearly(
        arms: us.ArmSpace, prices: dict[str, us.Price], tmp_path: Path,
        settings: dict[str, object], message: str) -> None:
    path = tmp_path / "state.json"
    us.Router(arms, prices).save(str(path))
    with pytest.raises(us.ConfigurationError, match=message):
        us.Router.load(str(path), **settings)  # type: ignore[arg-type]
