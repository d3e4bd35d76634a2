"""Symmetric ``d × d`` matrices stored as their upper triangles (``d(d+1)/2`` numbers).

Every per-arm matrix of LinUCB is symmetric, so a stack of them is kept packed: half the
memory, and the quadratic form ``xᵀMx`` of every arm is one matrix-vector product of the
packed stack with :meth:`Packing.quadratic` of ``x`` (off-diagonal terms counted twice).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Packing"]


class Packing:
    """Index maps between full symmetric matrices and packed upper triangles.

    Args:
        dim: The matrices' size ``d``.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rows, self.cols = np.triu_indices(dim)
        self.size = len(self.rows)
        full = np.empty((dim, dim), dtype=np.intp)
        full[self.rows, self.cols] = np.arange(self.size)
        full[self.cols, self.rows] = np.arange(self.size)
        self.full_index = full
        self.diagonal = full[np.arange(dim), np.arange(dim)]
        self.flat = self.rows * dim + self.cols  # positions in a flattened d × d matrix
        self.weights = np.where(self.rows == self.cols, 1.0, 2.0)

    def pack(self, matrices: np.ndarray) -> np.ndarray:
        """Upper triangles of ``(..., d, d)`` symmetric matrices, shape ``(..., size)``."""
        return matrices[..., self.rows, self.cols]

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        """Full matrices from packed triangles ``(..., size)``."""
        return packed[..., self.full_index]

    def outer(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Packed ``x yᵀ`` (``x xᵀ`` by default)."""
        return np.multiply.outer(x, x if y is None else y).take(self.flat)

    def quadratic(self, x: np.ndarray) -> np.ndarray:
        """``q`` with ``pack(M) @ q == xᵀ M x`` (off-diagonal products counted twice)."""
        return np.multiply.outer(x, x).take(self.flat) * self.weights

    def identity(self, scale: float) -> np.ndarray:
        """Packed ``scale · I``."""
        out = np.zeros(self.size)
        out[self.diagonal] = scale
        return out
