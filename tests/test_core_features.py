"""Featurizers, answer extraction and cost prediction."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import uniscale as us
from uniscale.types import Message

TEXT = "What is 17*23? Show the steps.\n```python\nprint(17*23)\n```"


def test_hashing_is_deterministic_across_hash_seeds() -> None:
    code = ("import uniscale as us; from uniscale.types import Message;"
            f"v=us.HashingFeaturizer().transform([Message('user', {TEXT!r})]);"
            "print(','.join(f'{x:.12f}' for x in v))")
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_hashing_vector_shape_norm_and_signals() -> None:
    featurizer = us.HashingFeaturizer(dim=64)
    vec = featurizer.transform([Message("user", TEXT)])
    assert vec.shape == (64,) and np.linalg.norm(vec) == pytest.approx(1.0)
    other = featurizer.transform([Message("user", "tell me a story about a cat")])
    assert not np.allclose(vec, other)
    assert vec[-5] > 0  # code markers
    assert other[-4] == 0  # no question shape
    with pytest.raises(us.ConfigurationError):
        us.HashingFeaturizer(dim=4)


def test_embedding_featurizer_projects_any_embedding() -> None:
    def embed(text: str) -> list[float]:
        return [float(text.count(c)) for c in "abcdefghij"]

    featurizer = us.EmbeddingFeaturizer(embed, dim=16, seed=1)
    vec = featurizer.transform([Message("user", "a bad cab")])
    assert vec.shape == (16,) and np.linalg.norm(vec) == pytest.approx(1.0)
    again = us.EmbeddingFeaturizer(embed, dim=16, seed=1).transform([Message("user", "a bad cab")])
    np.testing.assert_allclose(vec, again)
    router = us.Router([us.Arm("m", us.Single())], {"m": us.Price(1, 1)}, featurizer=featurizer)
    assert router.decide("a bad cab").arm.model == "m"


@pytest.mark.parametrize(("text", "answer"), [
    ("so the result is \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("We get 12 apples.\nAnswer: 1,000", "1000"),
    ("The answer is $42.00.", "42"),
    ("first 3 then 7 and finally 9", "9"),
    ("  Paris. ", "paris"),
    ("", None),
])
def test_extract_answer(text: str, answer: str | None) -> None:
    assert us.extract_answer(text) == answer


def test_majority_vote_ignores_failed_extractions() -> None:
    assert us.majority_vote([None, "3", "4", "4", None]) == (2, pytest.approx(2 / 3))
    assert us.majority_vote([None, None]) == (0, 0.0)
    assert us.majority_vote(["a", "b"]) == (0, 0.5)


def test_custom_extractor_is_used() -> None:
    backend = us.FakeBackend(["RED car", "red bus", "blue"])
    strategy = us.SelfConsistency(extractor=lambda t: t.split()[0].lower())
    router = us.Router([us.Arm("m", strategy, 3)], {"m": us.Price(1, 1)}, backends={"m": backend})
    result = router.invoke("colour?")
    assert result.answer == "red" and result.agreement == pytest.approx(2 / 3)


def test_predicted_cost_learns_output_tokens() -> None:
    arm = us.Arm("m", us.SelfConsistency(), 4)
    backend = us.FakeBackend(["x" * 400], output_tokens=100)
    router = us.Router([arm], {"m": us.Price(input=1.0, output=2.0)}, backends={"m": backend},
                       prior_output_tokens=10)
    first = router.decide("hello world")
    router.feedback(first.id, 1.0)
    for _ in range(20):
        result = router.invoke("hello world")
        router.feedback(result.decision.id, 1.0)
    later = router.decide("hello world")
    tokens = later.input_tokens
    assert later.predicted_cost == pytest.approx((tokens * 4 * 1.0 + 2.0 * 100 * 4) / 1e6, rel=0.1)
    assert first.predicted_cost < later.predicted_cost
