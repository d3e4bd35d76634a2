"""Best-of-n under a judge backend or a callable: judge charged, stop at a threshold."""

from __future__ import annotations

import asyncio

import pytest

import uniscale as us
from uniscale.errors import BackendError

MODEL = us.Price(input=1.0, output=2.0)
JUDGE = us.Price(input=3.0, output=5.0)


def _judge_backend() -> us.FakeBackend:
    return us.FakeBackend(lambda req, rng: "9" if "good" in req.prompt else "2", output_tokens=1)


def _router(arm: us.Arm, texts: list[str]) -> tuple[us.Router, us.FakeBackend]:
    backend = us.FakeBackend(texts, output_tokens=10)
    return us.Router([arm], {"m": MODEL}, backends={"m": backend}), backend


def test_judge_cost_is_charged_and_its_usage_reported() -> None:
    judge_backend = _judge_backend()
    arm = us.Arm("m", us.BestOfN(scorer=us.Judge(judge_backend, price=JUDGE)), 3)
    router, _ = _router(arm, ["bad one", "good one", "bad two"])
    result = router.invoke("q")
    assert result.text == "good one" and result.agreement == pytest.approx(0.9)
    judge_in = sum(-(-len(r.messages[0].content) // 4) + 4 for r in judge_backend.calls)
    model_cost = (3 * 5 * 1.0 + 3 * 10 * 2.0) / 1e6  # three calls of "q", 10 tokens each
    judge_cost = (judge_in * 3.0 + 3 * 1 * 5.0) / 1e6
    assert result.cost == pytest.approx(model_cost + judge_cost, rel=1e-12)
    assert result.usage.calls == 6 and result.usage.input_tokens == 15 + judge_in


def test_threshold_stops_at_the_first_sample_that_passes() -> None:
    checker = us.BestOfN(scorer=lambda p, t: 1.0 if t == "24" else 0.0, threshold=1.0)
    arm = us.Arm("m", checker, 10)
    router, backend = _router(arm, ["23", "25", "24", "24"])
    result = router.invoke("q")
    assert result.text == "24" and len(result.samples) == 3 and len(backend.calls) == 3
    assert result.cost == pytest.approx((3 * 5 * 1.0 + 3 * 10 * 2.0) / 1e6, rel=1e-12)
    assert arm.key == "m/bon+stop1/10"


def test_threshold_with_a_judge_judges_only_what_was_drawn() -> None:
    judge_backend = _judge_backend()
    strategy = us.BestOfN(scorer=us.Judge(judge_backend, price=JUDGE), threshold=0.8, wave=2)
    router, backend = _router(us.Arm("m", strategy, 8), ["bad", "meh", "good", "bad"])
    result = router.invoke("q")
    assert result.text == "good" and len(backend.calls) == 4 and len(judge_backend.calls) == 4
    assert result.decision.arm.strategy.waves(8) == [2, 2, 2, 2]


def test_no_sample_passing_draws_all_n_and_keeps_the_best() -> None:
    scorer = us.BestOfN(scorer=lambda p, t: float(len(t)), threshold=100.0)
    router, backend = _router(us.Arm("m", scorer, 4), ["a", "abc", "ab", "a"])
    result = router.invoke("q")
    assert len(backend.calls) == 4 and result.text == "abc" and result.agreement == 3.0


def test_async_threshold_run_matches() -> None:
    checker = us.BestOfN(scorer=lambda p, t: 1.0 if t == "ok" else 0.0, threshold=1.0)
    router, backend = _router(us.Arm("m", checker, 6), ["no", "ok"])
    result = asyncio.run(router.ainvoke("q"))
    assert result.text == "ok" and len(backend.calls) == 2


def test_a_judge_backend_with_a_price_is_used_directly() -> None:
    judge_backend = _judge_backend()
    judge_backend.price = JUDGE  # type: ignore[attr-defined]
    strategy = us.BestOfN(scorer=judge_backend)
    assert isinstance(strategy.scorer, us.Judge) and strategy.scorer.price == JUDGE
    with pytest.raises(us.ConfigurationError, match="needs a price"):
        us.BestOfN(scorer=_judge_backend())
    with pytest.raises(us.ConfigurationError, match="scorer must be a function"):
        us.BestOfN(scorer=42)  # type: ignore[arg-type]
    with pytest.raises(us.ConfigurationError, match="threshold must be a finite"):
        us.BestOfN(scorer=len, threshold=float("nan"))  # type: ignore[arg-type]


def test_a_failed_judgement_leaves_its_sample_unscored() -> None:
    def fails(req: us.Request, i: int) -> bool:
        return "good" in req.prompt  # the judge fails on the one good sample

    judge_backend = us.FakeBackend(["7"], output_tokens=1, fail=fails)
    arm = us.Arm("m", us.BestOfN(scorer=us.Judge(judge_backend, price=JUDGE)), 3)
    router, _ = _router(arm, ["bad", "good", "worse"])
    result = router.invoke("q")
    assert result.text == "bad" and result.agreement == pytest.approx(0.7)
    assert any("BackendError" in e for e in result.errors)
    assert issubclass(BackendError, us.UniScaleError)


def test_predicted_cost_learns_the_judge_cost_per_judgement() -> None:
    judge = us.Judge(_judge_backend(), price=JUDGE)
    arm = us.Arm("m", us.BestOfN(scorer=judge), 3)
    router, _ = _router(arm, ["bad", "good", "bad"])
    assert router.costs.predict(arm, 5) == pytest.approx(_model_part(router, arm, 5))
    result = router.invoke("q")
    per = judge.cost_per_judgement
    assert 3 * per == pytest.approx(result.cost - (3 * 5 * 1.0 + 3 * 10 * 2.0) / 1e6, rel=1e-9)
    assert router.costs.predict(arm, 5) == pytest.approx(
        _model_part(router, arm, 5) + 3 * per, rel=1e-12)


def _model_part(router: us.Router, arm: us.Arm, tokens: int) -> float:
    costs = router.costs
    per_call = tokens + costs.expected_extra_input_tokens(arm)
    return (1.0 * per_call * 3 + 2.0 * costs.expected_output_tokens(arm) * 3) / 1e6
