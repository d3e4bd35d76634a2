"""Re-factorisation of LinUCB: every derived quantity recomputed from the sums.

The rank-one updates of :class:`~uniscale.policy.LinUCB` keep the inverses current; these
methods rebuild them from the sums (periodically, to bound floating-point drift, after a
batch of observations and after loading a state), derive the shared block's Schur
complement ``A₀`` and fold the lazy forgetting scale into the arrays.
"""

from __future__ import annotations

import numpy as np

from . import layout
from .blas import SerialBlas
from .views import FullLayout

__all__ = ["PRIOR_FLOOR", "PRIOR_LOW", "Refit"]

PRIOR_FLOOR = 1e-2
"""With forgetting, the ridge prior decays from ``ridge`` but is lifted back to
``PRIOR_FLOOR · ridge`` (and the inverses recomputed) whenever it falls below
``PRIOR_LOW · ridge``: without it the prior underflows after about ``700/(1 − γ)``
updates, and well before that the statistics turn singular (estimates far outside the
rewards' range, states that no longer load)."""
PRIOR_LOW = 1e-4


class Refit(FullLayout):
    """The re-factorising half of :class:`~uniscale.policy.LinUCB` (a mixin)."""

    arm_ridge: float
    ridge: float
    hybrid: bool
    columns: list[str]
    slots: list[str]
    updates: int
    _dtype: type
    _serial: SerialBlas
    _P: np.ndarray
    _q: np.ndarray
    _v: np.ndarray
    _b0: np.ndarray
    _beta: np.ndarray
    _bt: np.ndarray
    _nq: np.ndarray
    _blocks: list[layout.Blocks]
    _nz_cols: np.ndarray
    _nz_vals: np.ndarray

    @property
    def k(self) -> int:
        """Dimension of the shared parameter."""
        return self.shared_dim * len(self.columns)

    def _arm_inverse(self, slots: np.ndarray) -> np.ndarray:
        """Inverses of the arms' ridge matrices, from their sums (float64)."""
        for slot in slots:
            self._fold(int(slot))
        prior = self._pack.identity(self.arm_ridge * self._ps)
        return layout.sym_inv(self._pack.unpack(self._araw[slots] + prior))

    def _set_inverse(self, slots: np.ndarray, inv: np.ndarray) -> None:
        """Store arms' inverses and what derives from them: ``C_aᵀ``, ``θ̂_a``, ``G_aᵀθ̂_a``."""
        s, d = self.shared_dim, self.dim
        self._w[slots] = self._pack.pack(inv).astype(self._dtype, copy=False)
        gt = self._mom[slots, :s, :d]
        self._q[slots, :s] = gt @ inv
        self._q[slots, s] = np.einsum("kij,kj->ki", inv, self._mom[slots, s, :d])
        self._v[slots] = np.einsum("ksd,kd->ks", gt, self._q[slots, s])

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
        slots = np.asarray(slots, dtype=np.intp)
        X = np.asarray(X, dtype=float)
        r = np.asarray(rewards, dtype=float)
        w = np.ones(len(r)) if weights is None else np.asarray(weights, dtype=float)
        if len(slots) == 0:
            return
        w = w / self._sigma  # stored units
        s = self.shared_dim
        ones = np.ones((len(r), 1))
        xs = np.hstack([ones, X @ self._P.T]) if s else np.zeros((len(r), 0))
        left = np.hstack([xs, r[:, None], ones])  # rows of the moment outer products
        right = np.hstack([X, xs, ones])
        for slot in np.unique(slots):
            rows = slots == slot
            weighted = X[rows] * w[rows, None]
            self._araw[slot] += self._pack.pack(weighted.T @ X[rows])
            self._mom[slot] += (left[rows] * w[rows, None]).T @ right[rows]
        self.updates += len(r)
        self.refactor()

    def _refactor_slot(self, slot: int) -> None:
        """Recompute one arm's inverse from its sums (bounds floating-point drift)."""
        old = self._v[slot].copy()
        self._set_inverse(np.array([slot]), self._arm_inverse(np.array([slot])))
        if self.hybrid:
            blocks = self._blocks[slot]
            delta = np.multiply.outer(blocks.vals, old - self._v[slot]).ravel()
            self._b0[blocks.index] += delta
            self._beta += self._m[:, blocks.index] @ delta

    @property
    def A0(self) -> np.ndarray:
        """The shared block's Schur complement ``λI + S_zz − Σ B_aᵀA_a⁻¹B_a`` (from the sums)."""
        s, d = self.shared_dim, self.dim
        cross = self._mom[:, :s, d:d + s] - self._mom[:, :s, :d] @ np.swapaxes(
            self._q[:, :s], 1, 2)  # H_a − G_aᵀA_a⁻¹G_a
        a0 = layout.kron_sum(cross, self.desc, s)
        a0 += self._szz0 + self.ridge * self._ps * np.eye(self.k)
        return a0 * self._sigma

    def _refactor_shared(self) -> None:
        """Derive ``A₀`` and ``b₀`` from the sums; refresh ``A₀⁻¹``, ``β`` and the caches."""
        if self._sigma != 1.0:
            self._rescale()
        s, d = self.shared_dim, self.dim
        cols, vals = self._nz_cols, self._nz_vals
        self._b0 = self._zr0 + layout.block_spread(self._mom[:, s, d:d + s] - self._v,
                                                   self.desc, s)
        self._m = layout.sym_inv(self.A0)
        self._beta = self._m @ self._b0
        self._bt = layout.block_combine(self._beta, self.desc, s)
        self._nq = layout.block_quadratic(self._m, cols, vals, s)

    def _rescale(self) -> None:
        """Fold the lazy forgetting scale into the stored arrays (``σ`` back to 1); lift
        a prior that decayed below ``PRIOR_LOW`` to ``PRIOR_FLOOR`` (inverses recomputed)."""
        self._fold()
        g = self._sigma
        for name in ("_araw", "_mom", "_szz0", "_zr0", "_b0", "_v"):
            getattr(self, name)[...] *= g
        for name in ("_w", "_m", "_nq"):
            getattr(self, name)[...] /= g
        self._ps *= g
        self._sigma = 1.0
        if self._ps < PRIOR_LOW:
            self._ps = PRIOR_FLOOR
            self._recompute()

    def refactor(self) -> None:
        """Recompute every derived quantity (inverses, Schur complement) from the sums."""
        with self._serial:
            if self._sigma != 1.0:
                self._rescale()
            if self._ps < PRIOR_LOW:  # a state saved before the prior was kept up
                self._ps = PRIOR_FLOOR
            self._recompute()

    def _recompute(self) -> None:
        K = len(self.slots)
        for start in range(0, K, layout.CHUNK):
            chunk = np.arange(start, min(start + layout.CHUNK, K))
            self._set_inverse(chunk, self._arm_inverse(chunk))
        if self.hybrid:
            self._refactor_shared()
