"""What the router returns: decisions and results."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arms import Arm
from .types import Sample, Usage

__all__ = ["Decision", "Result"]


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
    """

    id: str
    arm: Arm
    predicted_cost: float
    quality: float
    ucb: float
    cost_weight: float
    input_tokens: int
    pruned: tuple[str, ...] = ()


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
