"""How many samples (and backend calls) an early-stopping arm is expected to use.

An arm whose strategy stops early (``SelfConsistency(early_stop=...)``,
``BestOfN(threshold=...)``) draws at most ``n`` samples; what it really draws depends on
how soon the vote is decided, and that depends on the request: an easy question is
unanimous after two samples, a hard one splits the vote until ``n``. The cost model
consults a :class:`SampleCountModel` so that ``decide`` prices such an arm at the samples
it is expected to use on *this* request, learned from the runs it has observed, instead of
at ``n``: a running mean per arm, and per arm a ridge model in log space on the request's
context vector (the :class:`~uniscale.tokens.OutputTokenModel` regression, with its
prequential guard: it answers only while it has predicted the arm's runs better than the
running mean).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .arms import Arm
from .tokens import OutputTokenModel

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

    Runs observed with a context vector also teach a per-arm regression of the samples
    on the context; for a request whose context is given, once that regression has
    predicted the arm's runs better than the mean, it gives the samples (between 1 and
    ``n``) and the calls scale with them.

    Args:
        prior_weight: Pseudo-count of the prior, in runs.
    """

    def __init__(self, prior_weight: float = 1.0) -> None:
        self.prior_weight = float(prior_weight)
        self.regression = OutputTokenModel(1.0, prior_weight=2.0, prefix="smp")
        self._waves: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
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

    def expected(self, arm: Arm, full_calls: int, per_call: int = 1,
                 x: np.ndarray | None = None) -> tuple[float, float]:
        """Expected ``(samples, calls)`` of one run of ``arm``.

        Args:
            arm: The arm.
            full_calls: Calls a run of all ``n`` samples makes.
            per_call: Samples one call of the arm's backend can return.
            x: The request's context vector (the figures become this request's).
        """
        samples, calls = self.expected_all([arm], [full_calls], [per_call], x)
        return float(samples[0]), float(calls[0])

    def expected_all(self, arms: Sequence[Arm], full_calls: Sequence[int],
                     per_call: Sequence[int], x: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`expected` for several arms at once (one regression product)."""
        out = [self._mean(a, f, c) for a, f, c in zip(arms, full_calls, per_call, strict=True)]
        samples = np.array([o[0] for o in out], dtype=float)
        calls = np.array([o[1] for o in out], dtype=float)
        if x is None or self.regression.dim is None:
            return samples, calls
        early = [i for i, a in enumerate(arms) if getattr(a.strategy, "stops_early", False)]
        if not early:
            return samples, calls
        learned = self.regression.predict([arms[i].key for i in early], x)
        for i, value in zip(early, learned, strict=True):
            if math.isfinite(value):
                arm = arms[i]
                most = self._calls_for(arm, arm.n, per_call[i])
                mine = min(max(float(value), 1.0), float(arm.n))
                calls[i] = min(max(calls[i] * mine / samples[i], 1.0), most)
                samples[i] = mine
        return samples, calls

    def _calls_for(self, arm: Arm, samples: float, per_call: int) -> float:
        """:func:`calls_for` from the arm's waves, tabulated once per arm and call size."""
        key = (arm.key, max(1, int(per_call)))
        table = self._waves.get(key)
        if table is None:
            ends, calls = [], []
            drawn = made = 0.0
            for wave in arm.strategy.waves(arm.n):
                drawn += wave
                made += -(-wave // key[1])
                ends.append(drawn)
                calls.append(made)
            if len(self._waves) >= 4096:
                self._waves.clear()
            table = self._waves[key] = (ends, calls)
        ends, calls = table
        if samples <= 1e-9 or not ends:
            return 1.0
        waves = min(bisect_left(ends, samples - 1e-9) + 1, len(ends))
        return float(max(calls[waves - 1], 1.0))

    def _mean(self, arm: Arm, full_calls: int, per_call: int) -> tuple[float, float]:
        if not getattr(arm.strategy, "stops_early", False):
            return float(arm.n), float(full_calls)
        key = arm.key
        runs = self._runs.get(key, 0.0)
        prior = self.prior_samples(arm)
        w = self.prior_weight
        samples = (self._samples.get(key, 0.0) + w * prior) / (runs + w)
        if runs <= 0:
            return samples, self._calls_for(arm, samples, per_call)
        prior_calls = self._calls_for(arm, prior, per_call)
        return samples, (self._calls.get(key, 0.0) + w * prior_calls) / (runs + w)

    def observe(self, arm: Arm, samples: int, calls: int,
                x: np.ndarray | None = None) -> None:
        """Learn from one run of ``arm`` that drew ``samples`` samples in ``calls`` calls.

        Nothing is learned without calls (``calls <= 0``): such figures come from a cost
        or a record, not from a run whose samples were counted.

        Args:
            arm: The arm.
            samples: Samples the run drew.
            calls: Backend calls it made.
            x: The request's context vector (teaches the per-context regression).
        """
        if not getattr(arm.strategy, "stops_early", False) or samples <= 0 or calls <= 0:
            return
        key, pool = arm.key, self._pool(arm)
        used = float(min(samples, arm.n))
        if x is not None and (self.regression.dim is None or len(x) == self.regression.dim):
            self.regression.observe(key, np.asarray(x, dtype=float), used,
                                    prior=self._mean(arm, 1, 1)[0])
        self._runs[key] = self._runs.get(key, 0.0) + 1.0
        self._samples[key] = self._samples.get(key, 0.0) + used
        self._calls[key] = self._calls.get(key, 0.0) + float(calls)
        self._pool_used[pool] = self._pool_used.get(pool, 0.0) + used
        self._pool_budget[pool] = self._pool_budget.get(pool, 0.0) + float(arm.n)

    # -- persistence ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-ready learned state (the regression's arrays: :meth:`arrays`)."""
        return {"runs": dict(self._runs), "samples": dict(self._samples),
                "calls": dict(self._calls), "pool_used": dict(self._pool_used),
                "pool_budget": dict(self._pool_budget),
                "regression": self.regression.state()[0]}

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays of the per-context regression (names start with ``smp_``)."""
        return self.regression.state()[1]

    def set_state(self, state: Mapping[str, Any],
                  arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Restore :meth:`state` and :meth:`arrays` (an empty mapping restores nothing
        learned; a state without the regression restores the means only)."""
        def read(name: str) -> dict[str, float]:
            return {str(k): float(v) for k, v in state.get(name, {}).items()}

        regression = OutputTokenModel(1.0, prior_weight=2.0, prefix="smp")
        if state.get("regression") and arrays is not None:
            regression.set_state(dict(state["regression"]), dict(arrays))
        self._runs, self._samples, self._calls = read("runs"), read("samples"), read("calls")
        self._pool_used, self._pool_budget = read("pool_used"), read("pool_budget")
        self.regression = regression
