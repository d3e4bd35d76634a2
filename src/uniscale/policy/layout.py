"""Block arithmetic of the hybrid LinUCB's compressed layout, and its state conversion.

An arm's shared features are ``z = desc ⊗ x_s`` (``desc`` the arm's descriptor, ``x_s``
the shared context of width ``s``), so every shared-size quantity of an arm is made of
``s``-wide blocks weighted by the descriptor's few non-zero entries. The helpers here
take those entries as padded ``(K, m)`` column and value arrays (padding has value 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .linucb import LinUCB

__all__ = ["CHUNK", "SUMS", "Blocks", "blocks_of", "expand_cross", "load_sums"]

SUMS = ("A_raw", "B", "b", "counts", "S_zz", "zr")  # the persisted arrays
CHUNK = 16  # arms inverted at once when re-factorising everything (bounds peak memory)


@dataclass(frozen=True)
class Blocks:
    """Where one arm's descriptor is non-zero.

    Attributes:
        cols: Descriptor columns with a non-zero entry.
        vals: Their values.
        index: Positions of those columns' blocks in a shared-size vector.
    """

    cols: np.ndarray
    vals: np.ndarray
    index: np.ndarray


def blocks_of(row: np.ndarray, width: int) -> Blocks:
    """The :class:`Blocks` of a descriptor ``row`` for shared width ``width``."""
    cols = np.flatnonzero(row)
    index = (cols[:, None] * width + np.arange(width)[None, :]).ravel()
    return Blocks(cols, row[cols].copy(), index)


def padded_blocks(blocks: list[Blocks]) -> tuple[np.ndarray, np.ndarray]:
    """Every arm's non-zero columns and values as ``(K, m)`` arrays, zero-padded."""
    m = max((len(b.cols) for b in blocks), default=0)
    cols = np.zeros((len(blocks), m), dtype=np.intp)
    vals = np.zeros((len(blocks), m))
    for i, b in enumerate(blocks):
        cols[i, : len(b.cols)] = b.cols
        vals[i, : len(b.cols)] = b.vals
    return cols, vals


def block_combine(vector: np.ndarray, desc: np.ndarray, width: int) -> np.ndarray:
    """``(desc_a ⊗ I)ᵀ vector`` for every arm (rows of ``desc``), shape ``(K, width)``."""
    if not width:
        return np.zeros((len(desc), 0))
    return desc @ vector.reshape(-1, width)


def block_quadratic(matrix: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                    width: int) -> np.ndarray:
    """``(desc_a ⊗ I)ᵀ matrix (desc_a ⊗ I)`` for every arm, shape ``(K, width, width)``."""
    if not width:
        return np.zeros((len(cols), 0, 0))
    n = matrix.shape[0] // width
    grid = matrix.reshape(n, width, n, width)
    blocks = grid[cols[:, :, None], :, cols[:, None, :], :]  # (K, m, m, width, width)
    return np.einsum("kp,kq,kpqij->kij", vals, vals, blocks)


def kron_sum(per_arm: np.ndarray, desc: np.ndarray, width: int) -> np.ndarray:
    """``Σ_a (desc_a desc_aᵀ) ⊗ per_arm[a]``, shape ``(ncols·width, ncols·width)``."""
    K, n = desc.shape
    pairs = (desc[:, :, None] * desc[:, None, :]).reshape(K, n * n)
    grid = (pairs.T @ per_arm.reshape(K, width * width)).reshape(n, n, width, width)
    return grid.transpose(0, 2, 1, 3).reshape(n * width, n * width)


def block_spread(per_arm: np.ndarray, desc: np.ndarray, width: int) -> np.ndarray:
    """``Σ_a desc_a ⊗ per_arm[a]``, shape ``(ncols·width,)``."""
    return (desc.T @ per_arm.reshape(len(desc), width)).ravel()


