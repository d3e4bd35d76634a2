"""Hybrid LinUCB with rank-one updates and optional exponential forgetting.

The quality of arm ``a`` on context ``x`` is modelled as ``zᵀβ + xᵀθ_a`` where
``z = descriptor(a) ⊗ [1, P x]`` is shared by every arm (so arms with the same model,
strategy or a close ``n`` share evidence) and ``θ_a`` is the arm's own part (Li et al.,
2010, Algorithm 2). All statistics are kept as sums, so they add up across replicas, and
every inverse is maintained by Sherman–Morrison rank-one updates: the hybrid block's
Schur complement ``A₀`` also changes by a rank-one term, ``c·w·wᵀ`` with
``c = 1 + xᵀA_a⁻¹x`` and ``w = z − (B_aᵀA_a⁻¹x + (c − 1)z)/c``.

With forgetting ``γ < 1`` every statistic (the ridge prior included) is multiplied by
``γ`` before each update: ``A ← γA + φφᵀ``, the discounted ridge regression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError

__all__ = ["LinUCB"]

_ARRAYS = ("A_raw", "B", "b", "counts", "S_zz", "zr")


class LinUCB:
    """Quality model and exploration bonus over a growing set of arm slots.

    Args:
        dim: Context dimension ``d``.
        alpha: Width of the confidence bound (exploration).
        ridge: Ridge prior precision ``λ`` of the shared parameter (and of the per-arm
            parameters unless ``arm_ridge`` is given).
        arm_ridge: Prior precision of each arm's own parameter: how strongly an arm is
            assumed to follow what the shared part predicts for it (default ``ridge``).
        forgetting: Discount ``γ`` in ``(0, 1]`` applied to all statistics per update.
        hybrid: Share evidence between arms through their descriptors.
        shared_dim: Width of the shared context ``[1, P x]`` (``P`` a fixed projection).
        refactor_every: Recompute an arm's inverse from its sums after this many of its
            updates (and the shared inverse after this many updates in all).
        projection_seed: Seed of the projection ``P``.
    """

    def __init__(
        self,
        dim: int,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        arm_ridge: float | None = None,
        forgetting: float = 1.0,
        hybrid: bool = True,
        shared_dim: int = 8,
        refactor_every: int = 1000,
        projection_seed: int = 0,
    ) -> None:
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ConfigurationError(f"alpha must be a finite number >= 0, got {alpha!r}")
        if not (isinstance(ridge, (int, float)) and math.isfinite(ridge) and ridge > 0):
            raise ConfigurationError(f"ridge must be a finite number > 0, got {ridge!r}")
        if not (isinstance(forgetting, (int, float)) and 0 < forgetting <= 1):
            raise ConfigurationError(f"forgetting must be in (0, 1], got {forgetting!r}")
        if shared_dim < 1:
            raise ConfigurationError(f"shared_dim must be >= 1, got {shared_dim}")
        self.dim = int(dim)
        self.alpha = float(alpha)
        self.ridge = float(ridge)
        self.arm_ridge = float(ridge if arm_ridge is None else arm_ridge)
        if not (math.isfinite(self.arm_ridge) and self.arm_ridge > 0):
            raise ConfigurationError(f"arm_ridge must be a finite number > 0, got {arm_ridge!r}")
        self.forgetting = float(forgetting)
        self.hybrid = bool(hybrid)
        self.shared_dim = int(shared_dim) if hybrid else 0
        self.refactor_every = int(refactor_every)
        self.projection_seed = int(projection_seed)
        rng = np.random.default_rng(self.projection_seed)
        self._P = rng.standard_normal((max(self.shared_dim - 1, 0), self.dim)) / math.sqrt(
            max(self.shared_dim - 1, 1)
        )
        self.columns: list[str] = []
        self.slots: list[str] = []
        self._since: list[int] = []
        self._slot_index: dict[str, int] = {}
        self.desc = np.zeros((0, 0))
        d = self.dim
        self.prior_scale = 1.0
        self.updates = 0
        self.A_raw = np.zeros((0, d, d))
        self.A_inv = np.zeros((0, d, d))
        self.B = np.zeros((0, d, 0))
        self.b = np.zeros((0, d))
        self.v = np.zeros((0, 0))
        self.counts = np.zeros(0)
        self.S_zz = np.zeros((0, 0))
        self.zr = np.zeros(0)
        self.A0 = np.zeros((0, 0))
        self.A0_inv = np.zeros((0, 0))
        self.b0 = np.zeros(0)

    # -- shape management ------------------------------------------------------------
    @property
    def k(self) -> int:
        """Dimension of the shared parameter."""
        return self.shared_dim * len(self.columns)

    def ensure_columns(self, columns: Sequence[str]) -> None:
        """Append descriptor columns not seen yet; learned statistics are kept exactly."""
        new = [c for c in columns if c not in self.columns]
        if not new:
            return
        self.columns.extend(new)
        grow = self.shared_dim * len(new)
        ridge = self.ridge * self.prior_scale
        K = len(self.slots)
        self.desc = np.pad(self.desc, ((0, 0), (0, len(new))))
        if not self.hybrid:
            return
        self.B = np.concatenate([self.B, np.zeros((K, self.dim, grow))], axis=2)
        self.v = np.pad(self.v, ((0, 0), (0, grow)))
        self.S_zz = np.pad(self.S_zz, ((0, grow), (0, grow)))
        self.zr = np.pad(self.zr, (0, grow))
        self.b0 = np.pad(self.b0, (0, grow))
        self.A0 = np.pad(self.A0, ((0, grow), (0, grow)))
        self.A0_inv = np.pad(self.A0_inv, ((0, grow), (0, grow)))
        idx = np.arange(self.k - grow, self.k)
        self.A0[idx, idx] = ridge
        self.A0_inv[idx, idx] = 1.0 / ridge

    def add_slot(self, key: str, descriptor: dict[str, float]) -> int:
        """Add an arm slot with a fresh (optimistic) prior; returns its index."""
        if key in self.slots:
            raise ConfigurationError(f"arm slot {key!r} exists already")
        self.ensure_columns(list(descriptor))
        d = self.dim
        ridge = self.arm_ridge * self.prior_scale
        row = np.array([descriptor.get(c, 0.0) for c in self.columns])
        K, kdim = len(self.slots), self.k if self.hybrid else 0
        self.slots.append(key)
        self.desc = np.vstack([self.desc.reshape(K, len(self.columns)), row])
        self.A_raw = np.concatenate([self.A_raw, np.zeros((1, d, d))])
        self.A_inv = np.concatenate([self.A_inv, np.eye(d)[None] / ridge])
        self.B = np.concatenate([self.B.reshape(K, d, kdim), np.zeros((1, d, kdim))])
        self.b = np.vstack([self.b, np.zeros((1, d))])
        self.v = np.vstack([self.v.reshape(K, kdim), np.zeros((1, kdim))])
        self.counts = np.append(self.counts, 0.0)
        self._since.append(0)
        return len(self.slots) - 1

    def slot(self, key: str) -> int:
        """Index of the slot named ``key``."""
        if len(self._slot_index) != len(self.slots):
            self._slot_index = {name: i for i, name in enumerate(self.slots)}
        return self._slot_index[key]

    # -- features ----------------------------------------------------------------------
    def _shared_context(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([[1.0], self._P @ x])

    def _z(self, slots: np.ndarray, x: np.ndarray) -> np.ndarray:
        xs = self._shared_context(x)
        return (self.desc[slots][:, :, None] * xs[None, None, :]).reshape(len(slots), -1)

    # -- scoring -----------------------------------------------------------------------
    def estimate(self, x: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimated quality and its standard width for each slot in ``slots``.

        Args:
            x: Context vector of shape ``(dim,)``.
            slots: Slot indices.

        Returns:
            ``(mean, width)``; the upper confidence bound is ``mean + alpha * width``.
        """
        slots = np.asarray(slots, dtype=np.int64)
        every = len(slots) == len(self.slots) and bool(np.all(slots == np.arange(len(slots))))
        # Products over every slot, then a selection: no copy of the (K, d, d) stack.
        u = (self.A_inv @ x) if every else (self.A_inv @ x)[slots]
        var = u @ x
        if not self.hybrid:
            mean = np.einsum("kd,kd->k", u, self.b[slots])
            return mean, np.sqrt(np.maximum(var, 0.0))
        beta = self.A0_inv @ self.b0
        u_all = u if every else None
        if u_all is None:
            u_all = self.A_inv @ x
        Bu = np.matmul(u_all[:, None, :], self.B)[:, 0, :]  # (K, k): B_aᵀ A_a⁻¹ x
        if not every:
            Bu = Bu[slots]
        resid_term = np.einsum("kd,kd->k", u, self.b[slots]) - Bu @ beta
        z = self._z(slots, x)
        mean = z @ beta + resid_term
        diff = z - Bu
        var = var + _row_quadratic(diff, self.A0_inv)
        return mean, np.sqrt(np.maximum(var, 0.0))

    # -- learning ----------------------------------------------------------------------
    def _decay(self) -> None:
        g = self.forgetting
        self.prior_scale *= g
        for name in ("A_raw", "B", "b", "v", "S_zz", "zr", "A0", "b0"):
            setattr(self, name, getattr(self, name) * g)
        self.A_inv = self.A_inv / g
        self.A0_inv = self.A0_inv / g
        self.counts = self.counts * g

    def update(self, slot: int, x: np.ndarray, reward: float) -> None:
        """Learn that arm ``slot`` earned ``reward`` on context ``x``."""
        if self.forgetting < 1.0:
            self._decay()
        A_inv = self.A_inv[slot]
        u = A_inv @ x
        c = 1.0 + float(x @ u)
        new_inv = A_inv - np.outer(u, u) / c
        if self.hybrid:
            z = self._z(np.array([slot]), x)[0]
            Ba = self.B[slot]
            h = Ba.T @ u + (c - 1.0) * z
            w = z - h / c
            self.A0 += c * np.outer(w, w)
            t = self.A0_inv @ w
            self.A0_inv -= (c / (1.0 + c * float(w @ t))) * np.outer(t, t)
            Ba += np.outer(x, z)
            self.S_zz += np.outer(z, z)
            self.zr += reward * z
        self.A_inv[slot] = new_inv
        self.A_raw[slot] += np.outer(x, x)
        self.b[slot] += reward * x
        self.counts[slot] += 1.0
        if self.hybrid:
            v_new = self.B[slot].T @ (new_inv @ self.b[slot])
            self.b0 += reward * z - (v_new - self.v[slot])
            self.v[slot] = v_new
        self.updates += 1
        self._since[slot] += 1
        if self.refactor_every and self._since[slot] >= self.refactor_every:
            self._refactor_slot(slot)
            self._since[slot] = 0
        if self.refactor_every and self.updates % self.refactor_every == 0 and self.hybrid:
            self.A0_inv = _sym_inv(self.A0)

    def add_batch(self, slots: np.ndarray, X: np.ndarray, rewards: np.ndarray,
                  weights: np.ndarray | None = None) -> None:
        """Learn many observations at once: add their sums, then re-factorise once.

        The result equals calling :meth:`update` for each row (without forgetting between
        them: a batch is one moment in time), in ``O(N·d² + K·d³)``.

        Args:
            slots: ``(N,)`` slot of each observation.
            X: ``(N, dim)`` contexts.
            rewards: ``(N,)`` rewards.
            weights: ``(N,)`` non-negative weight of each observation (default 1).
        """
        slots = np.asarray(slots, dtype=np.int64)
        X = np.asarray(X, dtype=float)
        r = np.asarray(rewards, dtype=float)
        w = np.ones(len(r)) if weights is None else np.asarray(weights, dtype=float)
        if len(slots) == 0:
            return
        Z = None
        if self.hybrid:
            xs = np.hstack([np.ones((len(X), 1)), X @ self._P.T])
            Z = (self.desc[slots][:, :, None] * xs[:, None, :]).reshape(len(slots), -1)
        for slot in np.unique(slots):
            rows = slots == slot
            Xs, ws = X[rows], w[rows]
            self.A_raw[slot] += (Xs * ws[:, None]).T @ Xs
            self.b[slot] += Xs.T @ (ws * r[rows])
            self.counts[slot] += float(ws.sum())
            if Z is not None:
                self.B[slot] += (Xs * ws[:, None]).T @ Z[rows]
        if Z is not None:
            self.S_zz += (Z * w[:, None]).T @ Z
            self.zr += Z.T @ (w * r)
        self.updates += len(r)
        self.refactor()

    def _refactor_slot(self, slot: int) -> None:
        """Recompute one arm's inverse from its sums (bounds floating-point drift)."""
        A = self.A_raw[slot] + self.arm_ridge * self.prior_scale * np.eye(self.dim)
        new_inv = _sym_inv(A)
        if self.hybrid:
            Ba = self.B[slot]
            self.A0 += Ba.T @ self.A_inv[slot] @ Ba - Ba.T @ new_inv @ Ba
            v_new = Ba.T @ (new_inv @ self.b[slot])
            self.b0 -= v_new - self.v[slot]
            self.v[slot] = v_new
        self.A_inv[slot] = new_inv

    def refactor(self) -> None:
        """Recompute every derived quantity (inverses, Schur complement) from the sums."""
        eye = self.arm_ridge * self.prior_scale * np.eye(self.dim)
        self.A_inv = np.stack([_sym_inv(a + eye) for a in self.A_raw]) if len(self.slots) \
            else np.zeros((0, self.dim, self.dim))
        if not self.hybrid:
            self.v = np.zeros((len(self.slots), 0))
            return
        AinvB = self.A_inv @ self.B
        self.A0 = (self.ridge * self.prior_scale * np.eye(self.k) + self.S_zz
                   - np.einsum("kdi,kdj->ij", self.B, AinvB))
        self.v = np.einsum("kdj,kd->kj", AinvB, self.b)
        self.b0 = self.zr - self.v.sum(axis=0)
        self.A0_inv = _sym_inv(self.A0)

    # -- persistence ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Hyperparameters, JSON-ready."""
        return {
            "dim": self.dim, "alpha": self.alpha, "ridge": self.ridge,
            "arm_ridge": self.arm_ridge,
            "forgetting": self.forgetting, "hybrid": self.hybrid,
            "shared_dim": self.shared_dim if self.hybrid else 8,
            "refactor_every": self.refactor_every, "projection_seed": self.projection_seed,
        }

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metadata, arrays)``: the sums from which everything else is derived."""
        meta = {"columns": list(self.columns), "slots": list(self.slots),
                "prior_scale": self.prior_scale, "updates": self.updates}
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        arrays["desc"] = self.desc
        return meta, arrays

    @classmethod
    def from_state(
        cls, config: dict[str, Any], meta: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> LinUCB:
        """Rebuild a policy from :meth:`config` and :meth:`state`."""
        policy = cls(**config)
        policy.columns = [str(c) for c in meta["columns"]]
        policy.slots = [str(s) for s in meta["slots"]]
        policy._since = [0] * len(policy.slots)
        policy.prior_scale = float(meta["prior_scale"])
        policy.updates = int(meta["updates"])
        K, d, k = len(policy.slots), policy.dim, policy.k
        expected = {"A_raw": (K, d, d), "B": (K, d, k), "b": (K, d), "counts": (K,),
                    "S_zz": (k, k), "zr": (k,), "desc": (K, len(policy.columns))}
        for name, shape in expected.items():
            value = np.asarray(arrays[name], dtype=float)
            if value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(f"array {name} has shape {value.shape}, expected {shape}")
            setattr(policy, name, value.copy())
        policy.refactor()
        return policy


_GEMM_SERIAL = 200_000  # below OpenBLAS's threading threshold for one matrix product


def _row_quadratic(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``rows[i] @ matrix @ rows[i]`` for every row.

    The product is taken in blocks small enough for BLAS to run each on one thread: for
    these sizes a threaded product costs far more than it saves, and collapses when the
    machine's cores are busy.
    """
    k = max(matrix.shape[0], 1)
    step = max(_GEMM_SERIAL // (k * k), 1)
    if rows.shape[0] <= step:
        return np.einsum("kj,kj->k", rows @ matrix, rows)
    return np.concatenate([np.einsum("kj,kj->k", rows[i:i + step] @ matrix, rows[i:i + step])
                           for i in range(0, rows.shape[0], step)])


def _sym_inv(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix, symmetrised."""
    inv = np.linalg.inv(matrix)
    return (inv + inv.T) / 2.0
