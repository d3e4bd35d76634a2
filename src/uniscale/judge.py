"""A judge: a model behind the :class:`~uniscale.backends.Backend` protocol that grades samples."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from .extract import extract_answer
from .types import Message, Request, Usage

__all__ = ["Judge"]


@dataclass
class _Spend:
    """Running total of what a judge spent (shared by the judge's copies)."""

    judgements: int = 0
    usd: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Judge:
    """A scorer that asks a backend model to grade each sample.

    Its tokens are charged to the arm at ``price``; the cost model predicts a judgement's
    cost as the mean of the judgements seen so far (``expected_cost`` before any).

    Args:
        backend: The judge model's backend (any :class:`~uniscale.backends.Backend`).
        price: Its price (:class:`~uniscale.Price`), so that the judge's tokens are
            charged to the arm.
        template: Prompt with ``{prompt}`` and ``{answer}``; the judge must reply with a
            number from 0 to 10 somewhere in its text.
        expected_cost: USD one judgement is expected to cost before any was seen.
    """

    backend: Any
    price: Any = None
    template: str = (
        "Rate how well the answer solves the task, from 0 (wrong) to 10 (perfect). "
        "Reply with the number only.\n\nTask:\n{prompt}\n\nAnswer:\n{answer}"
    )
    expected_cost: float = 0.0
    _spend: _Spend = field(default_factory=_Spend, compare=False, repr=False)

    @property
    def cost_per_judgement(self) -> float:
        """USD one judgement is expected to cost: the observed mean, else ``expected_cost``."""
        spend = self._spend
        return spend.usd / spend.judgements if spend.judgements else self.expected_cost

    def spent(self) -> tuple[int, float]:
        """``(judgements, usd)``: what this judge (and its copies) has spent so far."""
        with self._spend.lock:
            return self._spend.judgements, self._spend.usd

    def restore_spent(self, judgements: int, usd: float) -> bool:
        """Take over a saved ``(judgements, usd)`` if this judge has judged nothing yet.

        Returns whether it did: a judge that has judged already holds what it spent (the
        same object still in use after a save and load in one process), so it is kept.
        """
        with self._spend.lock:
            if self._spend.judgements:
                return False
            self._spend.judgements, self._spend.usd = int(judgements), float(usd)
            return True

    def judge(self, prompt: str, text: str) -> tuple[float, Usage, float]:
        """Score one sample; returns ``(score in [0, 1], usage, cost_usd)``."""
        request = Request((Message("user", self.template.format(prompt=prompt, answer=text)),))
        completion = self.backend.complete(request)
        reply = completion.samples[0].text if completion.samples else ""
        number = extract_answer(reply)
        try:
            value = float(number) if number is not None else 0.0
        except ValueError:
            value = 0.0
        score = min(max(value / 10.0, 0.0), 1.0) if math.isfinite(value) else 0.0
        cost = self.price.cost(completion.usage) if self.price is not None else 0.0
        with self._spend.lock:
            self._spend.judgements += 1
            self._spend.usd += cost
        return score, completion.usage, cost
