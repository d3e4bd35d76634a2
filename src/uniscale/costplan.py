"""Predicted cost of many arms as one vector expression, rebuilt only when its inputs change.

The cost model's prediction for an arm is affine in the request's input tokens once the
prices, the calls each arm makes and the learned token means are fixed:
``(price_in · calls · max(tokens + extra, 0) + price_out · out_tokens · samples) / 1e6``
(+ a scorer's cost). :class:`CostPlan` holds those per-arm coefficients for one list of
arms; :meth:`CostPlan.current` tells whether what they were computed from (prices,
samples per call, learned token sums) is unchanged, compared dictionary by dictionary in
one tuple comparison (the arms themselves are the same objects: plans are kept per list
of arm identities).
The figures that can change without touching those (context-aware output and template
tokens, early-stopping sample counts, a judge's learned cost) are read on every
prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .arms import Arm

if TYPE_CHECKING:
    from .cost import CostModel

__all__ = ["CostPlan"]


def _inputs(model: CostModel) -> tuple[Any, ...]:
    return (model.prices, model.samples_per_call, model._tokens, model._count,
            model._extra_in, model._extra_calls, model.prior_output_tokens,
            model.prior_weight)


class CostPlan:
    """Per-arm cost coefficients of ``arms`` under ``model``'s current figures."""

    def __init__(self, model: CostModel, arms: Sequence[Arm]) -> None:
        self.arms = list(arms)
        self.snapshot = tuple(dict(v) if isinstance(v, dict) else v for v in _inputs(model))
        self.keys = sorted({model._key(a) for a in arms})
        where = {key: i for i, key in enumerate(self.keys)}
        self.key_index = np.array([where[model._key(a)] for a in arms], dtype=np.intp)
        first = {model._key(a): a for a in arms}
        self.key_out = np.array([model.expected_output_tokens(first[k]) for k in self.keys])
        self.extra = np.array([model._extra_input(model._key(a)) for a in arms])
        prices = [model.price(a.model) for a in arms]
        self.price_in = np.array([p.input for p in prices])
        self.price_out = np.array([p.output for p in prices])
        self.early = [i for i, a in enumerate(arms)
                      if getattr(a.strategy, "stops_early", False)]
        self.scored = [i for i, a in enumerate(arms)
                       if hasattr(a.strategy, "expected_scorer_cost")]
        counts = [self._counts(model, a) for a in arms]
        self.samples = np.array([c[0] for c in counts])
        self.calls = np.array([c[1] for c in counts])
        # the affine form when nothing is read per prediction: usd = slope·tokens' + base
        self.slope = self.price_in * self.calls / 1_000_000
        self.base = self.price_out * self.key_out[self.key_index] * self.samples / 1_000_000
        self.no_extra = not self.extra.any()  # max(tokens + 0, 0) is tokens itself

    @staticmethod
    def _counts(model: CostModel, arm: Arm) -> tuple[float, float]:
        return model.sample_counts.expected(arm, model.calls(arm),
                                            model.samples_per_call.get(arm.model, 1))

    def current(self, model: CostModel, arms: Sequence[Arm]) -> bool:
        """Whether this plan still describes ``arms`` under ``model``."""
        return self.arms == arms and self.snapshot == _inputs(model)

    def predict(self, model: CostModel, input_tokens: int, x: np.ndarray | None) -> np.ndarray:
        """Predicted USD of every arm (see :meth:`CostModel.predict_all`)."""
        if not self.early and not self.scored and (
                x is None or (model.output_model.dim is None
                              and model.input_model.dim is None)):
            # nothing learned per context or per run: the cached affine form
            if self.no_extra and input_tokens >= 0:
                return self.slope * float(input_tokens) + self.base
            return self.slope * np.maximum(input_tokens + self.extra, 0.0) + self.base
        key_out, extra = self.key_out, self.extra
        if x is not None:
            learned = np.asarray(model.output_model.predict(self.keys, x), dtype=float)
            key_out = np.where(np.isfinite(learned), learned, key_out)
            if model.input_model.dim is not None:
                template = np.asarray(model.input_model.predict(self.keys, x),
                                      dtype=float)[self.key_index]
                extra = np.where(np.isfinite(template), template, extra)
        samples, calls = self.samples, self.calls
        if self.early:
            samples, calls = samples.copy(), calls.copy()
            early = [self.arms[i] for i in self.early]
            samples[self.early], calls[self.early] = model.sample_counts.expected_all(
                early, [model.calls(a) for a in early],
                [model.samples_per_call.get(a.model, 1) for a in early], x)
        out = (self.price_in * np.maximum(input_tokens + extra, 0.0) * calls
               + self.price_out * key_out[self.key_index] * samples) / 1_000_000
        for i in self.scored:
            out[i] += self.arms[i].strategy.expected_scorer_cost * samples[i]  # type: ignore[attr-defined]
        return out
