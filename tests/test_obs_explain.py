"""Decisions that explain themselves: every candidate's figures, and the text."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import uniscale as us


def _trained(arms: us.ArmSpace, prices: dict[str, us.Price], *, alpha: float = 1.0,
             prune: bool = True, alpha_decay: float | None = 3.0) -> us.Router:
    router = us.Router(arms, prices, us.Tradeoff(willingness_to_pay=0.01), alpha=alpha,
                       alpha_decay=alpha_decay, prune=prune,
                       featurizer=us.HashingFeaturizer(16), seed=3)
    rng = np.random.default_rng(1)
    for _ in range(300):
        x = _context(rng)
        d = router.decide(features=x, input_tokens=int(rng.integers(20, 400)))
        score = 0.2 if d.arm.model == "large" else 0.7 + 0.2 * float(x[0] > 0)
        router.feedback(d.id, score)
    return router


def _context(rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(16)
    x[0], x[1] = 1.0, rng.choice([-1.0, 1.0])
    return x


@pytest.mark.parametrize(("prune", "alpha", "decay"), [(True, 0.1, None), (False, 0.1, None),
                                                       (True, 0.8, None), (True, 0.1, 3.0)])
def test_candidates_equal_policy_estimate_and_cost_model(
        arms: us.ArmSpace, prices: dict[str, us.Price], prune: bool, alpha: float,
        decay: float | None) -> None:
    router = _trained(arms, prices, alpha=alpha, prune=prune, alpha_decay=decay)
    x = _context(np.random.default_rng(9))
    allowed = [a for a in arms if a.n != 5]
    d = router.decide(features=x, input_tokens=150, allowed=allowed)

    slots = np.array([router.policy.slot(a.key) for a in allowed])
    full, _ = router.context_vector(None, x, 150)  # text features + (empty) side features
    mean, width = router.policy.estimate(full, slots)
    if decay is not None:  # the bound's width: the estimate's, shrunk by the arm's feedbacks
        width = width / np.sqrt(1.0 + router.policy.counts[slots] / decay)
        raw = router.policy.estimate(full, slots)[1]
        assert np.all(width <= raw) and np.any(width < raw)
    cost = router.costs.predict_all(allowed, 150, full)
    lam = router.pacer.lam
    assert [c.arm for c in d.candidates] == allowed
    for i, c in enumerate(d.candidates):
        assert c.quality == pytest.approx(mean[i], abs=1e-12)
        assert c.width == pytest.approx(width[i], abs=1e-12)
        assert c.ucb == pytest.approx(mean[i] + alpha * width[i], abs=1e-12)
        assert c.predicted_cost == pytest.approx(cost[i], rel=1e-12)
        assert c.score == pytest.approx(c.ucb - lam * c.predicted_cost, abs=1e-12)
    assert d.cost_weight == lam
    assert {c.arm.key for c in d.candidates if c.pruned} == set(d.pruned)
    lower = mean - alpha * width
    dominated = {a.key for i, a in enumerate(allowed)
                 if any(cost[j] < cost[i] and lower[j] > mean[i] + alpha * width[i]
                        for j in range(len(allowed)))}
    assert set(d.pruned) == (dominated if prune else set())
    assert bool(dominated) == (alpha < 0.5)  # narrow bounds: a cheaper arm surely wins
    live = [c for c in d.candidates if not c.pruned]
    best = max(live, key=lambda c: c.score)
    assert d.arm == best.arm
    assert d.chosen is not None and d.chosen.arm == d.arm
    assert d.chosen.quality == d.quality and d.chosen.ucb == d.ucb
    assert d.chosen.predicted_cost == d.predicted_cost
    assert d.propensity == 1.0


def test_candidate_is_a_frozen_value(router: us.Router) -> None:
    d = router.decide("What is 2+2?")
    c = d.candidates[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.quality = 1.0  # type: ignore[misc]
    assert d.candidates is d.candidates  # built once, on first access
    assert isinstance(c, us.Candidate)


def test_explain_names_chosen_arm_and_runner_up(arms: us.ArmSpace,
                                                prices: dict[str, us.Price]) -> None:
    router = _trained(arms, prices)
    d = router.decide(features=np.ones(router.featurizer.dim), input_tokens=100)
    others = [c for c in d.candidates if c.arm != d.arm]
    live = [c for c in others if not c.pruned] or others
    runner = max(live, key=lambda c: c.score)
    text = d.explain()
    assert text.startswith(f"chose {d.arm.key}: quality {d.quality:.2f}")
    assert f"runner-up {runner.arm.key}:" in text
    assert f"λ {d.cost_weight:.3g}" in text
    for c in d.candidates:
        if c.arm not in (d.arm, runner.arm):
            assert f" {c.arm.key}:" not in text


def test_explain_with_a_single_allowed_arm(router: us.Router, arms: us.ArmSpace) -> None:
    d = router.decide("hello", allowed=[arms[0]])
    assert len(d.candidates) == 1 and not d.candidates[0].pruned
    assert "no runner-up" in d.explain() and arms[0].key in d.explain()


def test_figures_carry_the_chosen_candidate(router: us.Router) -> None:
    d = router.decide("What is 17*23?")
    fig = d.figures()
    assert d.chosen is not None
    assert fig["width"] == d.chosen.width and fig["score"] == d.chosen.score
    assert fig["cost_weight"] == d.cost_weight and fig["propensity"] == 1.0


def test_tie_break_propensity(prices: dict[str, us.Price]) -> None:
    twins = us.ArmSpace([us.Arm("small", us.Single(variant="a")),
                         us.Arm("small", us.Single(variant="b"))])
    router = us.Router(twins, prices, prune=False, hybrid=False)
    d = router.decide(features=np.zeros(router.featurizer.dim), input_tokens=10)
    assert d.propensity == 0.5
    assert "(0.000 behind)" in d.explain()