def sym_inv(matrix: np.ndarray) -> np.ndarray:
    """Inverse of (a stack of) symmetric positive-definite matrices, symmetrised."""
    inv = np.linalg.inv(matrix)
    return (inv + np.swapaxes(inv, -1, -2)) / 2.0


def expand_cross(gt: np.ndarray, desc: np.ndarray) -> np.ndarray:
    """The full cross sums ``B_a = desc_a ⊗ G_a``, shape ``(K, d, ncols·s)``."""
    K, s, d = gt.shape
    full = desc[:, None, :, None] * np.swapaxes(gt, 1, 2)[:, :, None, :]
    return full.reshape(K, d, desc.shape[1] * s)


def compress_cross(B: np.ndarray, desc: np.ndarray, width: int) -> np.ndarray:
    """``G_aᵀ`` (shape ``(K, s, d)``) from full cross sums ``B_a = desc_a ⊗ G_a``.

    Raises:
        ValueError: ``B`` does not have that form (it was not summed by this model).
    """
    K, d = B.shape[0], B.shape[1]
    if not width or not K:
        return np.zeros((K, width, d))
    grid = B.reshape(K, d, desc.shape[1], width)
    lead = np.argmax(np.abs(desc), axis=1)
    scale = desc[np.arange(K), lead]
    safe = np.where(scale == 0, 1.0, scale)
    g = grid[np.arange(K), :, lead, :] / safe[:, None, None]  # (K, d, s)
    g[scale == 0] = 0.0
    gt = np.ascontiguousarray(np.swapaxes(g, 1, 2))
    rebuilt = expand_cross(gt, desc)
    tol = 1e-9 * max(1.0, float(np.abs(B).max(initial=0.0)))
    if not np.allclose(rebuilt, B, rtol=1e-9, atol=tol):
        raise ValueError("array B is not the arms' descriptors ⊗ their context sums")
    return gt


def load_sums(policy: LinUCB, arrays: dict[str, np.ndarray]) -> None:
    """Check the persisted sums' shapes and values and store them in ``policy``'s layout.

    Raises:
        ValueError: An array is missing, misshapen, non-finite or inconsistent.
    """
    K, d, k = len(policy.slots), policy.dim, policy.k
    expected = {"A_raw": (K, d, d), "B": (K, d, k), "b": (K, d), "counts": (K,),
                "S_zz": (k, k), "zr": (k,), "desc": (K, len(policy.columns))}
    values = {}
    for name, shape in expected.items():
        value = np.asarray(arrays[name], dtype=float)
        if value.shape != shape or not np.all(np.isfinite(value)):
            raise ValueError(f"array {name} has shape {value.shape}, expected {shape}")
        values[name] = value
    s = policy.shared_dim
    desc = values["desc"].copy()
    policy.desc = desc
    policy._blocks = [blocks_of(row, s) for row in desc]
    policy._nz_cols, policy._nz_vals = padded_blocks(policy._blocks)
    policy._sigma = 1.0
    policy._araw = policy._pack.pack(values["A_raw"]).copy()
    policy._queued = [[] for _ in range(K)]
    # the per-arm shared sums H_a and Σ r x_s are not in the file: they stay inside the
    # loaded S_zz and zr, and the arms' moments hold what is learned from now on
    mom = np.zeros((K, s + 2, d + s + 1))
    mom[:, :s, :d] = compress_cross(values["B"], desc, s)
    mom[:, s, :d] = values["b"]
    mom[:, s + 1, d + s] = values["counts"]
    policy._mom = mom
    policy._szz0 = values["S_zz"].copy()
    policy._zr0 = values["zr"].copy()
    policy._w = np.zeros((K, policy._pack.size), dtype=policy._w.dtype)
    policy._q = np.zeros((K, s + 1, d))
    policy._v = np.zeros((K, s))
    policy._m = np.zeros((k, k))
    policy._b0 = np.zeros(k)
    policy._beta = np.zeros(k)
    policy._bt = np.zeros((K, s))
    policy._nq = np.zeros((K, s, s))
