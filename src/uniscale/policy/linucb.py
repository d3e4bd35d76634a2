"""Hybrid LinUCB with rank-one updates and optional exponential forgetting.

The quality of arm ``a`` on context ``x`` is modelled as ``zᵀβ + xᵀθ_a`` where
``z = descriptor(a) ⊗ [1, P x]`` is shared by every arm (so arms with the same model,
strategy or a close ``n`` share evidence) and ``θ_a`` is the arm's own part (Li et al.,
2010, Algorithm 2). All statistics are kept as sums, so they add up across replicas, and
every inverse is maintained by Sherman–Morrison rank-one updates: the hybrid block's
Schur complement ``A₀`` also changes by a rank-one term, ``c·w·wᵀ`` with
``c = 1 + xᵀA_a⁻¹x`` and ``w = z − (B_aᵀA_a⁻¹x + (c − 1)z)/c``.

With forgetting ``γ < 1`` every statistic (the ridge prior included) is multiplied by
``γ`` before each update: ``A ← γA + φφᵀ``, the discounted ridge regression; the prior
is kept between ``PRIOR_LOW`` and ``PRIOR_FLOOR`` times ``ridge`` once it decays that far.

Layout (what makes ``estimate`` one pass over memory). Every arm's descriptor is fixed,
so its cross term is ``B_a = desc_a ⊗ G_a`` with ``G_a = Σ x [1, P x]ᵀ`` of shape
``(d, s)``, and the hybrid terms of arm ``a`` depend on the context only through
``r_a = [1, P x] − C_aᵀx`` with ``C_a = A_a⁻¹G_a``:

* mean ``= xᵀθ̂_a + r_aᵀβ̃_a`` with ``θ̂_a = A_a⁻¹b_a`` and ``β̃_a = (desc_a ⊗ I)ᵀβ``;
* variance ``= xᵀA_a⁻¹x + r_aᵀN_a r_a`` with ``N_a = (desc_a ⊗ I)ᵀA₀⁻¹(desc_a ⊗ I)``.

``C_aᵀ`` and ``θ̂_a`` are stacked per arm as ``(s + 1, d)`` blocks (one product with
``x`` for every arm), the symmetric ``A_a⁻¹`` are packed upper triangles (one product
with the packed ``x xᵀ``), and ``β̃`` and ``N`` are cached and changed by each update in
``O(K s²)`` using the descriptor's few non-zero entries. ``A₀`` and the shared sums
are derived from the per-arm sums only when re-factorising. Forgetting is lazy: stored
sums are the true ones divided by a scale ``σ = γᵗ``, so an update touches one arm.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from . import kernels, layout
from .blas import SerialBlas
from .packed import Packing
from .refit import PRIOR_LOW, Refit

__all__ = ["LinUCB"]

_PRECISIONS = {"float64": np.float64, "float32": np.float32}
_RESCALE_BELOW = 1e-8  # fold the forgetting scale into the arrays before it underflows
_QUEUE = 16  # contexts an arm queues before they are added to its Σ x xᵀ
_THREADED_FROM = 8192  # products this large may be split over threads by BLAS: pin them
_UNPINNED = contextlib.nullcontext()


class LinUCB(Refit):
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
        precision: ``"float64"`` or ``"float32"`` for the per-arm inverses that
            :meth:`estimate` reads (half the memory and time at large ``K·d²``; widths
            then agree to about 1e-6). Sums are always float64. ``"float64"`` (this
            class's default) is the reference path; :class:`~uniscale.Router` defaults
            to ``"float32"``.
        blas_threads: BLAS threads during :meth:`estimate` and :meth:`update` (default
            1: these products are too small to gain from threads); ``None`` leaves BLAS
            as configured.
        kernel: ``"auto"`` (compiled kernels when numba is installed, the
            ``uniscale[fast]`` extra), ``"numba"`` or ``"numpy"`` (the reference); see
            :mod:`uniscale.policy.kernels`.
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
        precision: str = "float64",
        blas_threads: int | None = 1,
        kernel: str = "auto",
    ) -> None:
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ConfigurationError(f"alpha must be a finite number >= 0, got {alpha!r}")
        if not (isinstance(ridge, (int, float)) and math.isfinite(ridge) and ridge > 0):
            raise ConfigurationError(f"ridge must be a finite number > 0, got {ridge!r}")
        if not (isinstance(forgetting, (int, float)) and 0 < forgetting <= 1):
            raise ConfigurationError(f"forgetting must be in (0, 1], got {forgetting!r}")
        if shared_dim < 1:
            raise ConfigurationError(f"shared_dim must be >= 1, got {shared_dim}")
        if precision not in _PRECISIONS:
            raise ConfigurationError(
                f"precision must be 'float64' or 'float32', got {precision!r}")
        if blas_threads is not None and (isinstance(blas_threads, bool)
                                         or not isinstance(blas_threads, int)
                                         or blas_threads < 1):
            raise ConfigurationError(
                f"blas_threads must be an int >= 1 or None, got {blas_threads!r}")
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
        self.precision = precision
        self.blas_threads = blas_threads
        self._dtype = _PRECISIONS[precision]
        self._serial = SerialBlas(blas_threads)
        self.kernel = kernels.resolve(kernel)
        self._compiled = kernels.compiled() if self.kernel == "numba" else None
        self._every = np.zeros(0, dtype=np.intp)  # every slot, in order
        rng = np.random.default_rng(self.projection_seed)
        self._P = rng.standard_normal((max(self.shared_dim - 1, 0), self.dim)) / math.sqrt(
            max(self.shared_dim - 1, 1)
        )
        self._pack = Packing(self.dim)
        self.columns: list[str] = []
        self.slots: list[str] = []
        self._since: list[int] = []
        self._slot_index: dict[str, int] = {}
        self.desc = np.zeros((0, 0))
        self._blocks: list[layout.Blocks] = []
        self._nz_cols = np.zeros((0, 0), dtype=np.intp)
        self._nz_vals = np.zeros((0, 0))
        d, s, p = self.dim, self.shared_dim, self._pack.size
        self._ps = 1.0  # stored prior scale; the true one is _ps * _sigma
        self._sigma = 1.0  # lazy forgetting: true sums = stored sums * _sigma
        self.updates = 0
        # sums, float64, in stored units
        self._araw = np.zeros((0, p))  # Σ x xᵀ, packed (without the contexts still queued)
        self._queued: list[list[np.ndarray]] = []  # per arm: contexts not in _araw yet
        self._mom = np.zeros((0, s + 2, d + s + 1))  # Σ [x_s, r, 1] ⊗ [x, x_s, 1]
        self._szz0 = np.zeros((0, 0))  # shared sums loaded from a state file
        self._zr0 = np.zeros(0)
        # derived
        self._w = np.zeros((0, p), dtype=self._dtype)  # A_a⁻¹, packed
        self._q = np.zeros((0, s + 1, d))  # [C_aᵀ; θ̂_aᵀ]
        self._v = np.zeros((0, s))  # G_aᵀθ̂_a
        self._m = np.zeros((0, 0))  # A₀⁻¹
        self._b0 = np.zeros(0)
        self._beta = np.zeros(0)
        self._bt = np.zeros((0, s))  # β̃_a
        self._nq = np.zeros((0, s, s))  # N_a

    # -- shape management ------------------------------------------------------------
    def ensure_columns(self, columns: Sequence[str]) -> None:
        """Append descriptor columns not seen yet; learned statistics are kept exactly."""
        new = [c for c in columns if c not in self.columns]
        if not new:
            return
        self.columns.extend(new)
        self.desc = np.pad(self.desc, ((0, 0), (0, len(new))))
        if not self.hybrid:
            return
        grow = self.shared_dim * len(new)
        self._szz0 = np.pad(self._szz0, ((0, grow), (0, grow)))
        self._zr0 = np.pad(self._zr0, (0, grow))
        self._b0 = np.pad(self._b0, (0, grow))
        self._beta = np.pad(self._beta, (0, grow))
        self._m = np.pad(self._m, ((0, grow), (0, grow)))
        idx = np.arange(self.k - grow, self.k)
        self._m[idx, idx] = 1.0 / (self.ridge * self._ps)

    def add_slot(self, key: str, descriptor: dict[str, float]) -> int:
        """Add an arm slot with a fresh (optimistic) prior; returns its index."""
        if key in self.slots:
            raise ConfigurationError(f"arm slot {key!r} exists already")
        self.ensure_columns(list(descriptor))
        s, K = self.shared_dim, len(self.slots)
        row = np.array([descriptor.get(c, 0.0) for c in self.columns], dtype=float)
        self.slots.append(key)
        self._since.append(0)
        self._queued.append([])
        self.desc = np.vstack([self.desc.reshape(K, len(self.columns)), row])
        self._blocks.append(layout.blocks_of(row, s))
        self._nz_cols, self._nz_vals = layout.padded_blocks(self._blocks)
        prior = self._pack.identity(1.0 / (self.arm_ridge * self._ps))
        for name in ("_araw", "_mom", "_q", "_v", "_w"):
            old = getattr(self, name)
            setattr(self, name, np.concatenate([old, np.zeros((1, *old.shape[1:]), old.dtype)]))
        self._w[K] = prior
        cols, vals = self._nz_cols[K:], self._nz_vals[K:]
        self._nq = np.concatenate([self._nq, layout.block_quadratic(self._m, cols, vals, s)])
        self._bt = np.vstack([self._bt, layout.block_combine(self._beta, self.desc[K:], s)])
        return K

    @property
    def compiled(self) -> ModuleType | None:
        """The compiled kernels this policy runs (``None``: the numpy code)."""
        return self._compiled

    def slot(self, key: str) -> int:
        """Index of the slot named ``key``."""
        if len(self._slot_index) != len(self.slots):
            self._slot_index = {name: i for i, name in enumerate(self.slots)}
        return self._slot_index[key]

    # -- features ----------------------------------------------------------------------
    def _shared_context(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate(([1.0], self._P @ x))

    def _z(self, slots: np.ndarray, x: np.ndarray) -> np.ndarray:
        xs = self._shared_context(x)
        return (self.desc[slots][:, :, None] * xs[None, None, :]).reshape(len(slots), -1)

    # -- scoring -----------------------------------------------------------------------
    def estimate(self, x: np.ndarray, slots: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Estimated quality and its standard width for each slot in ``slots``.

        Args:
            x: Context vector of shape ``(dim,)``.
            slots: Slot indices (default: every slot, in order).

        Returns:
            ``(mean, width)``; the upper confidence bound is ``mean + alpha * width``.
        """
        K, s = len(self.slots), self.shared_dim
        if slots is not None:
            slots = np.asarray(slots, dtype=np.intp)
            if self._compiled is not None:
                return kernels.estimate(self, self._compiled, x, slots)
            if len(slots) == K and bool(np.all(slots == np.arange(K))):
                slots = None
        elif self._compiled is not None:
            return kernels.estimate(self, self._compiled, x, None)
        w, q, bt, nq = ((self._w, self._q, self._bt, self._nq) if slots is None else
                        (self._w[slots], self._q[slots], self._bt[slots], self._nq[slots]))
        n = len(w)
        with self._serial if w.size >= _THREADED_FROM else _UNPINNED:
            var = w @ self._pack.quadratic(x).astype(self._dtype, copy=False)
            y = (q.reshape(n * (s + 1), self.dim) @ x).reshape(n, s + 1)
        mean = y[:, s]
        if s:
            r = self._shared_context(x) - y[:, :s]
            mean = mean + np.einsum("ks,ks->k", r, bt)
            var = var + np.einsum("ks,ks->k", np.matmul(r[:, None, :], nq)[:, 0, :], r)
        if self._sigma != 1.0:
            var = var / self._sigma
        return mean, np.sqrt(np.maximum(var, 0.0))

    # -- learning ----------------------------------------------------------------------
    def update(self, slot: int, x: np.ndarray, reward: float) -> None:
        """Learn that arm ``slot`` earned ``reward`` on context ``x``."""
        work = max(self.dim * self.dim, self.k * self.k)
        compiled = self._compiled is not None
        with self._serial if work >= _THREADED_FROM and not compiled else _UNPINNED:
            self._update(slot, x, float(reward))
        self.updates += 1
        self._since[slot] += 1
        slot_due = self.refactor_every and self._since[slot] >= self.refactor_every
        shared_due = (self.refactor_every and self.updates % self.refactor_every == 0
                      and self.hybrid)
        if slot_due or shared_due:
            with self._serial if work >= _THREADED_FROM else _UNPINNED:
                if slot_due:
                    self._refactor_slot(slot)
                    self._since[slot] = 0
                if shared_due:
                    self._refactor_shared()

    def _update(self, slot: int, x: np.ndarray, reward: float) -> None:
        """Rank-one update of arm ``slot`` (all in stored units: weight ``1/σ``)."""
        if self.forgetting < 1.0:
            self._sigma *= self.forgetting
            if self._sigma < _RESCALE_BELOW or self._ps * self._sigma < PRIOR_LOW:
                self._rescale()  # (lifts the prior back to PRIOR_FLOOR)
        root = 1.0 / math.sqrt(self._sigma)
        if self._compiled is not None:
            kernels.update(self, self._compiled, slot, x, reward, root)
            return
        xt, rt = (x, reward) if root == 1.0 else (x * root, reward * root)
        pack, s = self._pack, self.shared_dim
        u = self._w[slot].take(pack.full_index) @ xt  # A⁻¹x
        c = 1.0 + float(xt @ u)
        uc = u / c
        self._w[slot] -= pack.outer(u, uc).astype(self._dtype, copy=False)
        queue = self._queued[slot]
        queue.append(x.copy() if xt is x else xt)
        if len(queue) >= _QUEUE:
            self._fold(slot)
        q = self._q[slot]
        y = q @ xt  # [Cᵀx, θ̂·x] before the update
        e = (rt - y[s]) / c
        q[s] += u * e  # θ̂ ← A⁻¹b, Sherman–Morrison form
        if s:
            xs = np.concatenate(((root,), self._P @ xt))
            r = xs - y[:s]
            q[:s] += np.multiply.outer(r, uc)  # C ← A⁻¹G
            dv = e * y[:s] + xs * (y[s] + (c - 1.0) * e)  # change of Gᵀθ̂
            self._v[slot] += dv
            self._shared_update(slot, r / c, c, rt * xs - dv)
            left, right = np.concatenate((xs, (rt, root))), np.concatenate((xt, xs, (root,)))
        else:
            left, right = np.array((rt, root)), np.concatenate((xt, (root,)))
        self._mom[slot] += np.multiply.outer(left, right)

    def _shared_update(self, slot: int, w_block: np.ndarray, c: float,
                       b0_block: np.ndarray) -> None:
        """``A₀ += c w wᵀ`` (on its inverse) and ``b₀ += desc ⊗ b0_block`` for
        ``w = desc ⊗ w_block``; ``β``, ``β̃`` and ``N`` follow."""
        blocks, s, m = self._blocks[slot], self.shared_dim, self._m
        dtm = (blocks.vals @ m[blocks.index].reshape(len(blocks.vals), -1)).reshape(s, -1)
        t = w_block @ dtm  # A₀⁻¹w
        nw = self._nq[slot] @ w_block  # (desc ⊗ I)ᵀ t
        gain = c / (1.0 + c * float(w_block @ nw))
        shift = -gain * (float(w_block @ self._bt[slot]) + float(nw @ b0_block))
        beta_step = b0_block @ dtm
        m -= np.multiply.outer(t, gain * t)
        self._b0[blocks.index] += np.multiply.outer(blocks.vals, b0_block).ravel()
        self._beta += beta_step + shift * t
        tb = layout.block_combine(t, self.desc, s)
        self._nq -= gain * (tb[:, :, None] * tb[:, None, :])
        self._bt = layout.block_combine(self._beta, self.desc, s)

    def _fold(self, slot: int | None = None) -> None:
        """Add queued contexts to ``Σ x xᵀ`` (of one arm, or of every arm): one matrix
        product per arm instead of one outer product per update."""
        for i in range(len(self.slots)) if slot is None else (slot,):
            queue = self._queued[i]
            if queue:
                rows = np.array(queue)
                self._araw[i] += self._pack.pack(rows.T @ rows)
                queue.clear()

    # -- persistence ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Hyperparameters, JSON-ready."""
        return {
            "dim": self.dim, "alpha": self.alpha, "ridge": self.ridge,
            "arm_ridge": self.arm_ridge,
            "forgetting": self.forgetting, "hybrid": self.hybrid,
            "shared_dim": self.shared_dim if self.hybrid else 8,
            "refactor_every": self.refactor_every, "projection_seed": self.projection_seed,
            "precision": self.precision, "blas_threads": self.blas_threads,
        }

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metadata, arrays)``: the sums from which everything else is derived."""
        meta = {"columns": list(self.columns), "slots": list(self.slots),
                "prior_scale": self.prior_scale, "updates": self.updates}
        arrays = {name: getattr(self, name) for name in layout.SUMS}
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
        policy._ps = float(meta["prior_scale"])
        policy.updates = int(meta["updates"])
        layout.load_sums(policy, arrays)
        policy.refactor()
        return policy
