"""The bandit's products run on one BLAS thread, and BLAS is left as it was afterwards."""

from __future__ import annotations

import threadpoolctl

from uniscale.policy import blas
from uniscale.policy.blas import SerialBlas


def _threads() -> list[int]:
    return [get() for get, _ in blas._blas_pools()]


def test_serial_blas_caps_threads_inside_and_restores_them() -> None:
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _threads()
        assert before and all(n == 2 for n in before)
        with SerialBlas(1):
            assert all(n == 1 for n in _threads())
        assert _threads() == before
        with SerialBlas(None):  # opted out: BLAS left alone
            assert _threads() == before
