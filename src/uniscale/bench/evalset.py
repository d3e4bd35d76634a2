"""The offline eval set: every train prompt run once through every arm.

This is what a user with an eval set has before going live (full information on the
train prompts). It warm-starts the learners (``--warm-start``) and trains the
``trained-router`` baseline; both see the same replayed draws of a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .env import ReplayEnv
from .sidecontext import SideContext

__all__ = ["EvalSet", "outcome_records", "run_eval_set"]


@dataclass(frozen=True)
class EvalSet:
    """One replayed outcome per (train prompt, arm that can serve it).

    Attributes:
        prompt: ``(N,)`` prompt index (row of the table).
        arm: ``(N,)`` arm index.
        score: ``(N,)`` score of the aggregated answer.
        cost: ``(N,)`` USD of the call.
        input_tokens: ``(N,)`` input tokens billed (once per call).
        output_tokens: ``(N,)`` output tokens of all drawn samples.
    """

    prompt: np.ndarray
    arm: np.ndarray
    score: np.ndarray
    cost: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.prompt)

    def where(self, arms: np.ndarray) -> EvalSet:
        """The records of the arms selected by a boolean mask over arms."""
        keep = arms[self.arm]
        return EvalSet(self.prompt[keep], self.arm[keep], self.score[keep], self.cost[keep],
                       self.input_tokens[keep], self.output_tokens[keep])


def run_eval_set(env: ReplayEnv, prompts: Sequence[int] | np.ndarray,
                 rng: np.random.Generator) -> EvalSet:
    """Replay every prompt of ``prompts`` through every arm that can serve it.

    Args:
        env: The replay environment.
        prompts: Table rows of the eval set (the train split).
        rng: Generator of the draws.
    """
    t = env.table
    cols: dict[str, list[Any]] = {k: [] for k in ("p", "a", "s", "c", "i", "o")}
    for p in np.asarray(prompts, dtype=np.int64):
        for a in np.flatnonzero(env.allowed[p]):
            g, n = int(env.arm_pair[a]), int(env.arm_n[a])
            rows = env.draw(int(p), g, n, rng)
            k = env.chosen(int(p), g, rows)
            cols["p"].append(int(p))
            cols["a"].append(int(a))
            cols["s"].append(float(t.score[p, g, k]))
            cols["c"].append(env.cost(int(p), g, rows))
            calls = 1 if env.batch_input else n
            cols["i"].append(int(t.input_tokens[p, g]) * calls)
            cols["o"].append(int(t.output_tokens[p, g, rows].sum()))
    return EvalSet(np.array(cols["p"], dtype=np.int64), np.array(cols["a"], dtype=np.int64),
                   np.array(cols["s"], dtype=float), np.array(cols["c"], dtype=float),
                   np.array(cols["i"], dtype=np.int64), np.array(cols["o"], dtype=np.int64))


def outcome_records(evalset: EvalSet, env: ReplayEnv, features: np.ndarray,
                    side: SideContext | None = None) -> list[Any]:
    """The eval set as :class:`uniscale.Outcome` records for :meth:`Router.fit`.

    Each record carries the prompt, its feature vector, the billed usage and the USD,
    as a user's eval-set run would, and with ``side`` the prompt's ``context=``.
    """
    from .. import Outcome, Usage

    t = env.table
    calls = 1 if env.batch_input else None
    return [
        Outcome(arm=env.arms[a], score=float(s), request=str(t.prompts[p]),
                features=features[p], cost=float(c),
                context=None if side is None else side.of(p),
                usage=Usage(int(i), int(o), calls=calls if calls is not None
                            else int(env.arm_n[a])))
        for p, a, s, c, i, o in zip(evalset.prompt, evalset.arm, evalset.score, evalset.cost,
                                    evalset.input_tokens, evalset.output_tokens, strict=True)
    ]
