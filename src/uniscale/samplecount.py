"""How many samples (and backend calls) an early-stopping arm is expected to use.

An arm whose strategy stops early (``SelfConsistency(early_stop=...)``,
``BestOfN(threshold=...)``) draws at most ``n`` samples; what it really draws depends on
how soon the vote is decided. The cost model consults a :class:`SampleCountModel` so that
``decide`` prices such an arm at the samples it is expected to use, learned from the runs
it has observed, instead of at ``n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .arms import Arm

__all__ = ["SampleCountModel", "calls_for"]


def calls_for(arm: Arm, samples: float, per_call: int) -> float:
    """Backend calls a run of ``arm`` makes to draw ``samples`` samples.

    Waves are drawn whole; each wave takes ``ceil(wave / per_call)`` calls.
    """
    per_call = max(1, int(per_call))
    calls = drawn = 0
    for wave in arm.strategy.waves(arm.n):
        if drawn >= samples - 1e-9:
            break
        drawn += wave
        calls += -(-wave // per_call)
    return float(max(calls, 1))


class SampleCountModel:
    """Expected samples and calls per adaptive arm, learned from observed runs.

    An arm that always draws ``n`` samples is priced at ``n``. An early-stopping arm is
    priced at the running mean of the samples and calls its runs used, shrunk towards a
    prior of ``prior_weight`` runs: the fraction of ``n`` that the other arms of the same
    model and strategy used (other ``n``), or ``n`` itself before any of them ran.

    Args:
        prior_weight: Pseudo-count of the prior, in runs.
    """

    def __init__(self, prior_weight: float = 1.0) -> None:
        self.prior_weight = float(prior_weight)
        self._runs: dict[str, float] = {}
        self._samples: dict[str, float] = {}
        self._calls: dict[str, float] = {}
        self._pool_used: dict[str, float] = {}
        self._pool_budget: dict[str, float] = {}

    @staticmethod
    def _pool(arm: Arm) -> str:
        return f"{arm.model}/{arm.strategy.key}"

    def prior_samples(self, arm: Arm) -> float:
        """Samples assumed for ``arm`` before its own runs: what its siblings used."""
        pool, key = self._pool(arm), arm.key
        budget = self._pool_budget.get(pool, 0.0) - self._runs.get(key, 0.0) * arm.n
        if budget <= 1e-9:
            return float(arm.n)
        used = self._pool_used.get(pool, 0.0) - self._samples.get(key, 0.0)
        return arm.n * min(max(used / budget, 0.0), 1.0)

    def expected(self, arm: Arm, full_calls: int, per_call: int = 1) -> tuple[float, float]:
        """Expected ``(samples, calls)`` of one run of ``arm``.

        Args:
            arm: The arm.
            full_calls: Calls a run of all ``n`` samples makes.
            per_call: Samples one call of the arm's backend can return.
        """
        if not getattr(arm.strategy, "stops_early", False):
            return float(arm.n), float(full_calls)
        key = arm.key
        runs = self._runs.get(key, 0.0)
        prior = self.prior_samples(arm)
        w = self.prior_weight
        samples = (self._samples.get(key, 0.0) + w * prior) / (runs + w)
        if runs <= 0:
            return samples, calls_for(arm, samples, per_call)
        prior_calls = calls_for(arm, prior, per_call)
        return samples, (self._calls.get(key, 0.0) + w * prior_calls) / (runs + w)

    def observe(self, arm: Arm, samples: int, calls: int) -> None:
        """Learn from one run of ``arm`` that drew ``samples`` samples in ``calls`` calls.

        Nothing is learned without calls (``calls <= 0``): such figures come from a cost
        or a record, not from a run whose samples were counted.
        """
        if not getattr(arm.strategy, "stops_early", False) or samples <= 0 or calls <= 0:
            return
        key, pool = arm.key, self._pool(arm)
        used = float(min(samples, arm.n))
        self._runs[key] = self._runs.get(key, 0.0) + 1.0
        self._samples[key] = self._samples.get(key, 0.0) + used
        self._calls[key] = self._calls.get(key, 0.0) + float(calls)
        self._pool_used[pool] = self._pool_used.get(pool, 0.0) + used
        self._pool_budget[pool] = self._pool_budget.get(pool, 0.0) + float(arm.n)

    # -- persistence ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-ready learned state."""
        return {"runs": dict(self._runs), "samples": dict(self._samples),
                "calls": dict(self._calls), "pool_used": dict(self._pool_used),
                "pool_budget": dict(self._pool_budget)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state` (an empty mapping restores nothing learned)."""
        def read(name: str) -> dict[str, float]:
            return {str(k): float(v) for k, v in state.get(name, {}).items()}

        self._runs, self._samples, self._calls = read("runs"), read("samples"), read("calls")
        self._pool_used, self._pool_budget = read("pool_used"), read("pool_budget")
