"""Featurizers, answer extraction and cost prediction."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import uniscale as us
from uniscale.features import _text_of
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


def _hashing_reference(featurizer: us.HashingFeaturizer, text: str) -> np.ndarray:
    """The featurizer's definition, one token and one character at a time."""
    import itertools
    import math
    import re
    import zlib

    lower = text.lower()
    words = re.findall(r"[a-z0-9]+|[^\sa-z0-9]", lower)
    tokens = words + ([f"{a} {b}" for a, b in itertools.pairwise(words)]
                      if featurizer.ngrams == 2 else [])
    buckets = featurizer.dim - 8
    hashed = np.zeros(buckets)
    for token in tokens:
        h = zlib.crc32(f"{featurizer.seed}|".encode() + token.encode("utf-8", "surrogatepass"))
        hashed[h % buckets] += 1.0 if (h >> 31) & 1 else -1.0
    if np.linalg.norm(hashed) > 0:
        hashed /= np.linalg.norm(hashed)
    chars, stripped = max(len(text), 1), lower.strip()
    code = r"```|\bdef |\bclass |\breturn\b|[{};]|=>|\bimport\b|\bfunction\b"
    wh = ("what", "how", "why", "when", "where", "which", "who", "whom", "whose")
    dense = np.array([
        1.0, math.log1p(len(text)) / 10.0, sum(c.isdigit() for c in text) / chars * 4.0,
        min(len(re.findall(code, text)) / 10.0, 1.0),
        float(stripped.endswith("?") or stripped.startswith(wh)),
        min(text.count("\n") / 20.0, 1.0),
        min(sum(text.count(c) for c in "+-*/=^%<>") / 20.0, 1.0),
        sum(c.isupper() for c in text) / chars * 4.0])
    vec = np.concatenate([hashed, dense])
    return vec / np.linalg.norm(vec)


@pytest.mark.parametrize(("dim", "ngrams", "seed"), [(128, 2, 0), (16, 1, 3), (64, 2, 7)])
def test_hashing_transform_equals_its_definition_bit_for_bit(dim: int, ngrams: int,
                                                             seed: int) -> None:
    featurizer = us.HashingFeaturizer(dim, ngrams=ngrams, seed=seed)
    rng = np.random.default_rng(dim + seed)
    alphabet = [*"abcXYZ 0123456789 \n\t?+-*/=^%<>{};()É²ßñ漢字🙂", "def ", "return ",
                "```", "=>", "class ", "éimport", "functions", "function", "_import", "returns",
                "xdef ", "import_", "class class "]
    texts = [TEXT, "", "   ", "?", "Ünïcödé ² ³ ÀÉÎ and ASCII 42", "\ud800 lone surrogate"]
    # code keywords (fewer than 10 markers, so the count is not capped) at word boundaries
    texts += ["returns x", "def f(): return", "import_x _import y", "xdef z class class a",
              "functions function.", "(return)import", "re-turn importé function2"]
    texts += ["".join(rng.choice(alphabet[-12:], size=int(rng.integers(1, 8))))
              for _ in range(40)]
    texts += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 300))))
              for _ in range(60)]
    for text in texts * 2:  # the second pass reads the token cache
        got = featurizer.transform([Message("user", text)])
        want = _hashing_reference(featurizer, _text_of([Message("user", text)]))
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba not installed")
def test_compiled_hashing_matches_the_python_code_bit_for_bit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    alphabet = list("abcXYZ019 \t\n\x0b\x0c\r\x1c\x1f+-*/=^%<>{};`!?.,'\x00\x7f")
    texts = ["", " ", "?", TEXT, "what IS this?", "a\x1cb c\x1fd", "x => y ```"]
    texts += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 60))))
              for _ in range(200)]
    conversations = [[Message("user", t)] for t in texts]
    conversations += [[Message("system", texts[i]), Message("user", texts[i + 1]),
                       Message("assistant", texts[i + 2]), Message("user", texts[i + 3])]
                      for i in range(0, 200, 4)]
    conversations.append([Message("user", "Ünïcode stays on the Python path, ΣΑΣ?")])
    for dim, ngrams, seed in ((16, 1, 0), (64, 2, 0), (200, 2, 5)):
        fast = us.HashingFeaturizer(dim, ngrams=ngrams, seed=seed)
        monkeypatch.setenv("UNISCALE_KERNEL", "numpy")
        reference = us.HashingFeaturizer(dim, ngrams=ngrams, seed=seed)
        want = [reference.transform(c) for c in conversations]
        monkeypatch.delenv("UNISCALE_KERNEL")
        got = [fast.transform(c) for c in conversations]
        assert reference._compiled is None and fast._compiled is not None
        for a, b in zip(want, got, strict=True):
            assert a.tobytes() == b.tobytes()
