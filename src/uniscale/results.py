"""What the router returns: decisions and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .arms import Arm
from .explain import CandidateTable, explain
from .types import Sample, Usage

__all__ = ["Candidate", "Decision", "Result"]


@dataclass(frozen=True)
class Candidate:
    """One arm the router considered for a request, with the figures it was judged on.

    Attributes:
        arm: The arm.
        quality: Estimated quality on this request (the model's mean).
        width: Width of the bound (shrunk by the arm's feedbacks under ``alpha_decay``);
            ``ucb = quality + alpha * width``.
        ucb: Upper confidence bound of the quality.
        predicted_cost: USD the arm is expected to cost on this request.
        score: The objective's value, ``ucb - cost_weight * predicted_cost`` (what the
            router maximised; for a pruned arm, the value it would have had).
        pruned: Left out because a cheaper arm surely beats it.
    """

    arm: Arm
    quality: float
    width: float
    ucb: float
    predicted_cost: float
    score: float
    pruned: bool


@dataclass(frozen=True)
class Decision:
    """The router's choice for one request.

    Attributes:
        id: Pass it to :meth:`Router.feedback`.
        arm: The chosen arm.
        predicted_cost: USD the arm is expected to cost on this request.
        quality: Estimated quality of the arm on this request.
        ucb: Upper confidence bound of that quality.
        cost_weight: λ used, in quality per USD.
        input_tokens: Estimated input tokens of the request.
        pruned: Keys of arms left out because a cheaper arm surely beats them.
        propensity: Probability that the policy which decided picks this arm on this
            request (1.0 for a deterministic choice; tie-breaks and stochastic
            exploration make it smaller).
        table: The figures of every arm considered (see :attr:`candidates`).
    """

    id: str
    arm: Arm
    predicted_cost: float
    quality: float
    ucb: float
    cost_weight: float
    input_tokens: int
    pruned: tuple[str, ...] = ()
    propensity: float = 1.0
    table: CandidateTable | None = field(default=None, repr=False, compare=False)

    @cached_property
    def candidates(self) -> tuple[Candidate, ...]:
        """Every arm considered for this request, in the order they were offered."""
        t = self.table
        if t is None:
            return ()
        return tuple(
            Candidate(arm, float(q), float(w), float(u), float(c), float(s), not bool(k))
            for arm, q, w, u, c, s, k in zip(t.arms, t.mean.tolist(), t.width.tolist(),
                                              t.ucb.tolist(), t.cost.tolist(),
                                              t.score.tolist(), t.keep.tolist(), strict=True)
        )

    @property
    def chosen(self) -> Candidate | None:
        """The chosen arm's candidate (``None`` when the figures were not kept)."""
        t = self.table
        return None if t is None else self.candidates[t.pick]

    def figures(self) -> dict[str, Any]:
        """JSON-ready figures of the chosen arm, for traces and response metadata."""
        c = self.chosen
        out: dict[str, Any] = {"quality": self.quality, "ucb": self.ucb,
                               "predicted_cost": self.predicted_cost,
                               "cost_weight": self.cost_weight, "propensity": self.propensity}
        if c is not None:
            out.update(width=c.width, score=c.score)
        return out

    def explain(self) -> str:
        """A short text naming the chosen arm, its figures and the runner-up's."""
        return explain(self.arm, self.cost_weight, self.table, self.quality, self.ucb,
                       self.predicted_cost, self.propensity)


@dataclass(frozen=True)
class Result:
    """A served request.

    Attributes:
        text: The answer returned to the caller.
        decision: The decision that produced it (a fallback's, if the first arm failed).
        samples: Every successful sample.
        chosen: Index of ``text``'s sample in ``samples``.
        usage: Usage summed over all calls (scorer included).
        cost: Observed USD.
        answer: The voted answer (self-consistency), else ``None``.
        agreement: Vote share, best score, or 1.0 for a single sample.
        errors: Messages of samples or arms that failed on the way.
        failed_arms: Arms that failed before the one that served.
    """

    text: str
    decision: Decision
    samples: tuple[Sample, ...]
    chosen: int
    usage: Usage
    cost: float
    answer: str | None = None
    agreement: float = 1.0
    errors: tuple[str, ...] = ()
    failed_arms: tuple[Arm, ...] = field(default=())

    @property
    def sample(self) -> Sample:
        """The returned sample."""
        return self.samples[self.chosen]
