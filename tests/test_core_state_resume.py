"""A loaded router decides as the router that was saved, with or without its backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.store.file import _decode, _digest, _encode

PRICES = {"native": us.Price(input=5.0, output=1.0), "single": us.Price(input=4.0, output=1.2)}


def _contains_42(prompt: str, text: str) -> float:
    return float("42" in text)


def _arms() -> us.ArmSpace:
    """Single, self-consistency (fixed and early-stopping) and best-of-n arms on a model
    whose backend returns many samples per call and on one that returns one."""
    out = []
    for model in PRICES:
        out += [us.Arm(model, us.Single(), 1), us.Arm(model, us.SelfConsistency(), 5),
                us.Arm(model, us.SelfConsistency(early_stop=True), 5),
                us.Arm(model, us.BestOfN(scorer=_contains_42), 5),
                us.Arm(model, us.BestOfN(scorer=_contains_42, threshold=1.0), 4)]
    return us.ArmSpace(out)


def _backends(native_per_call: int = 8) -> dict[str, us.FakeBackend]:
    return {"native": us.FakeBackend(["The answer is 42", "41", "42"],
                                     max_samples_per_call=native_per_call),
            "single": us.FakeBackend(["The answer is 42", "43"])}


def _prompt(i: int, words: int) -> str:
    return f"question {i} about {'math' if i % 2 else 'code'} " + "context " * words


def _fitted(objective: us.Tradeoff | us.Budget, precision: str = "float64") -> us.Router:
    """A router warm-started on an eval set, then run live (the early-stopping arms
    learn how many samples they draw)."""
    arms = _arms()
    router = us.Router(arms, PRICES, objective, _backends(), seed=1, precision=precision)
    rng = np.random.default_rng(0)
    records = []
    for i in range(30):
        prompt = _prompt(i, int(rng.integers(1, 300)))
        for arm in arms:
            good = rng.random() < 0.3 + 0.1 * arm.n * (arm.model == "native")
            records.append(us.Outcome(arm, float(good), request=prompt))
    router.fit(records)
    for i in range(12):
        result = router.invoke(_prompt(100 + i, 40 * i), allowed=[arms[1 + i % 4]])
        router.feedback(result.decision.id, 1.0)
    return router


def _same_decisions(saved: us.Router, loaded: us.Router, rel: float, count: int = 40
                    ) -> list[us.Arm]:
    """Decide the same requests on both routers (giving both the same feedback); every
    decision must choose the same arm with the same bound, cost weight and costs."""
    chosen = []
    for i in range(count):
        prompt = _prompt(200 + i, (i * 37) % 500)
        a, b = saved.decide(prompt), loaded.decide(prompt)
        assert a.arm == b.arm, f"decision {i}"
        assert b.ucb == pytest.approx(a.ucb, rel=rel, abs=1e-12)
        assert b.cost_weight == pytest.approx(a.cost_weight, rel=1e-9)
        np.testing.assert_allclose(b.table.cost, a.table.cost, rtol=1e-9)
        saved.feedback(a.id, 0.5)
        loaded.feedback(b.id, 0.5)
        chosen.append(a.arm)
    return chosen


@pytest.mark.parametrize("objective", [us.Tradeoff(willingness_to_pay=0.01),
                                       us.Budget(per_request=0.002)], ids=["tradeoff", "budget"])
@pytest.mark.parametrize("precision, rel", [("float64", 1e-9), ("float32", 1e-6)])
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_loaded_without_backends_decides_as_the_saved_router(
        objective: us.Tradeoff | us.Budget, precision: str, rel: float, suffix: str,
        tmp_path: Path) -> None:
    router = _fitted(objective, precision)
    path = str(tmp_path / f"state{suffix}")
    router.save(path)
    loaded = us.Router.load(path, arms=_arms())  # no backends: decide needs none
    chosen = _same_decisions(router, loaded, rel)
    # the native model's multi-sample arms are what a loss of its `n` would misprice
    assert any(a.model == "native" and a.n > 1 for a in chosen)
    with_backends = us.Router.load(path, arms=_arms(), backends=_backends())
    _same_decisions(us.Router.load(path, arms=_arms()), with_backends, rel)


def test_backends_given_at_load_or_later_set_the_samples_per_call(tmp_path: Path) -> None:
    router = _fitted(us.Tradeoff(willingness_to_pay=0.01))
    path = str(tmp_path / "state.json")
    router.save(path)
    # the server behind the native model now refuses `n`: one sample per call
    at_load = us.Router.load(path, arms=_arms(), backends=_backends(native_per_call=1))
    later = us.Router.load(path, arms=_arms())
    later.set_backend("native", _backends(native_per_call=1)["native"])
    _same_decisions(at_load, later, 1e-9, count=10)
    prompt = _prompt(7, 400)
    sc5 = _arms().find("native/sc/5")
    saved_cost = router.decide(prompt, allowed=[sc5]).predicted_cost
    single_call = at_load.decide(prompt, allowed=[sc5]).predicted_cost
    assert single_call > 3 * saved_cost  # the input is paid by five calls, not one


def _rewrite(path: Path, drop: tuple[str, ...]) -> str:
    """The state file without the given ``cost_model`` fields (as an older version
    wrote it), its checksum recomputed."""
    doc = json.loads(path.read_text())
    arrays = {k: _decode(v) for k, v in doc["arrays"].items()}
    for name in drop:
        del doc["meta"]["cost_model"][name]
    doc["sha256"] = _digest(doc["meta"], arrays)
    doc["arrays"] = {k: _encode(v) for k, v in arrays.items()}
    old = path.with_name("old.json")
    old.write_text(json.dumps(doc))
    return str(old)


def test_a_file_without_samples_per_call_loads_as_before(tmp_path: Path) -> None:
    router = _fitted(us.Tradeoff(willingness_to_pay=0.01))
    path = tmp_path / "state.json"
    router.save(str(path))
    old = _rewrite(path, ("samples_per_call", "judges"))
    # without the field: one sample per call until backends are attached
    _same_decisions(us.Router.load(old, arms=_arms()),
                    us.Router.load(str(path), arms=_arms(),
                                   backends=_backends(native_per_call=1)), 1e-9, count=10)
    _same_decisions(router, us.Router.load(old, arms=_arms(), backends=_backends()), 1e-9)


def _judged_arms() -> us.ArmSpace:
    judge = us.Judge(us.FakeBackend(["8"], output_tokens=3), price=us.Price(50.0, 50.0))
    return us.ArmSpace([us.Arm("native", us.Single(), 1),
                        us.Arm("native", us.BestOfN(scorer=judge), 3),
                        us.Arm("native", us.BestOfN(scorer=judge), 5)])


def test_a_judges_learned_cost_survives_a_load_with_a_new_judge(tmp_path: Path) -> None:
    arms = _judged_arms()
    router = us.Router(arms, PRICES, us.Tradeoff(willingness_to_pay=0.01),
                       {"native": us.FakeBackend(["The answer is 42"], max_samples_per_call=4)})
    for i in range(8):
        result = router.invoke(_prompt(i, 50), allowed=[arms[1 + i % 2]])
        router.feedback(result.decision.id, 0.7)
    path = str(tmp_path / "state.json")
    router.save(path)
    fresh = us.Router.load(path, arms=_judged_arms())  # a new process builds new judges
    same = us.Router.load(path, arms=arms)  # the judges still in use keep what they spent
    for loaded in (fresh, same):
        for i in range(5):
            a, b = router.decide(_prompt(50 + i, 80)), loaded.decide(_prompt(50 + i, 80))
            assert a.arm == b.arm
            np.testing.assert_allclose(b.table.cost, a.table.cost, rtol=1e-9)
    judged = router.decide(_prompt(60, 80), allowed=[arms[2].key]).predicted_cost
    unjudged = us.Router.load(_rewrite(Path(path), ("judges",)), arms=_judged_arms())
    assert unjudged.decide(_prompt(60, 80), allowed=[arms[2].key]).predicted_cost < judged / 10


def test_a_tuned_router_resumes_after_load(tmp_path: Path) -> None:
    arms = us.ArmSpace.product(["native", "single"], [us.Single(), us.SelfConsistency()],
                               [1, 5])
    router = us.Router(arms, PRICES, us.Tradeoff(willingness_to_pay=0.01), _backends(),
                       seed=2)
    rng = np.random.default_rng(3)
    records = []
    for i in range(45):
        prompt = _prompt(i, int(rng.integers(1, 60)))
        context = {"task": "math" if i % 2 else "code", "length": int(rng.integers(1, 2000))}
        for arm in arms:
            good = rng.random() < 0.2 + 0.1 * arm.n * (arm.model == "native") * (i % 2)
            records.append(us.Outcome(arm, float(good), request=prompt, context=context,
                                      usage=us.Usage(len(prompt) // 4, 40 * arm.n, calls=1)))
    report = router.tune(records, alphas=(0.1, 1.0), hybrid=(True,), dims=(32, 64))
    path = str(tmp_path / "state.json")
    router.save(path)
    loaded = us.Router.load(path)
    assert loaded.featurizer.config() == router.featurizer.config()
    assert loaded.policy.config() == router.policy.config()
    assert loaded.policy.alpha == report.chosen["alpha"]
    assert (loaded.guard is None) == (router.guard is None)
    for i in range(30):
        context = {"task": "math" if i % 3 else "code", "length": 31 * i}
        a = router.decide(_prompt(300 + i, i % 17), context=context)
        b = loaded.decide(_prompt(300 + i, i % 17), context=context)
        assert a.arm == b.arm and b.ucb == pytest.approx(a.ucb, rel=1e-9)
        np.testing.assert_allclose(b.table.cost, a.table.cost, rtol=1e-9)
        router.feedback(a.id, float(i % 2))
        loaded.feedback(b.id, float(i % 2))
