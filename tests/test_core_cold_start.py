"""Cold start without a baseline: a fresh router beats the best fixed arm."""

from __future__ import annotations

import numpy as np
import pytest

import uniscale as us
from uniscale.testing.domains import DomainWorkload
from uniscale.testing.topics import run_cold_start


@pytest.mark.slow
@pytest.mark.parametrize("W", [0.005, 0.05])
def test_fresh_router_beats_the_best_fixed_arm_after_4000_requests(W: float) -> None:
    # the domain workload (30 arms) was kept out of choosing the exploration defaults
    wl = DomainWorkload(seed=0)
    got, fixed, _ = run_cold_start(wl, us.Tradeoff(W), 4000)
    assert len(fixed) == 30
    best = max(fixed, key=lambda k: float(np.mean(fixed[k])))
    assert np.mean(got[3000:]) > np.mean(fixed[best][3000:])  # over the last 1,000
