"""How the router picks among the arms it scored, and the probability of its pick.

``"ucb"`` (default) takes the best score ``UCB − λ·cost`` (ties broken at random):
deterministic, so a log of it supports no off-policy estimate of another policy.
``"softmax"`` draws an arm with probability ``∝ exp(score / temperature)``;
``"thompson"`` samples each arm's quality from ``N(mean, (alpha·width)²)`` and takes the
best sampled ``quality − λ·cost``. Both log real propensities, which
:mod:`uniscale.ope` needs. Pruned arms are never picked.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigurationError

__all__ = ["EXPLORATIONS", "THOMPSON_DRAWS", "check_alpha_decay", "check_exploration", "choose",
           "decayed_width", "softmax"]

EXPLORATIONS = ("ucb", "softmax", "thompson")

THOMPSON_DRAWS = 256
"""Independent draws that estimate the propensity of a Thompson-sampling pick (at least
one hit is counted, so it is never 0)."""


def check_exploration(exploration: str, temperature: float) -> None:
    """Raise a clear error for an unknown exploration or a bad temperature."""
    if exploration not in EXPLORATIONS:
        raise ConfigurationError(
            f"exploration must be one of {list(EXPLORATIONS)}, got {exploration!r}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
            and temperature > 0):
        raise ConfigurationError(
            f"temperature must be a number > 0 (in units of quality), got {temperature!r}")


def check_alpha_decay(alpha_decay: float | None) -> float | None:
    """``alpha_decay`` as a float (or ``None``), or a clear error."""
    if alpha_decay is None:
        return None
    if (isinstance(alpha_decay, bool) or not isinstance(alpha_decay, (int, float))
            or not math.isfinite(alpha_decay) or alpha_decay <= 0):
        raise ConfigurationError(
            f"alpha_decay must be a number of feedbacks > 0 (or None: no decay), "
            f"got {alpha_decay!r}")
    return float(alpha_decay)


def decayed_width(width: np.ndarray, counts: np.ndarray, slots: np.ndarray | None,
                  alpha_decay: float) -> np.ndarray:
    """Widths of the exploration bonus: ``width / sqrt(1 + n_a / alpha_decay)``.

    ``n_a`` is the (discounted) number of feedbacks arm ``a`` learned from, so an arm's
    bonus shrinks with its own evidence even where its width cannot: with text
    features every prompt points in a new direction, and the width of a well-tried arm
    stays near ``sqrt(d_eff / n_a)`` (0.2-0.4 after hundreds of feedbacks), larger than
    the reward gaps between good arms.

    Args:
        width: Standard width per arm (of the arms in ``slots``).
        counts: Feedbacks per policy slot.
        slots: The slots ``width`` belongs to (``None``: every slot, in order).
        alpha_decay: Feedbacks after which the bonus is ``1/sqrt(2)`` of the width.
    """
    n = counts if slots is None else counts[slots]
    return np.asarray(width / np.sqrt(1.0 + n / alpha_decay))


def softmax(score: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities ``∝ exp(score / temperature)``; ``-inf`` scores get 0."""
    live = np.isfinite(score)
    z = np.where(live, score, -np.inf) / temperature
    p = np.exp(z - z[live].max())
    return np.asarray(p / p.sum())


def choose(exploration: str, score: np.ndarray, mean: np.ndarray, width: np.ndarray,
           alpha: float, lam_cost: np.ndarray, temperature: float,
           rng: np.random.Generator) -> tuple[int, float]:
    """The picked arm and its propensity.

    Args:
        exploration: ``"ucb"``, ``"softmax"`` or ``"thompson"``.
        score: ``UCB − λ·cost`` per arm, ``-inf`` where pruned.
        mean: Estimated quality per arm.
        width: Standard width per arm.
        alpha: Exploration width of the bound.
        lam_cost: ``λ·cost`` per arm.
        temperature: Softmax temperature.
        rng: The router's generator.
    """
    if exploration == "softmax":
        p = softmax(score, temperature)
        cdf = np.cumsum(p)
        pick = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), len(p) - 1)
        while p[pick] == 0.0:  # a zero-width step at the draw: take the next live arm
            pick -= 1
        return pick, float(p[pick])
    if exploration == "thompson":
        live = np.isfinite(score)
        z = rng.standard_normal((THOMPSON_DRAWS + 1, len(score)))
        sampled = mean + alpha * width * z - lam_cost
        sampled[:, ~live] = -np.inf
        wins = np.argmax(sampled, axis=1)
        pick = int(wins[0])  # the draw that decides; the others estimate its propensity
        hits = max(int(np.count_nonzero(wins[1:] == pick)), 1)
        return pick, hits / THOMPSON_DRAWS
    top = np.flatnonzero(score >= score.max() - 1e-12)
    pick = int(top[0] if len(top) == 1 else rng.choice(top))
    return pick, 1.0 / len(top)
