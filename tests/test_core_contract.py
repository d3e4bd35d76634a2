"""The public contract of DESIGN.md §2, run as written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import uniscale as us

EXPECTED_ALL = [
    "AllSamplesFailedError", "Arm", "ArmSpace", "ArmSpaceMismatchError", "AsyncBackend",
    "Backend", "BackendError", "BestOfN", "Budget", "Candidate", "Completion",
    "ConfigurationError", "CostModel", "Decision", "DuplicateFeedbackError", "EarlyStop",
    "EmbeddingFeaturizer",
    "EmptyRequestError", "ExpiredDecisionError", "FakeBackend", "Featurizer",
    "FeaturizerMismatchError", "HashingFeaturizer", "ImplicitRewards", "InvalidFeaturesError",
    "InvalidScoreError", "Judge", "Message", "MissingBackendError", "MissingPriceError",
    "NoArmAllowedError", "Price", "Request", "Result", "Router", "Sample", "SelfConsistency",
    "Single", "StateFileError", "Strategy", "Tradeoff", "UniScaleError",
    "UnknownDecisionError", "Usage", "__version__", "extract_answer", "majority_vote",
    # observability (issue 12)
    "DecisionLog", "DecisionSink", "LogFileError", "LoggedDecision", "read_log",
    # warm start (issue 9)
    "Outcome",
    # offline embeddings (issue 9)
    "WordLlamaFeaturizer",
    # reliability (issue 13): every error a public call can raise
    "InvalidRequestError", "NumericalError", "StoreUnavailableError", "ProviderError",
    "MalformedResponseError", "StreamInterruptedError",
]


def test_all_is_frozen() -> None:
    assert sorted(us.__all__) == sorted(EXPECTED_ALL)


def test_every_public_error_is_exported() -> None:
    """Each error of uniscale.errors and the backends is reachable as ``uniscale.Name``."""
    import uniscale.backends
    import uniscale.errors

    found, todo = set(), [us.UniScaleError]
    while todo:
        kind = todo.pop()
        todo.extend(kind.__subclasses__())
        if kind.__module__ in ("uniscale.errors", "uniscale.backends.common"):
            found.add(kind)
    assert len(found) >= 20
    for kind in found:
        assert kind.__name__ in us.__all__ and getattr(us, kind.__name__) is kind
    assert us.MalformedResponseError is uniscale.backends.MalformedResponseError
    assert issubclass(us.StoreUnavailableError, uniscale.errors.UniScaleError)


def test_import_pulls_in_no_framework() -> None:
    code = (
        "import sys, uniscale, uniscale.backends, uniscale.testing.synthetic;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core','langchain','llama_index','openai','anthropic','matplotlib')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_design_example_runs_as_written(tmp_path: Path) -> None:
    def my_scorer(prompt: str, text: str) -> float:
        return 1.0 if "391" in text else 0.0

    small_backend = us.FakeBackend(["17*23 = 391", "It is 392", "391"], max_samples_per_call=8)
    large_backend = us.FakeBackend(["The answer is 391"])
    arms = us.ArmSpace.product(
        models=["small", "large"],
        strategies=[us.Single(), us.SelfConsistency(), us.BestOfN(scorer=my_scorer)],
        n=[1, 3, 5, 8],
    )
    assert len(arms) == 2 * (1 + 3 + 3)
    router = us.Router(
        arms,
        prices={"small": us.Price(input=0.15, output=0.60),
                "large": us.Price(input=2.5, output=10.0)},
        objective=us.Tradeoff(willingness_to_pay=0.01),
        backends={"small": small_backend, "large": large_backend},
        seed=0,
    )
    d = router.decide("What is 17*23?")
    assert d.arm in arms and d.predicted_cost > 0 and isinstance(d.id, str)
    assert router.feedback(d.id, score=1.0, cost=0.0004)
    d2 = router.decide([{"role": "user", "content": "What is 17*23?"}],
                       allowed=[a for a in arms if a.n == 1])
    assert d2.arm.n == 1
    d3 = router.decide(features=np.ones(router.featurizer.dim) / 10)
    router.feedback(d2.id, 0.5)
    router.feedback(d3.id, 0.0)
    messages = [{"role": "user", "content": "What is 17*23?"}]
    r = router.invoke(messages)
    assert r.text and r.decision.arm in arms and r.samples and r.usage.output_tokens > 0
    assert r.cost == pytest.approx(
        router.costs.price(r.decision.arm.model).cost(r.usage), rel=1e-9)
    r2 = asyncio.run(router.ainvoke(messages))
    router.feedback(r.decision.id, score=0.0)
    router.feedback(r2.decision.id, score=1.0)
    router.save(str(tmp_path / "state.json"))
    loaded = us.Router.load(str(tmp_path / "state.json"), arms=arms,
                            backends={"small": small_backend, "large": large_backend})
    assert loaded.policy.updates == router.policy.updates == 5


def test_self_consistency_votes_and_reports_share() -> None:
    backend = us.FakeBackend(["x = 7", "answer: 9", "so 7", "\\boxed{7}", "8"],
                             max_samples_per_call=1)
    arm = us.Arm("m", us.SelfConsistency(), 5)
    router = us.Router([arm], {"m": us.Price(1, 1)}, backends={"m": backend})
    result = router.invoke("q")
    assert result.answer == "7"
    assert result.agreement == pytest.approx(3 / 5)
    assert result.text == "x = 7"
    assert len(backend.calls) == 5  # no native n: one call per sample


def test_native_multi_sample_backend_is_called_once() -> None:
    backend = us.FakeBackend(["1", "1", "2"], max_samples_per_call=8)
    arm = us.Arm("m", us.SelfConsistency(), 5)
    router = us.Router([arm], {"m": us.Price(1.0, 2.0)}, backends={"m": backend})
    result = router.invoke("q")
    assert len(backend.calls) == 1 and backend.calls[0].n == 5
    assert len(result.samples) == 5
    # input paid once: the cost model knows it
    assert router.costs.calls(arm) == 1
    assert result.usage.calls == 1


def test_best_of_n_uses_scorer() -> None:
    backend = us.FakeBackend(["short", "a much longer answer", "mid size"])
    arm = us.Arm("m", us.BestOfN(scorer=lambda p, t: len(t)), 3)
    router = us.Router([arm], {"m": us.Price(1, 1)}, backends={"m": backend})
    result = router.invoke("q")
    assert result.text == "a much longer answer"
    assert result.agreement == len("a much longer answer")


def test_best_of_n_with_judge_backend_charges_the_judge() -> None:
    judge_backend = us.FakeBackend(lambda req, rng: "9" if "good" in req.prompt else "2")
    judge = us.Judge(judge_backend, price=us.Price(input=1.0, output=1.0))
    backend = us.FakeBackend(["bad one", "good one", "bad two"])
    arm = us.Arm("m", us.BestOfN(scorer=judge), 3)
    router = us.Router([arm], {"m": us.Price(0, 0)}, backends={"m": backend})
    result = router.invoke("q")
    assert result.text == "good one"
    assert result.agreement == pytest.approx(0.9)
    assert result.cost > 0 and len(judge_backend.calls) == 3


def test_partial_failure_answers_from_the_rest() -> None:
    backend = us.FakeBackend(["7", "7", "3", "7", "7"],
                             fail=lambda req, i: i in (0, 2))
    arm = us.Arm("m", us.SelfConsistency(), 5)
    router = us.Router([arm], {"m": us.Price(1, 1)}, backends={"m": backend})
    result = router.invoke("q")
    assert len(result.samples) == 3 and len(result.errors) == 2
    assert result.answer is not None


def test_total_failure_uses_fallback_without_learning_a_score() -> None:
    bad = us.FakeBackend(["x"], fail=lambda req, i: True)
    good = us.FakeBackend(["fine"])
    a_bad, a_good = us.Arm("bad", us.Single()), us.Arm("good", us.Single())
    router = us.Router([a_bad, a_good], {"bad": us.Price(0.1, 0.1), "good": us.Price(9, 9)},
                       backends={"bad": bad, "good": good}, fallback=[a_good])
    result = router.invoke("q", allowed=[a_bad])
    assert result.text == "fine" and result.decision.arm == a_good
    assert result.failed_arms == (a_bad,)
    assert router.stats["failures"] == {a_bad.key: 1}
    assert router.policy.updates == 0
    router.feedback(result.decision.id, 1.0)
    assert router.policy.counts[router.policy.slot(a_good.key)] == 1
    assert router.policy.counts[router.policy.slot(a_bad.key)] == 0


def test_total_failure_without_fallback_raises() -> None:
    bad = us.FakeBackend(["x"], fail=lambda req, i: True)
    router = us.Router([us.Arm("bad", us.Single())], {"bad": us.Price(1, 1)},
                       backends={"bad": bad})
    with pytest.raises(us.AllSamplesFailedError, match="fallback"):
        router.invoke("q")
    assert router.policy.updates == 0 and len(router.pending) == 0


def test_arms_added_and_removed_at_run_time_keep_learning(rng: np.random.Generator) -> None:
    arms = us.ArmSpace.product(["a", "b"], [us.Single()])
    prices = {"a": us.Price(1, 1), "b": us.Price(1, 1), "c": us.Price(1, 1)}
    router = us.Router(arms, prices, seed=0)
    for _ in range(50):
        d = router.decide(features=rng.standard_normal(router.featurizer.dim))
        router.feedback(d.id, 1.0 if d.arm.model == "a" else 0.0)
    before = router.policy.estimate(np.ones(router.policy.dim) / 8, np.array([0, 1]))
    new = us.Arm("c", us.SelfConsistency(), 3)
    router.add_arm(new)
    after = router.policy.estimate(np.ones(router.policy.dim) / 8, np.array([0, 1]))
    np.testing.assert_allclose(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1])
    picks = [router.decide("new prompt").arm for _ in range(3)]
    assert new in picks  # a new arm starts optimistic and is explored
    router.remove_arm(new)
    assert new not in router.arms and new.key in router.policy.slots


def test_every_fallback_failing_raises_once_each() -> None:
    bad = us.FakeBackend(["x"], fail=lambda req, i: True)
    arms = [us.Arm("a", us.Single()), us.Arm("b", us.Single()), us.Arm("c", us.Single())]
    router = us.Router(arms, {m: us.Price(1, 1) for m in "abc"},
                       backends={m: bad for m in "abc"}, fallback=[arms[0], arms[1], arms[2]])
    with pytest.raises(us.AllSamplesFailedError, match="no fallback is left"):
        router.invoke("q", allowed=[arms[1]])
    assert router.stats["failures"] == {a.key: 1 for a in arms}
    assert len(bad.calls) == 3 and len(router.pending) == 0
    assert router.pacer.requests == 1 and router.pacer.spent == pytest.approx(0.0, abs=1e-15)


def test_product_always_gives_single_its_one_sample() -> None:
    space = us.ArmSpace.product(["a", "b"], [us.Single(), us.SelfConsistency()], n=[3, 5])
    assert [a.key for a in space] == ["a/single/1", "a/sc/3", "a/sc/5",
                                      "b/single/1", "b/sc/3", "b/sc/5"]
    only_sc = us.ArmSpace.product(["a"], [us.SelfConsistency()], n=[1, 3])
    assert [a.key for a in only_sc] == ["a/sc/1", "a/sc/3"]


def test_decide_then_run_and_report_failure_of_own_call() -> None:
    cheap, strong = us.Arm("cheap", us.Single()), us.Arm("strong", us.Single())
    backends = {"cheap": us.FakeBackend(["cheap answer"]), "strong": us.FakeBackend(["strong"])}
    router = us.Router([cheap, strong], {"cheap": us.Price(1, 1), "strong": us.Price(5, 5)},
                       backends=backends, fallback=[strong])
    d = router.decide("q", allowed=[cheap])
    result = router.run(d, us.Request((us.Message("user", "q"),)))
    assert result.text == "cheap answer" and result.decision == d
    # the caller streamed a decision itself and the stream broke after 7 output tokens
    d2 = router.decide("q", allowed=[cheap])
    nxt = router.report_failure(d2, usage=us.Usage(input_tokens=3, output_tokens=7, calls=1))
    assert nxt is not None and nxt.arm == strong
    with pytest.raises(us.UnknownDecisionError, match="fallback"):
        router.feedback(d2.id, 1.0)
    assert router.stats["failures"] == {cheap.key: 1}
    served = asyncio.run(router.arun(nxt, us.Request((us.Message("user", "q"),))))
    assert served.text == "strong"
    spent_on_failure = us.Price(1, 1).cost(us.Usage(input_tokens=3, output_tokens=7))
    assert router.pacer.spent == pytest.approx(result.cost + spent_on_failure + served.cost)
    assert router.report_failure(router.decide("q", allowed=[strong])) is None


def test_model_names_with_slashes_and_arms_removed_after_deciding() -> None:
    arms = us.ArmSpace.product(["openai/gpt-4o-mini", "meta-llama/llama-3"], [us.Single()])
    prices = {"openai/gpt-4o-mini": us.Price(0.15, 0.6), "meta-llama/llama-3": us.Price(1, 1)}
    backends = {m: us.FakeBackend(["ok"]) for m in prices}
    router = us.Router(arms, prices, backends=backends)
    result = router.invoke("q", allowed=[arms[0]])
    assert result.cost == pytest.approx(prices["openai/gpt-4o-mini"].cost(result.usage))
    d = router.decide("q", allowed=[arms[1]])
    router.remove_arm(arms[1])
    spent = router.observe(d.id, us.Usage(input_tokens=10, output_tokens=10, calls=1))
    assert spent == pytest.approx(prices["meta-llama/llama-3"].cost(us.Usage(10, 10)))
    assert router.feedback(d.id, 1.0)
    assert us.ArmSpace.product(["a"]).get("a/single/1") == us.Arm("a", us.Single())
