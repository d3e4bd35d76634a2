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

if TYPE_CHECKING:
    from .linucb import LinUCB

__all__ = ["KERNELS", "compiled", "estimate", "resolve", "update"]

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


def estimate(policy: LinUCB, kernels: ModuleType, x: np.ndarray,
             slots: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`LinUCB.estimate` in one compiled call."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if slots is None:
        slots = policy._every
        if len(slots) != len(policy.slots):
            slots = policy._every = np.arange(len(policy.slots), dtype=np.intp)
    n = len(slots)
    mean, width = np.empty(n), np.empty(n)
    weights = np.empty(policy._w.shape[1], dtype=policy._w.dtype)
    kernels.estimate(x, weights, policy._w, policy._q, policy._bt, policy._nq, policy._P, slots,
                     1.0 / policy._sigma, mean, width)
    return mean, width


def update(policy: LinUCB, kernels: ModuleType, slot: int, x: np.ndarray, reward: float,
           root: float) -> None:
    """``LinUCB._update`` after its forgetting step, in one compiled call."""
    blocks = policy._blocks[slot]
    kernels.update(slot, np.ascontiguousarray(x, dtype=np.float64), reward, root, policy._w,
                   policy._araw, policy._q, policy._v, policy._mom, policy._P, policy._m,
                   policy._b0, policy._beta, policy._bt, policy._nq, blocks.cols, blocks.vals,
                   policy._nz_cols, policy._nz_vals)
