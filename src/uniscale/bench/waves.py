"""Replaying early-stopping arms: one draw order per request, consumed wave by wave.

:class:`~uniscale.bench.env.ReplayBackend` draws every call afresh, which is right for an
arm that asks for all its samples in one call. An early-stopping arm asks wave after wave;
its waves must continue one draw without replacement, so :class:`WaveReplayBackend` keeps
a permutation of the recorded samples per request (named by the request option
``replay_step``) and hands out the next ``n`` of it on every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np

from ..arms import Arm
from ..stopping import EarlyStop
from ..strategies import SelfConsistency
from ..types import Completion, Request, Sample, Usage
from .env import PROMPT_OPTION, ReplayBackend, ReplayEnv, replay_backends

__all__ = ["STEP_OPTION", "WaveReplayBackend", "adaptive_arms", "wave_backends"]

STEP_OPTION = "replay_step"
"""Key of :attr:`Request.options` naming the request a call belongs to."""


class WaveReplayBackend(ReplayBackend):
    """A replay backend whose calls for one request continue a single draw.

    Args:
        env: The environment.
        model: The model this backend plays.
        rng: Generator of the draws.
    """

    def __init__(self, env: ReplayEnv, model: str, rng: np.random.Generator) -> None:
        super().__init__(env, model, rng)
        self._draws: dict[tuple[int, int], tuple[np.ndarray, int]] = {}

    def complete(self, request: Request) -> Completion:
        """The next ``request.n`` samples of this request's draw (one call)."""
        env, t = self.env, self.env.table
        p = int(request.options[PROMPT_OPTION])
        g = env.pair(self.model, request.variant)
        key = (int(request.options[STEP_OPTION]), g)
        if key not in self._draws:
            self._draws = {k: v for k, v in self._draws.items() if k[0] == key[0]}
            self._draws[key] = (self.rng.permutation(int(t.counts[p, g])), 0)
        order, used = self._draws[key]
        rows = order[used:used + request.n]
        if len(rows) < request.n:
            raise ValueError(f"prompt {p} has {len(order)} samples of {t.pairs[g]}, "
                             f"{used + request.n} asked")
        self._draws[key] = (order, used + request.n)
        samples = tuple(Sample(t.answers[t.answer[p, g, k]] if t.answer[p, g, k] >= 0 else "",
                               Usage(0, int(t.output_tokens[p, g, k]), calls=0),
                               payload=(p, g, int(k))) for k in rows)
        usage = Usage(int(t.input_tokens[p, g]), int(t.output_tokens[p, g, rows].sum()),
                      calls=1)
        return Completion(samples, usage)


def adaptive_arms(env: ReplayEnv, rule: EarlyStop) -> list[Arm]:
    """The environment's arms, in order, with every self-consistency arm stopping early."""
    return [Arm(a.model, replace(a.strategy, early_stop=rule), a.n)
            if isinstance(a.strategy, SelfConsistency) and a.n > 1 else a for a in env.arms]


def wave_backends(env: ReplayEnv, models: Iterable[str], seed: int
                  ) -> Mapping[str, WaveReplayBackend]:
    """One :class:`WaveReplayBackend` per model, seeded as :func:`replay_backends` seeds."""
    return {m: WaveReplayBackend(env, m, b.rng)
            for m, b in replay_backends(env, models, seed).items()}
