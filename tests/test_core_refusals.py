"""Every bad argument of a public entry point is a uniscale error and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import uniscale as us
from uniscale.errors import InvalidRequestError


def _raise(_: us.Arm) -> bool:
    raise RuntimeError("boom")


CASES: dict[str, Callable[[us.Router, us.Decision], Any]] = {
    "decide(123)": lambda r, d: r.decide(123),
    "decide([None])": lambda r, d: r.decide([None]),
    "decide(None)": lambda r, d: r.decide(None),
    "input_tokens=nan": lambda r, d: r.decide("q", input_tokens=float("nan")),
    "input_tokens=inf": lambda r, d: r.decide("q", input_tokens=float("inf")),
    "input_tokens=-5": lambda r, d: r.decide("q", input_tokens=-5),
    "allowed=42": lambda r, d: r.decide("q", allowed=42),
    "allowed=[None]": lambda r, d: r.decide("q", allowed=[None]),
    "allowed='key'": lambda r, d: r.decide("q", allowed="small/single/1"),
    "allowed raising": lambda r, d: r.decide("q", allowed=_raise),
    "features=text": lambda r, d: r.decide(features=["a"] * 128),
    "features=complex": lambda r, d: r.decide(features=np.full(128, 1j)),
    "features=2d": lambda r, d: r.decide(features=np.ones((2, 64))),
    "score=10**400": lambda r, d: r.feedback(d.id, 10**400),
    "cost=10**400": lambda r, d: r.feedback(d.id, 1.0, cost=10**400),
    "observe(id, None)": lambda r, d: r.observe(d.id, None),
    "observe nan usage": lambda r, d: r.observe(d.id, us.Usage(float("nan"), 10)),
    "observe negative usage": lambda r, d: r.observe(d.id, us.Usage(-10, 10)),
    "observe extra_cost=-1e9": lambda r, d: r.observe(d.id, us.Usage(10, 10), extra_cost=-1e9),
    "observe samples=-1": lambda r, d: r.observe(d.id, us.Usage(10, 10), samples=-1),
    "add_arm('key')": lambda r, d: r.add_arm("key"),
    "remove_arm('key')": lambda r, d: r.remove_arm("key"),
    "set_price(m, 'x')": lambda r, d: r.set_price("small", "x"),
    "set_price(m, (1, 'a'))": lambda r, d: r.set_price("small", (1, "a")),
    "set_price(m, {'in': 1})": lambda r, d: r.set_price("small", {"in": 1}),
    "set_price(None, p)": lambda r, d: r.set_price(None, us.Price(1, 1)),
    "set_backend(m, None)": lambda r, d: r.set_backend("small", None),
}


def _state(router: us.Router, path: Path) -> bytes:
    router.save(str(path))
    return path.read_bytes()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_call_is_refused_and_changes_nothing(router: us.Router, tmp_path: Path,
                                                 case: str) -> None:
    d = router.decide("what is 2+2?")
    state = router.rng.bit_generator.state
    before = _state(router, tmp_path / "a.json")
    with pytest.raises(us.UniScaleError):
        CASES[case](router, d)
    router.rng.bit_generator.state = state
    assert _state(router, tmp_path / "b.json") == before
    assert router.feedback(d.id, 1.0)
    assert us.Router.load(str(tmp_path / "b.json")).policy.updates == 0


def test_set_price_takes_a_pair_as_a_price(router: us.Router, tmp_path: Path) -> None:
    router.set_price("small", (1, 2))
    assert router.costs.prices["small"] == us.Price(1, 2)
    router.decide("q")
    router.save(str(tmp_path / "s.json"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"prices": None}, "prices"), ({"featurizer": object()}, "featurizer"),
     ({"featurizer": us.HashingFeaturizer(10**6)}, "GiB"),
     ({"prior_output_tokens": float("nan")}, "prior_output_tokens"),
     ({"prior_output_tokens": -1.0}, "prior_output_tokens"),
     ({"ridge": 1e-320}, "ridge"), ({"forgetting": 1e-300}, "forgetting"),
     ({"alpha": float("inf")}, "alpha"), ({"shared_dim": 0}, "shared_dim"),
     ({"seed": -1}, "seed"), ({"clock": 5}, "clock"), ({"pending_store": {}}, "pending"),
     ({"backends": [1]}, "backends"), ({"fallback": "small/single/1"}, "fallback"),
     ({"fallback": [None]}, "Arm"), ({"hybrid": "yes"}, "hybrid")],
)
def test_bad_router_settings(arms: us.ArmSpace, prices: dict[str, us.Price],
                             kwargs: dict[str, Any], match: str) -> None:
    settings: dict[str, Any] = {"prices": prices, **kwargs}
    with pytest.raises(us.ConfigurationError, match=match):
        us.Router(arms, **settings)


def test_early_stop_mapping_with_unknown_fields_is_refused() -> None:
    with pytest.raises(us.ConfigurationError, match="unknown fields"):
        us.SelfConsistency(early_stop={"": None})
    assert us.SelfConsistency(early_stop={"rule": "decided"}).early_stop is not None


def test_bad_values_elsewhere() -> None:
    with pytest.raises(InvalidRequestError):
        us.Message("user", None)  # type: ignore[arg-type]
    with pytest.raises(us.ConfigurationError, match="initial_multiplier"):
        us.Budget(1, initial_multiplier="x")  # type: ignore[arg-type]
    with pytest.raises(us.ConfigurationError):
        us.Router(5, {})  # type: ignore[arg-type]


def test_large_features_are_bounded_and_state_stays_loadable(
        router: us.Router, tmp_path: Path) -> None:
    for scale in (1e8, 1e155, 1e300):
        for _ in range(2):
            d = router.decide(features=np.full(128, scale))
            router.feedback(d.id, 1.0)
    assert float(np.abs(router.policy.A_raw).max()) <= 6.0 + 1e-9  # unit contexts
    router.save(str(tmp_path / "big.json"))
    loaded = us.Router.load(str(tmp_path / "big.json"))
    assert loaded.policy.updates == 6
    loaded.decide(features=np.full(128, 1e300))


def test_small_features_are_kept_as_given(router: us.Router) -> None:
    x = np.zeros(128)
    x[3] = 0.5
    d = router.decide(features=x)
    router.feedback(d.id, 1.0)
    slot = router.policy.slot(d.arm.key)
    np.testing.assert_array_equal(router.policy.b[slot][:128], x)


def test_broken_featurizer_is_a_uniscale_error(arms: us.ArmSpace,
                                               prices: dict[str, us.Price]) -> None:
    nan = us.EmbeddingFeaturizer(lambda text: [1.0, 2.0], dim=8)
    router = us.Router(arms, prices, featurizer=nan)
    nan.fn = lambda text: 1 / 0
    with pytest.raises(us.ConfigurationError, match="featurizer"):
        router.decide("q")
