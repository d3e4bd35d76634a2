"""The bad-input catalogue: each mistake raises a specific error and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import uniscale as us


def snapshot(router: us.Router, path: Path) -> dict[str, object]:
    router.save(str(path))
    state = json.loads(path.read_text())
    state["meta"].pop("rng")  # tie-breaking draws are not learned state
    state.pop("sha256")
    return state


@pytest.fixture
def trained(router: us.Router, rng: np.random.Generator) -> us.Router:
    for i in range(30):
        d = router.decide(f"question {i} about {'math' if i % 2 else 'code'}")
        router.feedback(d.id, float(rng.random()))
    return router


@pytest.mark.parametrize(
    ("score", "match"),
    [(float("nan"), "finite"), (float("inf"), "finite"), (-0.1, "between 0 and 1"),
     (1.5, "between 0 and 1"), ("good", "number"), (True, "number")],
)
def test_bad_scores(trained: us.Router, tmp_path: Path, score: object, match: str) -> None:
    d = trained.decide("what is 2+2?")
    before = snapshot(trained, tmp_path / "a.json")
    with pytest.raises(us.InvalidScoreError, match=match):
        trained.feedback(d.id, score)  # type: ignore[arg-type]
    assert snapshot(trained, tmp_path / "b.json") == before
    assert trained.feedback(d.id, 1.0)  # the decision is still usable


def test_bad_cost(trained: us.Router, tmp_path: Path) -> None:
    d = trained.decide("q")
    before = snapshot(trained, tmp_path / "a.json")
    with pytest.raises(us.InvalidScoreError, match="cost"):
        trained.feedback(d.id, 1.0, cost=-1.0)
    assert snapshot(trained, tmp_path / "b.json") == before


def test_unknown_repeated_and_expired_ids(arms: us.ArmSpace, prices: dict[str, us.Price],
                                          tmp_path: Path) -> None:
    now = [1000.0]
    router = us.Router(arms, prices, feedback_ttl=60, clock=lambda: now[0])
    d = router.decide("q")
    before = snapshot(router, tmp_path / "a.json")
    with pytest.raises(us.UnknownDecisionError, match="unknown decision id"):
        router.feedback("nope", 1.0)
    assert snapshot(router, tmp_path / "b.json") == before
    router.feedback(d.id, 1.0)
    after_first = snapshot(router, tmp_path / "c.json")
    with pytest.raises(us.DuplicateFeedbackError, match="already received"):
        router.feedback(d.id, 1.0)
    assert snapshot(router, tmp_path / "d.json") == after_first
    late = router.decide("q2")
    now[0] += 61
    with pytest.raises(us.ExpiredDecisionError, match="feedback_ttl"):
        router.feedback(late.id, 1.0)
    assert snapshot(router, tmp_path / "e.json")["meta"]["policy"] == after_first["meta"]["policy"]


def test_ignore_mode_counts_bad_feedback(arms: us.ArmSpace, prices: dict[str, us.Price]) -> None:
    router = us.Router(arms, prices, on_invalid_feedback="ignore")
    d = router.decide("q")
    assert router.feedback(d.id, float("nan")) is False
    assert router.feedback("missing", 1.0) is False
    assert router.feedback(d.id, 1.0) is True
    assert router.feedback(d.id, 1.0) is False
    assert router.stats["ignored_feedback"] == 3 and router.policy.updates == 1


@pytest.mark.parametrize("request_", ["", "   ", [], [{"role": "user", "content": ""}]])
def test_empty_prompt(router: us.Router, request_: object) -> None:
    with pytest.raises(us.EmptyRequestError, match="empty"):
        router.decide(request_)  # type: ignore[arg-type]
    with pytest.raises(us.EmptyRequestError):
        router.invoke(request_)  # type: ignore[arg-type]
    assert len(router.pending) == 0 and router.stats["decisions"] == 0


@pytest.mark.parametrize(
    ("features", "match"),
    [(np.ones(3), "shape"), (np.ones((2, 128)), "shape"),
     (np.full(128, np.nan), "NaN"), (np.full(128, np.inf), "NaN")],
)
def test_bad_features(router: us.Router, features: np.ndarray, match: str) -> None:
    with pytest.raises(us.InvalidFeaturesError, match=match):
        router.decide(features=features)
    assert len(router.pending) == 0


def test_model_without_price(arms: us.ArmSpace) -> None:
    with pytest.raises(us.MissingPriceError, match=r"large.*has no price"):
        us.Router(arms, {"small": us.Price(1, 1)})
    with pytest.raises(us.ConfigurationError, match="USD"):
        us.Price(input=-1, output=1)


@pytest.mark.parametrize("make", [
    lambda: us.Arm("m", us.Single(), 2),
    lambda: us.Arm("m", us.Single(), 0),
    lambda: us.Arm("m", us.SelfConsistency(), 0),
    lambda: us.Arm("m", us.SelfConsistency(), -3),
])
def test_bad_n(make: Callable[[], us.Arm]) -> None:
    with pytest.raises(us.ConfigurationError, match="n"):
        make()


def test_missing_backend(arms: us.ArmSpace, prices: dict[str, us.Price]) -> None:
    with pytest.raises(us.MissingBackendError, match=r"large.*no backend"):
        us.Router(arms, prices, backends={"small": us.FakeBackend()})
    router = us.Router(arms, prices)
    with pytest.raises(us.MissingBackendError, match="backends="):
        router.invoke("q")


def test_disallowed_everything(router: us.Router) -> None:
    with pytest.raises(us.NoArmAllowedError):
        router.decide("q", allowed=[])
    with pytest.raises(us.ConfigurationError, match="not in this arm space"):
        router.decide("q", allowed=[us.Arm("ghost", us.Single())])


def test_corrupt_and_truncated_state(trained: us.Router, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    trained.save(str(path))
    data = path.read_bytes()
    (tmp_path / "trunc.json").write_bytes(data[: len(data) // 2])
    with pytest.raises(us.StateFileError, match="corrupt or truncated"):
        us.Router.load(str(tmp_path / "trunc.json"))
    flipped = data.replace(b'"prune": true', b'"prune": false')
    (tmp_path / "flip.json").write_bytes(flipped)
    with pytest.raises(us.StateFileError, match="checksum"):
        us.Router.load(str(tmp_path / "flip.json"))
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(us.StateFileError):
        us.Router.load(str(tmp_path / "other.json"))
    with pytest.raises(us.StateFileError, match="cannot read"):
        us.Router.load(str(tmp_path / "missing.json"))
    npz = tmp_path / "state.npz"
    trained.save(str(npz))
    raw = npz.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) - 100])
    with pytest.raises(us.StateFileError):
        us.Router.load(str(tmp_path / "trunc.npz"))
    assert us.Router.load(str(npz)).policy.updates == trained.policy.updates


def test_state_from_another_arm_space_or_featurizer(trained: us.Router, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    trained.save(str(path))
    other = us.ArmSpace.product(["small", "large"], [us.Single()])
    with pytest.raises(us.ArmSpaceMismatchError, match="another arm space"):
        us.Router.load(str(path), arms=other)
    with pytest.raises(us.FeaturizerMismatchError, match="featurizer"):
        us.Router.load(str(path), featurizer=us.HashingFeaturizer(dim=64))
    embed = us.EmbeddingFeaturizer(lambda text: [len(text), 1.0], dim=128)
    with pytest.raises(us.FeaturizerMismatchError):
        us.Router.load(str(path), featurizer=embed)
