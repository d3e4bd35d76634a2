"""Property-based fuzzing of the public entry points.

Invariant: valid input works; invalid input raises a ``uniscale`` error and the saved
state is byte-identical to before; the state always saves and loads afterwards. The
figures (cases tried, refusals) are printed at the end of the module (``pytest -s``);
``UNISCALE_FUZZ_EXAMPLES=600`` tries ten times the default number of cases per test.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uniscale as us
from uniscale.store.file import _decode, _digest, _encode

FIGURES: Counter[str] = Counter()
FUZZ = settings(max_examples=int(os.environ.get("UNISCALE_FUZZ_EXAMPLES", "60")),
                deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
DIM = 16

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.binary(max_size=4), st.sampled_from([1j, object(), Ellipsis, -0.0, 1e308, 5e-324]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=4), inner, max_size=3)), max_leaves=6)
arrays = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=DIM, max_size=DIM)
    .map(np.array),
    st.integers(0, 40).map(lambda n: np.ones(n)),
    st.floats(-1e300, 1e300).map(lambda v: np.full(DIM, v)))


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    print(f"\nfuzz figures: {dict(sorted(FIGURES.items()))}")


@pytest.fixture
def router() -> us.Router:
    arms = us.ArmSpace.product(["small", "large"], [us.Single(), us.SelfConsistency()], [3])
    router = us.Router(arms, {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)},
                       featurizer=us.HashingFeaturizer(dim=DIM), context_dim=4, seed=1)
    for i in range(6):
        d = router.decide(f"warm-up question {i}")
        router.feedback(d.id, float(i % 2))
    return router


def _bytes(router: us.Router, path: Path) -> bytes:
    router.save(str(path))
    return path.read_bytes()


def check(router: us.Router, tmp: Path, name: str, call: Callable[[], Any]) -> None:
    """Run ``call``: a uniscale error leaves the state byte-identical; always reloadable."""
    before = _bytes(router, tmp / "before.json")
    FIGURES[f"{name} tried"] += 1
    try:
        call()
    except us.UniScaleError:
        FIGURES[f"{name} refused"] += 1
        assert _bytes(router, tmp / "after.json") == before, f"{name} changed the state"
    else:
        FIGURES[f"{name} worked"] += 1
    loaded = us.Router.load(str(tmp / "after.json") if (tmp / "after.json").exists()
                            else _saved(router, tmp))
    loaded.decide("a question after the fuzzing")
    (tmp / "after.json").unlink(missing_ok=True)


def _saved(router: us.Router, tmp: Path) -> str:
    router.save(str(tmp / "now.json"))
    return str(tmp / "now.json")


@FUZZ
@given(request=st.one_of(values, st.text(max_size=30)),
       features=st.one_of(st.none(), arrays, values),
       allowed=st.one_of(st.none(), values, st.just(["small/single/1"]),
                         st.just(lambda arm: arm.n > 1)),
       input_tokens=st.one_of(st.none(), values), context=st.one_of(st.none(), values))
def test_decide(router: us.Router, tmp_path: Path, request: Any, features: Any, allowed: Any,
                input_tokens: Any, context: Any) -> None:
    check(router, tmp_path, "decide", lambda: router.decide(
        request, features=features, allowed=allowed, input_tokens=input_tokens,
        context=context))


@FUZZ
@given(score=values, cost=values, real_id=st.booleans(), decision_id=values)
def test_feedback(router: us.Router, tmp_path: Path, score: Any, cost: Any, real_id: bool,
                  decision_id: Any) -> None:
    d = router.decide("what is 2+2?")
    check(router, tmp_path, "feedback",
          lambda: router.feedback(d.id if real_id else decision_id, score, cost))


@FUZZ
@given(usage=st.one_of(values, st.builds(us.Usage, values, values)), samples=values,
       extra_cost=values, request_tokens=values)
def test_observe(router: us.Router, tmp_path: Path, usage: Any, samples: Any,
                 extra_cost: Any, request_tokens: Any) -> None:
    d = router.decide("what is 2+2?")
    check(router, tmp_path, "observe", lambda: router.observe(
        d.id, usage, samples=samples, extra_cost=extra_cost, request_tokens=request_tokens))


@FUZZ
@given(which=st.sampled_from(["set_price", "add_arm", "remove_arm", "set_backend"]),
       a=values, b=values)
def test_setters(router: us.Router, tmp_path: Path, which: str, a: Any, b: Any) -> None:
    calls: dict[str, Callable[[], Any]] = {
        "set_price": lambda: router.set_price(a, b), "add_arm": lambda: router.add_arm(a),
        "remove_arm": lambda: router.remove_arm(a),
        "set_backend": lambda: router.set_backend(a, b)}
    check(router, tmp_path, which, calls[which])


@FUZZ
@given(records=st.lists(st.one_of(values, st.fixed_dictionaries(
    {"arm": st.one_of(st.just("small/single/1"), values), "score": values,
     "request": st.one_of(st.text(max_size=10), values)})), max_size=3))
def test_fit(router: us.Router, tmp_path: Path, records: list[Any]) -> None:
    check(router, tmp_path, "fit", lambda: router.fit(records))


SETTINGS = ["alpha", "ridge", "arm_ridge", "forgetting", "hybrid", "shared_dim", "prune",
            "feedback_ttl", "on_invalid_feedback", "fallback", "prior_output_tokens", "seed",
            "clock", "pending_store", "max_pending", "featurizer", "backends", "objective"]


@FUZZ
@given(name=st.sampled_from(SETTINGS), value=values,
       prices=st.one_of(st.just({"small": us.Price(1, 1)}), values))
def test_router_settings(name: str, value: Any, prices: Any) -> None:
    FIGURES["Router() tried"] += 1
    try:
        router = us.Router([us.Arm("small", us.Single())], prices, **{name: value})
    except us.UniScaleError:
        FIGURES["Router() refused"] += 1
        return
    FIGURES["Router() worked"] += 1
    router.feedback(router.decide("q").id, 1.0)


@FUZZ
@given(kind=st.sampled_from(["Price", "Tradeoff", "Budget", "SelfConsistency", "BestOfN",
                             "HashingFeaturizer", "Arm", "Message", "EmbeddingFeaturizer"]),
       a=values, b=values, c=values)
def test_value_constructors(kind: str, a: Any, b: Any, c: Any) -> None:
    makers: dict[str, Callable[[], Any]] = {
        "Price": lambda: us.Price(a, b, c), "Tradeoff": lambda: us.Tradeoff(a),
        "Budget": lambda: us.Budget(a, b, c), "SelfConsistency": lambda: us.SelfConsistency(
            variant=a, temperature=b, early_stop=c),
        "BestOfN": lambda: us.BestOfN(variant=a, scorer=b, threshold=c),
        "HashingFeaturizer": lambda: us.HashingFeaturizer(a, ngrams=b, seed=c),
        "Arm": lambda: us.Arm(a, us.Single(), b), "Message": lambda: us.Message(a, b),
        "EmbeddingFeaturizer": lambda: us.EmbeddingFeaturizer(a, b, seed=c)}
    FIGURES[f"{kind} tried"] += 1
    try:
        makers[kind]()
    except us.UniScaleError:
        FIGURES[f"{kind} refused"] += 1


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            out += _paths(value, (*prefix, i))
    return out


@FUZZ
@given(pick=st.integers(0, 10**6), value=values, array_pick=st.integers(0, 10**6),
       scale=st.sampled_from([None, -1.0, 0.0, 1e300, float("nan")]))
def test_load_of_mutated_state(router: us.Router, tmp_path: Path, pick: int, value: Any,
                               array_pick: int, scale: float | None) -> None:
    router.decide("pending one")
    router.save(str(tmp_path / "good.json"))
    doc = json.loads((tmp_path / "good.json").read_text())
    arrays = {k: _decode(v) for k, v in doc["arrays"].items()}
    paths = _paths(doc["meta"])[1:]
    path = paths[pick % len(paths)]
    node = doc["meta"]
    for part in path[:-1]:
        node = node[part]
    try:
        json.dumps(value)
        node[path[-1]] = value
    except (TypeError, ValueError, OverflowError):
        del node[path[-1]]
    if scale is not None:
        name = sorted(arrays)[array_pick % len(arrays)]
        if arrays[name].size:
            arrays[name].flat[array_pick % arrays[name].size] = scale
    doc["arrays"] = {k: _encode(v) for k, v in arrays.items()}
    doc["sha256"] = _digest(doc["meta"], arrays)
    bad = tmp_path / "mutated.json"
    bad.write_text(json.dumps(doc))
    FIGURES["load tried"] += 1
    try:
        loaded = us.Router.load(str(bad))
    except us.StateFileError:
        FIGURES["load refused"] += 1
        return
    except us.UniScaleError:
        FIGURES["load refused (other uniscale error)"] += 1
        return
    FIGURES["load worked"] += 1
    d = loaded.decide("does it still work?")
    loaded.feedback(d.id, 1.0)
    loaded.save(str(tmp_path / "again.json"))
    us.Router.load(str(tmp_path / "again.json")).decide("and after a reload?")
