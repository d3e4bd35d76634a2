"""What a decision log says: requests, spend, quality, arm mix, λ, feedback rate and delay.

:func:`summarize_log` computes the figures of ``uniscale report LOG``;
:func:`log_timeline` the series its plot draws (cumulative spend and quality, arm
shares over time, λ).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .logread import LoggedDecision

__all__ = ["ArmFigures", "LogSummary", "Timeline", "log_timeline", "summarize_log"]


@dataclass(frozen=True)
class ArmFigures:
    """One arm's part of the traffic.

    Attributes:
        arm: Arm key.
        requests: Decisions that chose it.
        share: Share of all decisions.
        mean_score: Mean feedback score (NaN: none yet).
        mean_cost: Mean USD (observed where known, else predicted).
    """

    arm: str
    requests: int
    share: float
    mean_score: float
    mean_cost: float


@dataclass(frozen=True)
class LogSummary:
    """The figures of a decision log.

    Attributes:
        requests: Decisions.
        answered: Decisions that got feedback.
        feedback_rate: ``answered / requests``.
        spend: USD, observed where known, else predicted.
        observed: Decisions whose real cost is known.
        predicted_spend: USD the router predicted.
        mean_score: Mean feedback score.
        mean_cost: ``spend / requests``.
        mean_reward: Mean of ``score − λ·cost`` over answered decisions (λ as logged).
        arms: Every chosen arm, most used first.
        models: Share of decisions per model.
        lam_first: λ of the first decision.
        lam_last: λ of the last decision.
        lam_mean: Mean λ.
        delay_median: Median seconds from decision to feedback (NaN: no feedback).
        delay_p90: 90th percentile of that delay.
        mean_propensity: Mean propensity of the chosen arms (1: deterministic).
        exploration: Exploration names seen in the log.
        start: Time of the first decision.
        end: Time of the last decision.
    """

    requests: int
    answered: int
    feedback_rate: float
    spend: float
    observed: int
    predicted_spend: float
    mean_score: float
    mean_cost: float
    mean_reward: float
    arms: tuple[ArmFigures, ...]
    models: dict[str, float]
    lam_first: float
    lam_last: float
    lam_mean: float
    delay_median: float
    delay_p90: float
    mean_propensity: float
    exploration: tuple[str, ...]
    start: float
    end: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (NaN becomes None)."""
        return _clean(asdict(self))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _mean(values: Sequence[float] | np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _spent(r: LoggedDecision) -> float:
    return float(r.cost) if r.cost is not None else r.predicted_cost


def summarize_log(records: Iterable[LoggedDecision]) -> LogSummary:
    """The figures of a log's decisions (read them with ``read_log(path, pending=True)``)."""
    recs = list(records)
    n = len(recs)
    answered = [r for r in recs if r.score is not None]
    cost = np.array([_spent(r) for r in recs])
    lam = np.array([r.cost_weight for r in recs])
    delays = np.array([r.feedback_time - r.time for r in answered
                       if r.feedback_time is not None])
    by_arm: dict[str, list[LoggedDecision]] = {}
    for r in recs:
        by_arm.setdefault(str(r.arm), []).append(r)
    arms = tuple(sorted(
        (ArmFigures(arm, len(rs), len(rs) / n,
                    _mean([float(r.score) for r in rs if r.score is not None]),
                    _mean([_spent(r) for r in rs]))
         for arm, rs in by_arm.items()),
        key=lambda a: (-a.requests, a.arm)))
    models = Counter(str(r.arm).rsplit("/", 2)[0] for r in recs)
    reward = [float(r.score) - r.cost_weight * _spent(r) for r in answered
              if r.score is not None]
    return LogSummary(
        requests=n, answered=len(answered), feedback_rate=len(answered) / n if n else 0.0,
        spend=float(cost.sum()), observed=sum(r.cost is not None for r in recs),
        predicted_spend=float(sum(r.predicted_cost for r in recs)),
        mean_score=_mean([float(r.score) for r in answered if r.score is not None]),
        mean_cost=_mean(cost), mean_reward=_mean(reward), arms=arms,
        models={m: c / n for m, c in models.most_common()},
        lam_first=float(lam[0]) if n else float("nan"),
        lam_last=float(lam[-1]) if n else float("nan"), lam_mean=_mean(lam),
        delay_median=float(np.median(delays)) if len(delays) else float("nan"),
        delay_p90=float(np.quantile(delays, 0.9)) if len(delays) else float("nan"),
        mean_propensity=_mean([r.propensity for r in recs]),
        exploration=tuple(sorted({r.exploration for r in recs})),
        start=recs[0].time if n else float("nan"), end=recs[-1].time if n else float("nan"),
    )


@dataclass(frozen=True)
class Timeline:
    """Series over the decisions of a log, in order.

    Attributes:
        spend: ``(N,)`` cumulative USD.
        quality: ``(N,)`` running mean score of the answered decisions so far (NaN
            before the first).
        lam: ``(N,)`` λ of each decision.
        window_end: ``(W,)`` request count at the end of each window.
        shares: Arm (or ``"other"``) → ``(W,)`` share of the window's decisions.
    """

    spend: np.ndarray
    quality: np.ndarray
    lam: np.ndarray
    window_end: np.ndarray
    shares: dict[str, np.ndarray]


def log_timeline(records: Iterable[LoggedDecision], *, windows: int = 20,
                 top: int = 7) -> Timeline:
    """Cumulative spend and quality, λ, and the shares of the ``top`` arms per window."""
    recs = list(records)
    n = len(recs)
    spend = np.cumsum([_spent(r) for r in recs]) if n else np.zeros(0)
    scores = np.array([np.nan if r.score is None else float(r.score) for r in recs])
    seen = np.cumsum(~np.isnan(scores))
    total = np.cumsum(np.nan_to_num(scores))
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
    lam = np.array([r.cost_weight for r in recs])
    edges = np.unique(np.linspace(0, n, min(windows, max(n, 1)) + 1).round().astype(int))
    keys = [str(r.arm) for r in recs]
    leaders = [a for a, _ in Counter(keys).most_common(top)]
    shares: dict[str, np.ndarray] = {}
    for name in [*leaders, "other"]:
        row = []
        for lo, hi in itertools.pairwise(edges):
            part = keys[lo:hi]
            hits = (sum(k not in leaders for k in part) if name == "other"
                    else part.count(name))
            row.append(hits / max(len(part), 1))
        if name != "other" or any(row):
            shares[name] = np.array(row)
    return Timeline(spend, quality, lam, edges[1:], shares)
