"""Which kernels LinUCB runs: compiled (numba, the ``uniscale[fast]`` extra) or numpy.

``kernel="auto"`` (the default) uses the compiled kernels when ``numba`` can be imported
and the numpy code otherwise; the environment variable ``UNISCALE_KERNEL=numpy`` forces
the numpy code for every policy of the process. Both compute the same quantities (the
tests check one against the other and both against the direct ridge solution); the
compiled ones do a decide or an update in one call instead of a dozen small numpy calls,
which is most of their cost at tens of arms. They are compiled on first use (cached on
disk by numba), never at import.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigurationError
from ..explore import decayed_width

if TYPE_CHECKING:
    from .linucb import LinUCB

__all__ = ["KERNELS", "Ranked", "Scored", "compiled", "decide", "estimate", "rank", "resolve",
           "update"]

KERNELS = ("auto", "numba", "numpy")
ENV = "UNISCALE_KERNEL"
_lock = threading.Lock()
_loaded: list[ModuleType | None] = []  # empty: not tried yet
_reason: list[str] = []


def compiled() -> ModuleType | None:
    """The compiled kernel module, or ``None`` when numba cannot be imported."""
    if not _loaded:
        with _lock:
            if not _loaded:
                try:
                    from . import _numba
                except ImportError as exc:  # numba (or llvmlite) missing or broken
                    _reason.append(f"{type(exc).__name__}: {exc}")
                    _loaded.append(None)
                else:
                    _loaded.append(_numba)
    return _loaded[0]


def resolve(kernel: str) -> str:
    """The kernel a policy asking for ``kernel`` runs: ``"numba"`` or ``"numpy"``.

    Raises:
        ConfigurationError: ``kernel`` is unknown, or ``"numba"`` was asked for and numba
            cannot be imported (install the extra: ``pip install "uniscale[fast]"``).
    """
    if kernel not in KERNELS:
        raise ConfigurationError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")
    forced = os.environ.get(ENV, "").strip().lower()
    if forced and forced not in KERNELS:
        raise ConfigurationError(
            f"{ENV} must be one of {list(KERNELS)} (or unset), got {forced!r}")
    if kernel == "numpy" or (kernel == "auto" and forced == "numpy"):
        return "numpy"
    if compiled() is not None:
        return "numba"
    if kernel == "numba" or forced == "numba":
        raise ConfigurationError(
            "kernel='numba' needs numba, which could not be imported "
            f"({_reason[0] if _reason else 'unknown reason'}): "
            'pip install "uniscale[fast]", or use kernel="auto"')
    return "numpy"


def _slots(policy: LinUCB, slots: np.ndarray | None) -> np.ndarray:
    """``slots``, or every slot in order (cached) for ``None``."""
    if slots is None:
        slots = policy._every
        if len(slots) != len(policy.slots):
            slots = policy._every = np.arange(len(policy.slots), dtype=np.intp)
    return slots


def estimate(policy: LinUCB, kernels: ModuleType, x: np.ndarray,
             slots: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`LinUCB.estimate` in one compiled call."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    slots = _slots(policy, slots)
    mean, width = np.empty(len(slots)), np.empty(len(slots))
    kernels.estimate(x, policy._w, policy._q, policy._bt, policy._nq, policy._P, slots,
                     1.0 / policy._sigma, mean, width)
    return mean, width


Scored = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
               np.ndarray, int, int, int, bool]
"""``(mean, width, bonus, ucb, raw, keep, score, best, ties, pruned, finite)``: see
:func:`decide`."""


def decide(policy: LinUCB, x: np.ndarray, slots: np.ndarray | None,
           alpha_decay: float | None, costs: np.ndarray, lam: float, prune: bool) -> Scored:
    """Estimates, exploration bonus and :func:`rank` of one decision (one compiled call
    when the policy runs the compiled kernels).

    Args:
        policy: The policy scoring.
        x: The context.
        slots: The slots of the arms scored (``None``: every slot, in order).
        alpha_decay: Feedbacks after which an arm's bonus is ``1/sqrt(2)`` of its width
            (see :func:`uniscale.explore.decayed_width`); ``None``: the bonus is the width.
        costs: Predicted USD per arm scored.
        lam: Cost weight λ.
        prune: Prune dominated arms.

    Returns:
        ``(mean, width, bonus, ucb, raw, keep, score, best, ties, pruned, finite)``, the
        bounds and scores computed on ``bonus`` (see :func:`rank`).
    """
    compiled = policy.compiled
    if compiled is None:
        mean, width = policy.estimate(x, slots)
        bonus = width if alpha_decay is None else decayed_width(width, policy.counts, slots,
                                                                alpha_decay)
        return (mean, width, bonus,
                *rank(None, mean, bonus, costs, policy.alpha, lam, prune))
    decay = 0.0 if alpha_decay is None else float(alpha_decay)
    x = np.ascontiguousarray(x, dtype=np.float64)
    chosen = _slots(policy, None if slots is None else np.asarray(slots, dtype=np.intp))
    out = np.empty((6, len(chosen)))
    keep = np.empty(len(chosen), dtype=bool)
    best, ties, pruned, finite = compiled.decide(
        x, policy._w, policy._q, policy._bt, policy._nq, policy._P, chosen, 1.0 / policy._sigma,
        policy._mom, policy._sigma, decay, costs, float(policy.alpha), float(lam), bool(prune),
        out, keep)
    mean, width, bonus, ucb, raw, score = out
    return (mean, width, bonus, ucb, raw, keep, score, int(best), int(ties), int(pruned),
            bool(finite))


def update(policy: LinUCB, kernels: ModuleType, slot: int, x: np.ndarray, reward: float,
           root: float) -> None:
    """``LinUCB._update`` after its forgetting step, in one compiled call."""
    blocks = policy._blocks[slot]
    kernels.update(slot, np.ascontiguousarray(x, dtype=np.float64), reward, root, policy._w,
                   policy._araw, policy._q, policy._v, policy._mom, policy._P, policy._m,
                   policy._b0, policy._beta, policy._bt, policy._nq, blocks.cols, blocks.vals,
                   policy._nz_cols, policy._nz_vals)


Ranked = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int, bool]
"""``(ucb, raw, keep, score, best, ties, pruned, finite)``: see :func:`rank`."""


def rank(kernels: ModuleType | None, mean: np.ndarray, width: np.ndarray, costs: np.ndarray,
         alpha: float, lam: float, prune: bool) -> Ranked:
    """Upper bounds, pruning and scores of one decision.

    An arm is pruned when a cheaper arm's lower bound ``mean − alpha·width`` beats its
    upper bound ``ucb = mean + alpha·width`` (ties in cost keep their order); ``raw =
    ucb − lam·cost`` and ``score`` is ``raw`` with ``-inf`` where pruned.

    Args:
        kernels: The compiled kernels, or ``None`` for the numpy code.
        mean: Estimated quality per arm.
        width: Standard width per arm.
        costs: Predicted USD per arm.
        alpha: Exploration width.
        lam: Cost weight λ.
        prune: Prune dominated arms.

    Returns:
        ``(ucb, raw, keep, score, best, ties, pruned, finite)``: ``best`` is the first arm
        whose score is within 1e-12 of the top one, ``ties`` how many are, ``pruned`` how
        many arms were pruned, ``finite`` whether every ``raw`` is finite.
    """
    n = len(mean)
    if kernels is not None:
        ucb, raw, score = np.empty(n), np.empty(n), np.empty(n)
        keep = np.empty(n, dtype=bool)
        best, ties, pruned, finite = kernels.rank(mean, width, costs, float(alpha),
                                                  float(lam), bool(prune), ucb, raw, keep,
                                                  score)
        return ucb, raw, keep, score, int(best), int(ties), int(pruned), bool(finite)
    ucb = mean + alpha * width
    keep = np.ones(n, dtype=bool)
    if prune and n > 1:
        order = np.argsort(costs, kind="stable")
        best_cheaper = np.maximum.accumulate((mean - alpha * width)[order])
        keep[order[1:]] = ucb[order[1:]] >= best_cheaper[:-1]
    raw = ucb - lam * costs
    score = np.where(keep, raw, -np.inf)
    top = np.flatnonzero(score >= score.max() - 1e-12)
    return (ucb, raw, keep, score, int(top[0]), len(top), n - int(np.count_nonzero(keep)),
            bool(np.all(np.isfinite(raw))))
