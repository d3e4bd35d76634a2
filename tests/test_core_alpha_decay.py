"""Exploration that shrinks with evidence: Router(alpha_decay=)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us


def _fitted(arms: us.ArmSpace, prices: dict[str, us.Price], alpha_decay: float | None
            ) -> us.Router:
    router = us.Router(arms, prices, alpha=1.0, alpha_decay=alpha_decay, seed=3)
    tried = list(arms)[:3]  # 20, 10 and 5 feedbacks; the other arms none
    records = [us.Outcome(arm=a, score=float(i % 2), request=f"question {i} about math")
               for a, k in zip(tried, (20, 10, 5), strict=True) for i in range(k)]
    assert router.fit(records, keep_best_arm=False, cross_validate=False) == 35
    return router


def test_bonus_shrinks_with_each_arms_own_feedbacks(
        arms: us.ArmSpace, prices: dict[str, us.Price]) -> None:
    plain, decayed = _fitted(arms, prices, None), _fitted(arms, prices, 4.0)
    prompt = "a new question about code"
    raw, table = plain.decide(prompt).table, decayed.decide(prompt).table
    np.testing.assert_allclose(table.mean, raw.mean, rtol=1e-12)  # the same statistics
    feedbacks = np.zeros(len(arms))
    feedbacks[:3] = (20, 10, 5)
    np.testing.assert_allclose(table.width, raw.width / np.sqrt(1.0 + feedbacks / 4.0),
                               rtol=1e-9)
    np.testing.assert_allclose(table.ucb, table.mean + table.width, rtol=1e-9)
    assert np.all(table.width[3:] == raw.width[3:])  # untried arms keep their whole bonus


def test_alpha_decay_is_checked_and_saved(arms: us.ArmSpace, prices: dict[str, us.Price],
                                          tmp_path: Path) -> None:
    for bad in (0, -1.0, float("nan"), "10", True):
        with pytest.raises(us.ConfigurationError, match="alpha_decay"):
            us.Router(arms, prices, alpha_decay=bad)  # type: ignore[arg-type]
    router = _fitted(arms, prices, 4.0)
    router.save(str(tmp_path / "s.json"))
    loaded = us.Router.load(str(tmp_path / "s.json"))
    assert loaded.alpha_decay == 4.0
    prompt = "another question about code"
    np.testing.assert_allclose(loaded.decide(prompt).table.width,
                               router.decide(prompt).table.width, rtol=1e-12)
    us.Router(arms, prices, alpha_decay=None).save(str(tmp_path / "none.json"))
    assert us.Router.load(str(tmp_path / "none.json")).alpha_decay is None
