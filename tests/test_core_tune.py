"""Router.tune: settings chosen by time-ordered cross-validation on an eval set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us

ARMS = [us.Arm("sql-model", us.Single()), us.Arm("chat-model", us.Single()),
        us.Arm("big-model", us.Single())]
PRICES = {"sql-model": us.Price(1, 1), "chat-model": us.Price(1, 1), "big-model": us.Price(1, 1)}


def _eval_set(contextual: bool, prompts: int = 90, seed: int = 0) -> list[us.Outcome]:
    """Every arm's outcome on each prompt; the best arm depends on the task when asked."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(prompts):
        task = "sql" if i % 2 else "chat"
        prompt = f"{'select rows from the table' if task == 'sql' else 'hello how are you'} {i}"
        for arm in ARMS:
            if contextual:
                p = 0.9 if arm.model.startswith(task) else 0.3
            else:
                p = 0.8 if arm.model == "big-model" else 0.5
            records.append(us.Outcome(request=prompt, arm=arm, score=float(rng.random() < p),
                                      context={"task": task}))
    return records


def test_tune_picks_a_contextual_learner_when_context_pays() -> None:
    router = us.Router(ARMS, PRICES, us.Tradeoff(1000.0), seed=0)
    report = router.tune(_eval_set(contextual=True), alphas=(0.1, 1.0), dims=(32, 64))
    assert not report.fallback and router.guard is None
    assert report.requests == 90 and len(report.candidates) == 8
    assert max(r for _, r in report.candidates) > report.best_arm_reward + 0.2
    assert router.policy.alpha == report.chosen["alpha"]
    assert router.featurizer.dim == report.chosen["dim"]
    assert "best single arm" in str(report) and "*" in str(report)
    assert router.policy.counts.sum() == 270  # fitted on every record
    for task, words in (("sql", "select rows from the table 999"), ("chat", "hello how are you 7")):
        picks = {router.decide(words, context={"task": task}).arm.model for _ in range(5)}
        assert picks == {f"{task}-model"}


def test_tune_falls_back_to_the_best_single_arm_and_keeps_it(tmp_path: Path) -> None:
    router = us.Router(ARMS, PRICES, us.Tradeoff(1000.0), seed=0)
    report = router.tune(_eval_set(contextual=False), alphas=(0.3, 1.0), dims=(32,))
    assert report.best_arm == "big-model/single/1"
    assert report.fallback and "serving it as the baseline" in str(report)
    assert report.best_arm_reward >= max(r for _, r in report.candidates)
    assert router.guard is not None and router.guard.baseline == report.best_arm
    picks = [router.decide(f"hello {i}", context={"task": "chat"}).arm.model for i in range(30)]
    assert picks.count("big-model") >= 27
    router.save(str(tmp_path / "tuned.json"))
    loaded = us.Router.load(str(tmp_path / "tuned.json"))
    assert loaded.featurizer.dim == router.featurizer.dim
    assert loaded.guard == router.guard


def test_tune_wants_a_fresh_router_and_enough_requests() -> None:
    router = us.Router(ARMS, PRICES, seed=0)
    with pytest.raises(us.ConfigurationError, match="distinct requests"):
        router.tune(_eval_set(True, prompts=2))
    d = router.decide("q")
    router.feedback(d.id, 1.0)
    with pytest.raises(us.ConfigurationError, match="fresh router"):
        router.tune(_eval_set(True))
    with pytest.raises(us.ConfigurationError, match="folds"):
        us.Router(ARMS, PRICES).tune(_eval_set(True), folds=1)
