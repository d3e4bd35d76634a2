"""Intervals over seeds and paired differences between policies.

Every seed replays the same prompts in the same order for every policy, so two policies
are compared seed by seed (a paired difference): the stream order, the replayed draws and
the test prompts cancel out, and what is left is the difference the policies make. The
interval is Student's t over seeds; it covers the randomness of the stream, the replayed
draws and the learners for this table's test prompts (not a population of other prompts).

Each seed's figure is already a low-variance one: every policy is scored by the expected
outcome of the arm it chose on each prompt (see :class:`~uniscale.bench.hindsight.Trace`),
and ``uniscale bench`` runs as many seeds as a target width needs
(:class:`~uniscale.bench.report.Precision`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "mean_interval", "paired_difference", "t_quantile"]

# 0.975 quantile of Student's t with 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (NaN for df < 1)."""
    if df < 1:
        return float("nan")
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish-Fisher expansion around the normal quantile; < 1e-3 off for df > 30.
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its 95% interval.

    Attributes:
        mean: The mean.
        half_width: Half the width of the 95% interval (NaN with fewer than 2 seeds;
            0 when every seed gave the same value).
    """

    mean: float
    half_width: float

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0 (a difference, not a tie)."""
        if math.isnan(self.half_width):
            return False
        return self.low > 0 or self.high < 0

    def as_list(self) -> list[float]:
        """``[low, high]``."""
        return [float(self.low), float(self.high)]


def mean_interval(values: Sequence[float] | np.ndarray) -> Interval:
    """Mean of per-seed values and its 95% Student-t interval.

    Args:
        values: One value per seed.

    Returns:
        The interval (NaN half width for a single value).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return Interval(float("nan"), float("nan"))
    mean = float(v.mean())
    if v.size < 2:
        return Interval(mean, float("nan"))
    sd = float(v.std(ddof=1))
    return Interval(mean, t_quantile(v.size - 1) * sd / math.sqrt(v.size))


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray
                      ) -> Interval:
    """Mean of ``a − b`` seed by seed, with its 95% interval.

    Args:
        a: Per-seed values of one policy.
        b: Per-seed values of the other, same seeds in the same order.

    Raises:
        ValueError: When the two have different lengths.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired values need the same seeds: {x.shape} vs {y.shape}")
    return mean_interval(x - y)
