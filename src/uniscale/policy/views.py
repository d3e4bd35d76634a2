"""LinUCB's sums and inverses in the original full layout (what state files hold).

The policy keeps them compressed (see :mod:`uniscale.policy.linucb`); these read-only
views expand them on demand, for saving, for summing across replicas and for tests.
"""

from __future__ import annotations

import numpy as np

from . import layout
from .packed import Packing

__all__ = ["FullLayout"]


class FullLayout:
    """Full-layout views over the compressed arrays of :class:`~uniscale.policy.LinUCB`."""

    dim: int
    shared_dim: int
    desc: np.ndarray
    _pack: Packing
    _ps: float
    _sigma: float
    _araw: np.ndarray

    def _fold(self, slot: int | None = None) -> None:
        """Add queued contexts to the packed sums (see :class:`~uniscale.policy.LinUCB`)."""
    _mom: np.ndarray
    _w: np.ndarray
    _m: np.ndarray
    _szz0: np.ndarray
    _zr0: np.ndarray

    @property
    def prior_scale(self) -> float:
        """Factor the ridge priors were discounted by (forgetting)."""
        return self._ps * self._sigma

    @property
    def counts(self) -> np.ndarray:
        """Discounted number of updates of each arm."""
        return self._mom[:, self.shared_dim + 1, self.dim + self.shared_dim] * self._sigma

    @property
    def b(self) -> np.ndarray:
        """``Σ r x`` per arm, shape ``(K, d)``."""
        return self._mom[:, self.shared_dim, :self.dim] * self._sigma

    @property
    def A_raw(self) -> np.ndarray:
        """``Σ x xᵀ`` per arm, shape ``(K, d, d)``."""
        self._fold()
        return self._pack.unpack(self._araw) * self._sigma

    @property
    def A_inv(self) -> np.ndarray:
        """Inverse ridge matrix of each arm, shape ``(K, d, d)``."""
        return self._pack.unpack(self._w.astype(np.float64)) / self._sigma

    @property
    def B(self) -> np.ndarray:
        """Cross sums ``Σ x zᵀ`` per arm, shape ``(K, d, k)``."""
        gt = self._mom[:, :self.shared_dim, :self.dim]
        return layout.expand_cross(gt, self.desc) * self._sigma

    @property
    def S_zz(self) -> np.ndarray:
        """``Σ z zᵀ`` over every update, shape ``(k, k)``."""
        s, d = self.shared_dim, self.dim
        spread = layout.kron_sum(self._mom[:, :s, d:d + s], self.desc, s)
        return (self._szz0 + spread) * self._sigma

    @property
    def zr(self) -> np.ndarray:
        """``Σ r z`` over every update, shape ``(k,)``."""
        s, d = self.shared_dim, self.dim
        spread = layout.block_spread(self._mom[:, s, d:d + s], self.desc, s)
        return (self._zr0 + spread) * self._sigma

    @property
    def A0_inv(self) -> np.ndarray:
        """Inverse of the shared block's Schur complement, shape ``(k, k)``."""
        return self._m / self._sigma
