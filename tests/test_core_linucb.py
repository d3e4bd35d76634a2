"""LinUCB maths: the incremental inverses equal the direct ridge solution."""

from __future__ import annotations

import importlib.util

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uniscale.policy.linucb import LinUCB
from uniscale.policy.refit import PRIOR_FLOOR, PRIOR_LOW

KERNELS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])


def direct(policy: LinUCB, history: list[tuple[int, np.ndarray, float]], gamma: float,
           x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint ridge regression over [shared ⊗ descriptor, per-arm block], solved directly."""
    K, d, k = len(policy.slots), policy.dim, policy.k if policy.hybrid else 0
    D = k + K * d

    def phi(a: int, ctx: np.ndarray) -> np.ndarray:
        f = np.zeros(D)
        if k:
            f[:k] = policy._z(np.array([a]), ctx)[0]
        f[k + a * d: k + (a + 1) * d] = ctx
        return f

    T = len(history)
    prior = np.full(D, policy.arm_ridge)
    prior[:k] = policy.ridge
    scale = 1.0  # the prior's discount: γ per update, lifted once it falls below PRIOR_LOW
    for _ in range(T):
        scale *= gamma
        scale = PRIOR_FLOOR if scale < PRIOR_LOW else scale
    G = scale * np.diag(prior)
    y = np.zeros(D)
    for i, (a, ctx, r) in enumerate(history):
        f = phi(a, ctx)
        w = gamma ** (T - 1 - i)
        G += w * np.outer(f, f)
        y += w * r * f
    theta = np.linalg.solve(G, y)
    G_inv = np.linalg.inv(G)
    mean = np.array([phi(a, x) @ theta for a in range(K)])
    width = np.array([np.sqrt(phi(a, x) @ G_inv @ phi(a, x)) for a in range(K)])
    return mean, width


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    steps=st.integers(1, 250),
    hybrid=st.booleans(),
    gamma=st.sampled_from([1.0, 0.995, 0.95]),
    ridge=st.floats(0.1, 5.0),
    arm_ridge=st.sampled_from([None, 0.5, 20.0]),
    refactor_every=st.sampled_from([0, 7, 1000]),
    kernel=st.sampled_from(KERNELS),
)
def test_incremental_matches_direct(seed: int, steps: int, hybrid: bool, gamma: float,
                                    ridge: float, arm_ridge: float | None,
                                    refactor_every: int, kernel: str) -> None:
    rng = np.random.default_rng(seed)
    d = 4
    policy = LinUCB(d, ridge=ridge, arm_ridge=arm_ridge, forgetting=gamma, hybrid=hybrid,
                    shared_dim=3, refactor_every=refactor_every, projection_seed=seed,
                    kernel=kernel)
    assert policy.kernel == kernel
    descriptors = [{"bias": 1.0, "model:a": 1.0}, {"bias": 1.0, "model:b": 1.0, "log_n": 0.4},
                   {"bias": 1.0, "model:a": 1.0, "log_n": 0.6}]
    for i, desc in enumerate(descriptors):
        policy.add_slot(f"arm{i}", desc)
    history = []
    for t in range(steps):
        if t == steps // 2:
            policy.add_slot("late", {"bias": 1.0, "model:c": 1.0})
        a = int(rng.integers(len(policy.slots)))
        x = rng.standard_normal(d)
        r = float(rng.random())
        policy.update(a, x, r)
        history.append((a, x, r))
    x = rng.standard_normal(d)
    mean, width = policy.estimate(x, np.arange(len(policy.slots)))
    want_mean, want_width = direct(policy, history, gamma, x)
    scale = 1.0 + np.abs(want_mean).max()
    np.testing.assert_allclose(mean, want_mean, atol=1e-7 * scale)
    np.testing.assert_allclose(width, want_width, rtol=1e-6, atol=1e-9)
    rebuilt = LinUCB.from_state(policy.config(), *policy.state())
    m2, w2 = rebuilt.estimate(x, np.arange(len(policy.slots)))
    np.testing.assert_allclose(m2, mean, atol=1e-7 * scale)
    np.testing.assert_allclose(w2, width, rtol=1e-6, atol=1e-9)


def test_inverse_stays_accurate_over_many_updates() -> None:
    rng = np.random.default_rng(0)
    policy = LinUCB(16, ridge=1.0, hybrid=True, refactor_every=500)
    policy.add_slot("a", {"bias": 1.0, "model:a": 1.0})
    for _ in range(5000):
        x = rng.standard_normal(16)
        policy.update(0, x / np.linalg.norm(x), float(rng.random()))
    A = policy.A_raw[0] + np.eye(16)
    np.testing.assert_allclose(policy.A_inv[0] @ A, np.eye(16), atol=1e-9)
