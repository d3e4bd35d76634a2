"""The compiled LinUCB kernels (``uniscale[fast]``) agree with the numpy reference."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import uniscale as us
from uniscale.errors import ConfigurationError
from uniscale.policy.linucb import LinUCB

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba not installed")
DESCRIPTORS = [{"bias": 1.0, "model:a": 1.0, "strategy:single": 1.0},
               {"bias": 1.0, "model:a": 1.0, "strategy:sc": 1.0, "log_n": 0.7},
               {"bias": 1.0, "model:b": 1.0, "strategy:single": 1.0},
               {"bias": 1.0, "model:b": 1.0, "strategy:sc": 1.0, "log_n": 1.4}]


def _twins(**kwargs: object) -> list[LinUCB]:
    twins = [LinUCB(9, kernel=kernel, shared_dim=4, refactor_every=37, **kwargs)  # type: ignore[arg-type]
             for kernel in ("numpy", "numba")]
    for policy in twins:
        for i, desc in enumerate(DESCRIPTORS):
            policy.add_slot(f"arm{i}", desc)
    return twins


@needs_numba
@pytest.mark.parametrize("settings", [
    {}, {"hybrid": False}, {"forgetting": 0.97}, {"precision": "float32"},
    {"arm_ridge": 5.0, "forgetting": 0.995, "precision": "float32"},
])
def test_compiled_kernels_track_the_numpy_reference(settings: dict[str, object]) -> None:
    twins = _twins(**settings)
    assert [p.kernel for p in twins] == ["numpy", "numba"]
    float32 = settings.get("precision") == "float32"
    tol = 2e-6 if float32 else 1e-9
    rng = np.random.default_rng(4)
    for t in range(400):
        if t == 150:  # a new arm, and a descriptor column never seen before
            for policy in twins:
                policy.add_slot("late", {"bias": 1.0, "model:c": 1.0, "strategy:single": 1.0})
        x = rng.standard_normal(9)
        x /= np.linalg.norm(x)
        subset = rng.permutation(len(twins[0].slots))[:3]
        (m0, w0), (m1, w1) = (p.estimate(x) for p in twins)
        (s0, v0), (s1, v1) = (p.estimate(x, subset) for p in twins)
        for got, want in ((m1, m0), (w1, w0), (s1, s0), (v1, v0)):
            np.testing.assert_allclose(got, want, rtol=0, atol=tol)
        np.testing.assert_allclose(s1, m1[subset], rtol=0, atol=1e-12)
        arm = int(np.argmax(m0 + w0)) if t % 3 else int(rng.integers(len(twins[0].slots)))
        reward = float(rng.random())
        for policy in twins:
            policy.update(arm, x, reward)
    np.testing.assert_allclose(twins[1].A_raw, twins[0].A_raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(twins[1].b, twins[0].b, rtol=0, atol=1e-9)
    if settings.get("hybrid", True):
        np.testing.assert_allclose(twins[1].A0, twins[0].A0, rtol=0, atol=1e-6)


@needs_numba
@pytest.mark.parametrize("precision, tol", [("float64", 1e-9), ("float32", 2e-6)])
def test_a_router_decides_alike_on_either_kernel(monkeypatch: pytest.MonkeyPatch,
                                                 precision: str, tol: float) -> None:
    arms = us.ArmSpace.product(models=["small", "large"],
                               strategies=[us.Single(), us.SelfConsistency()], n=[1, 3, 5])
    prices = {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)}
    routers = []
    for kernel in ("numpy", "numba"):
        monkeypatch.setenv("UNISCALE_KERNEL", kernel)
        routers.append(us.Router(arms, prices, featurizer=us.HashingFeaturizer(32), seed=1,
                                 precision=precision))
    assert [r.policy.kernel for r in routers] == ["numpy", "numba"]
    rng = np.random.default_rng(2)
    for i in range(120):
        prompt = f"request {i}: what is {int(rng.integers(100))} times {i}?"
        score = float(rng.random())
        d0, d1 = (r.decide(prompt) for r in routers)
        assert d1.arm == d0.arm
        assert d1.ucb == pytest.approx(d0.ucb, abs=tol)
        for router, decision in zip(routers, (d0, d1), strict=True):
            router.feedback(decision.id, score)


def test_numpy_is_forced_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISCALE_KERNEL", "numpy")
    assert LinUCB(4).kernel == "numpy"
    assert LinUCB(4, kernel="numpy").kernel == "numpy"
    monkeypatch.setenv("UNISCALE_KERNEL", "fortran")
    with pytest.raises(ConfigurationError, match="UNISCALE_KERNEL"):
        LinUCB(4)


def test_unknown_kernel_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="kernel must be one of"):
        LinUCB(4, kernel="cuda")


def test_without_numba_auto_falls_back_and_numba_names_the_extra() -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["numba"] = None  # as if the extra were not installed
        import numpy as np
        from uniscale.errors import ConfigurationError
        from uniscale.policy.linucb import LinUCB
        policy = LinUCB(4)
        policy.add_slot("a", {"bias": 1.0})
        policy.update(0, np.full(4, 0.5), 1.0)
        mean, width = policy.estimate(np.full(4, 0.5))
        assert policy.kernel == "numpy" and mean.shape == (1,), policy.kernel
        try:
            LinUCB(4, kernel="numba")
        except ConfigurationError as exc:
            print(exc)
        else:
            raise SystemExit("kernel='numba' without numba did not raise")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert 'pip install "uniscale[fast]"' in done.stdout


@needs_numba
@pytest.mark.parametrize("prune", [True, False])
def test_compiled_ranking_equals_the_numpy_ranking(prune: bool) -> None:
    from uniscale.policy import kernels

    rng = np.random.default_rng(7)
    compiled = kernels.compiled()
    for n in (1, 2, 5, 24, 97):
        for _ in range(20):
            mean = np.round(rng.random(n), 1)  # coarse values: ties in bounds and scores
            width = np.round(rng.random(n) * 0.3, 1)
            costs = np.round(rng.random(n), 1) / 100
            alpha, lam = float(rng.choice([0.0, 0.5, 1.0])), float(rng.choice([0.0, 50.0]))
            want = kernels.rank(None, mean, width, costs, alpha, lam, prune)
            got = kernels.rank(compiled, mean, width, costs, alpha, lam, prune)
            for a, b in zip(got[:4], want[:4], strict=True):
                np.testing.assert_array_equal(a, b)
            assert got[4:] == want[4:]
    bad = kernels.rank(compiled, np.array([0.5, np.nan]), np.zeros(2), np.zeros(2), 1.0, 1.0,
                       prune)
    assert bad[-1] is False


@needs_numba
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_large_shapes_agree(precision: str) -> None:
    d, K = 128, 16
    twins = [LinUCB(d, kernel=kernel, precision=precision) for kernel in ("numpy", "numba")]
    for policy in twins:
        for i in range(K):
            policy.add_slot(f"arm{i}", {"bias": 1.0, f"model:{i % 4}": 1.0,
                                        "log_n": i / K})
    rng = np.random.default_rng(9)
    X = rng.standard_normal((60, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    for t, x in enumerate(X):
        for policy in twins:
            policy.update(t % K, x, float(t % 3) / 2)
    tol = 2e-6 if precision == "float32" else 1e-9
    subset = np.array([5, 0, 11])
    for slots in (None, subset):
        (m0, w0), (m1, w1) = (p.estimate(X[7], slots) for p in twins)
        np.testing.assert_allclose(m1, m0, rtol=0, atol=tol)
        np.testing.assert_allclose(w1, w0, rtol=0, atol=tol)


@needs_numba
@pytest.mark.parametrize("dim", [9, 128])
@pytest.mark.parametrize("alpha_decay", [None, 3.0])
def test_fused_decide_is_estimate_bonus_and_rank(dim: int, alpha_decay: float | None) -> None:
    from uniscale.explore import decayed_width
    from uniscale.policy import kernels

    twins = [LinUCB(dim, kernel=kernel, forgetting=0.98) for kernel in ("numpy", "numba")]
    K = 16
    for policy in twins:
        for i in range(K):
            policy.add_slot(f"arm{i}", {"bias": 1.0, f"model:{i % 4}": 1.0, "log_n": i / K})
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, dim))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    costs = rng.random(K) * 1e-3
    for t, x in enumerate(X):
        for policy in twins:
            policy.update(t % 5, x, float(t % 3) / 2)  # arms 5.. never learn
    subset = np.array([7, 0, 3, 12])
    for slots in (None, subset):
        c = costs if slots is None else costs[:len(subset)]
        out = [kernels.decide(p, X[3], slots, alpha_decay, c, 400.0, True) for p in twins]
        mean, width = twins[1].estimate(X[3], slots)
        bonus = width if alpha_decay is None else decayed_width(width, twins[1].counts, slots,
                                                                alpha_decay)
        ranked = kernels.rank(None, mean, bonus, c, twins[1].alpha, 400.0, True)
        np.testing.assert_array_equal(out[1][0], mean)  # the compiled path, its own parts
        np.testing.assert_array_equal(out[1][2], bonus)
        np.testing.assert_array_equal(out[1][5], ranked[2])
        assert out[1][7:] == ranked[4:]
        for got, want in zip(out[1][:7], out[0][:7], strict=True):  # and the numpy path
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        assert out[1][7:] == out[0][7:]
        if alpha_decay is not None:
            assert np.all(out[1][2] <= out[1][1]) and np.any(out[1][2] < out[1][1])
