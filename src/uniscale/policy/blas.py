"""Cap BLAS at one thread around the policy's hot products.

The router's matrix products are small (microseconds to a millisecond). A threaded BLAS
splits them across cores anyway, which costs more than it saves and collapses when the
cores are busy with other work. :class:`SerialBlas` sets the BLAS pools to one thread
for the duration of a call and restores what was there before.

``threadpoolctl`` finds the pools. For OpenBLAS with its own (pthreads) pool the thread
count is read and set through the library's C functions directly, a fraction of a
microsecond; other pools (OpenMP builds, MKL, BLIS) go through ``threadpoolctl``'s
controllers, a few microseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["SerialBlas"]

_Pool = tuple[Callable[[], Any], Callable[[int], Any]]
_pools: list[_Pool] | None = None
_discover = threading.Lock()


def _controls(controller: Any) -> _Pool:
    """``(get_threads, set_threads)`` of one threadpoolctl library controller."""
    if controller.internal_api == "openblas" and getattr(controller, "threading_layer",
                                                          None) == "pthreads":
        for name in getattr(controller, "check_symbols", ()):
            get = getattr(controller.dynlib, name, None)
            put = getattr(controller.dynlib, name.replace("_get_", "_set_"), None)
            if get is not None and put is not None:
                return get, put
    return controller.get_num_threads, controller.set_num_threads


def _blas_pools() -> list[_Pool]:
    """The BLAS thread pools loaded in this process (found once, on first use)."""
    global _pools
    if _pools is None:
        with _discover:
            if _pools is None:
                from threadpoolctl import ThreadpoolController

                found = ThreadpoolController().select(user_api="blas").lib_controllers
                _pools = [_controls(c) for c in found]
    return _pools


class SerialBlas:
    """Context manager: BLAS runs on at most ``threads`` threads inside.

    Args:
        threads: Threads to cap BLAS at; ``None`` leaves BLAS alone (no cost).
    """

    def __init__(self, threads: int | None = 1) -> None:
        self.threads = threads
        self._saved: list[tuple[Callable[[int], Any], int]] = []

    def __enter__(self) -> SerialBlas:
        if self.threads is None:
            return self
        for get, put in _blas_pools():
            current = get()
            if current is not None and current > self.threads:
                put(self.threads)
                self._saved.append((put, current))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        while self._saved:
            put, threads = self._saved.pop()
            put(threads)
