"""Early stopping of self-consistency: draw samples in waves, stop once the vote is decided.

Three kinds of rule are offered. ``"decided"`` stops only when the answer a full run of
``n`` samples would return can no longer change, whatever the remaining samples say
(exact: it never changes the answer). ``"beta"`` and ``"dirichlet"`` are the posterior
rules of Adaptive-Consistency (Aggarwal et al. 2023): stop when the posterior probability
that the leading answer is the most likely one passes ``confidence``. ``"predictive"``
asks what the arm promises, the answer of ``n`` samples: stop when the posterior
predictive probability that the remaining samples leave the leader in front passes
``confidence`` (:func:`predictive_confidence`); with few samples left it stops sooner
than the Beta rule, with many left later. Every rule also stops when the vote is
decided, since further samples would then be spent for nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .errors import ConfigurationError
from .extract import vote_counts

__all__ = [
    "RULES",
    "EarlyStop",
    "as_early_stop",
    "beta_confidence",
    "dirichlet_confidence",
    "predictive_confidence",
    "vote_counts",
    "vote_is_decided",
]

RULES = ("decided", "beta", "dirichlet", "predictive")
"""Names of the stopping rules."""


def _leader(counts: Mapping[str, int], first: Mapping[str, int]) -> str:
    return max(counts, key=lambda a: (counts[a], -first[a]))


def vote_is_decided(answers: Sequence[str | None], remaining: int) -> bool:
    """Whether ``remaining`` more samples can no longer change the majority answer.

    The vote of :func:`~uniscale.extract.majority_vote` is used: the most votes win,
    ties go to the answer voted first. The leader ``a`` keeps the vote against a rival
    ``b`` (an answer already voted, or one not seen yet) even if every remaining sample
    votes ``b`` exactly when ``votes(a) > votes(b) + remaining``, or the two tie and ``a``
    was voted first. Before any vote nothing is decided, unless no sample remains.

    Args:
        answers: Extracted answers of the samples drawn so far, in draw order.
        remaining: Samples still to be drawn in a full run.
    """
    if remaining <= 0:
        return True
    counts, first = vote_counts(answers)
    if not counts:
        return False
    lead = _leader(counts, first)
    top = counts[lead]
    if top < remaining:  # an unseen answer could take every remaining vote and win
        return False
    return all(top > c + remaining or (top == c + remaining and first[lead] < first[b])
               for b, c in counts.items() if b != lead)


def _predictive(counts: Mapping[str, int], first: Mapping[str, int], remaining: int
                ) -> float:
    lead = _leader(counts, first)
    rivals = [b for b in counts if b != lead]
    if not rivals:
        return predictive_confidence(counts[lead], 0, remaining)
    rival = max(rivals, key=lambda b: (counts[b], -first[b]))
    return predictive_confidence(counts[lead], counts[rival], remaining,
                                 first[rival] < first[lead])


def _top_two(counts: Mapping[str, int]) -> tuple[int, int]:
    ordered = sorted(counts.values(), reverse=True)
    return ordered[0], (ordered[1] if len(ordered) > 1 else 0)


def beta_confidence(lead: int, second: int) -> float:
    """Posterior probability that the leading answer beats the runner-up.

    With a uniform prior, the leader's share ``p`` among the two top answers has the
    posterior ``Beta(lead + 1, second + 1)``; the value is ``P(p > 1/2)``, computed
    exactly as ``P(Binomial(lead + second + 1, 1/2) <= lead)``.

    Args:
        lead: Votes of the leading answer.
        second: Votes of the runner-up (0 when there is none).
    """
    trials = lead + second + 1
    below = sum(math.comb(trials, k) for k in range(lead + 1))
    return below / 2.0**trials


def predictive_confidence(lead: int, second: int, remaining: int,
                          second_first: bool = False) -> float:
    """Posterior predictive probability that the leader still wins after ``remaining``
    more samples.

    Only the leader and its strongest rival (the runner-up, or an answer not seen yet
    when there is none) are modelled, and every remaining sample is assumed to vote for
    one of the two (a pessimistic view for the leader: other answers would split the
    rival's votes). The leader's share among the two has the posterior
    ``Beta(lead + 1, second + 1)``; the leader's votes among the remaining samples are
    then Beta-binomial, and the leader loses when the rival ends with more votes (or as
    many, when the rival was voted first).

    Args:
        lead: Votes of the leading answer.
        second: Votes of the runner-up (0 when there is none).
        remaining: Samples still to be drawn in a full run.
        second_first: Whether the runner-up was voted before the leader.
    """
    if remaining <= 0:
        return 1.0
    alpha, beta = lead + 1.0, second + 1.0
    base = math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)
    lose = 0.0
    for x in range(remaining + 1):  # x of the remaining votes go to the leader
        rival, mine = second + remaining - x, lead + x
        if rival > mine or (second_first and rival == mine):
            lose += math.exp(math.lgamma(remaining + 1) - math.lgamma(x + 1)
                             - math.lgamma(remaining - x + 1) + math.lgamma(x + alpha)
                             + math.lgamma(remaining - x + beta)
                             - math.lgamma(remaining + alpha + beta) - base)
    return max(0.0, 1.0 - lose)


def dirichlet_confidence(counts: Sequence[int], draws: int = 4000) -> float:
    """Posterior probability that the leading answer is the most likely one.

    The answer shares have the posterior ``Dirichlet(counts + 1)``; the probability that
    the leader's share is the largest is estimated from ``draws`` posterior draws by a
    generator seeded from ``counts`` (the same counts always give the same value).

    Args:
        counts: Votes per distinct answer.
        draws: Posterior draws.
    """
    votes = sorted((int(c) for c in counts), reverse=True)
    if len(votes) <= 1:
        return 1.0 - 0.5 ** (votes[0] + 1) if votes else 0.0
    seed = int.from_bytes(hashlib.sha256(repr(votes).encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.asarray(votes, dtype=float) + 1.0, size=draws)
    return float(np.mean(np.argmax(shares, axis=1) == 0))


@dataclass(frozen=True)
class EarlyStop:
    """When a self-consistency arm stops drawing samples.

    Samples are drawn in waves: ``first_wave`` samples, then ``wave`` at a time, never
    more than the arm's ``n``. Each wave is asked of the backend as one call when it can
    return several samples (OpenAI's ``n``), else as concurrent calls. After every wave
    the rule looks at the votes so far.

    Attributes:
        rule: ``"decided"`` (stop only when the answer can no longer change), ``"beta"``
            (stop when the posterior probability that the leader beats the runner-up
            passes ``confidence``), ``"dirichlet"`` (... that the leader is the most
            likely of all answers seen) or ``"predictive"`` (... that the leader stays
            in front until the ``n``-th sample).
        confidence: Threshold of the posterior rules, in ``(0.5, 1)``.
        first_wave: Samples of the first wave (at least 2).
        wave: Samples of each later wave (at least 1).
    """

    rule: str = "beta"
    confidence: float = 0.95
    first_wave: int = 2
    wave: int = 1

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigurationError(
                f"EarlyStop rule must be one of {RULES}, got {self.rule!r}")
        if not (isinstance(self.confidence, (int, float)) and 0.5 < self.confidence < 1.0):
            raise ConfigurationError(
                f"EarlyStop confidence must be a probability in (0.5, 1), got "
                f"{self.confidence!r}; 0.95 is the usual choice")
        for name, low in (("first_wave", 2), ("wave", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(
                    f"EarlyStop {name} must be a whole number >= {low}, got {value!r}")

    @property
    def key(self) -> str:
        """Short name used in arm keys, e.g. ``"beta0.95"`` or ``"decided"``."""
        name = self.rule if self.rule == "decided" else f"{self.rule}{self.confidence:g}"
        if (self.first_wave, self.wave) != (2, 1):
            name += f"w{self.first_wave}.{self.wave}"
        return name

    def waves(self, n: int) -> list[int]:
        """Sizes of the waves of a run of at most ``n`` samples (the last one may be cut)."""
        sizes = [min(self.first_wave, n)]
        while sum(sizes) < n:
            sizes.append(min(self.wave, n - sum(sizes)))
        return sizes

    def should_stop(self, answers: Sequence[str | None], n: int) -> bool:
        """Whether to stop after the samples that gave ``answers`` (of at most ``n``)."""
        if vote_is_decided(answers, n - len(answers)):
            return True
        if self.rule == "decided":
            return False
        counts, first = vote_counts(answers)
        if not counts:
            return False
        if self.rule == "beta":
            return beta_confidence(*_top_two(counts)) >= self.confidence
        if self.rule == "predictive":
            return _predictive(counts, first, n - len(answers)) >= self.confidence
        return dirichlet_confidence(list(counts.values())) >= self.confidence

    def to_config(self) -> dict[str, Any]:
        """JSON description (see :func:`as_early_stop`)."""
        return {"rule": self.rule, "confidence": self.confidence,
                "first_wave": self.first_wave, "wave": self.wave}


def as_early_stop(value: EarlyStop | str | bool | Mapping[str, Any] | None
                  ) -> EarlyStop | None:
    """Read the ``early_stop=`` setting of a strategy.

    ``None``/``False``: no early stop; ``True``: ``EarlyStop()`` (the Beta rule at 0.95);
    a rule name; a mapping of :class:`EarlyStop` fields; or an :class:`EarlyStop`.
    """
    if value is None or value is False:
        return None
    if value is True:
        return EarlyStop()
    if isinstance(value, EarlyStop):
        return value
    if isinstance(value, str):
        return EarlyStop(rule=value)
    if isinstance(value, Mapping):
        known = {f.name for f in fields(EarlyStop)}
        unknown = sorted(repr(k) for k in value if k not in known)
        if unknown:
            raise ConfigurationError(
                f"early_stop has unknown fields {', '.join(unknown)}; uniscale.EarlyStop "
                f"takes {sorted(known)}")
        return EarlyStop(**dict(value))
    raise ConfigurationError(
        f"early_stop must be True, a rule name {RULES}, or uniscale.EarlyStop(...), got "
        f"{value!r}")
