"""Reading a decision log back: raw records, and decisions joined with their feedback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import LogFileError
from .fit import Outcome
from .log import Record, rotated_files

__all__ = ["EventSource", "LoggedCandidates", "LoggedDecision", "read_events", "read_log"]


@dataclass(frozen=True, eq=False)
class LoggedCandidates:
    """The figures of every arm a logged decision considered (index-aligned arrays).

    Attributes:
        arms: Arm keys.
        quality: Estimated quality.
        width: Standard width of the estimate.
        ucb: Upper confidence bound.
        cost: Predicted USD.
        score: ``ucb - λ·cost``.
        pruned: True where the arm was pruned.
    """

    arms: tuple[str, ...]
    quality: np.ndarray
    width: np.ndarray
    ucb: np.ndarray
    cost: np.ndarray
    score: np.ndarray
    pruned: np.ndarray

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> LoggedCandidates:
        """Parse the ``candidates`` columns of a decision record."""
        def col(key: str) -> np.ndarray:
            return np.asarray(raw[key], dtype=float)

        return cls(tuple(str(a) for a in raw["arm"]), col("quality"), col("width"),
                   col("ucb"), col("cost"), col("score"), np.asarray(raw["pruned"], dtype=bool))

    def index(self, arm: str) -> int:
        """Position of ``arm`` among the candidates."""
        return self.arms.index(arm)


@dataclass(frozen=True)
class LoggedDecision(Outcome):
    """A logged decision joined with its feedback: an :class:`~uniscale.Outcome` (so
    :meth:`Router.fit` learns it) plus what the router knew when it decided.

    The outcome fields: ``arm`` (the chosen arm's key), ``score`` (the feedback; None
    for a decision without feedback, read with ``pending=True``), ``features`` (None
    unless logged with ``log_features=True``), ``cost`` (observed USD: the feedback's,
    else the served request's), ``context``, ``input_tokens``; prompts are never logged.

    Attributes:
        id: Decision id.
        time: When it was decided (seconds since the epoch).
        propensity: Probability the logging policy had of choosing :attr:`arm`.
        cost_weight: λ of the decision.
        predicted_cost: Predicted USD of the chosen arm.
        exploration: The router's exploration (``"ucb"``, ``"softmax"``, ...).
        candidates: Every arm's figures (None in a log without them).
        feedback_time: When the feedback was learned (None: no feedback yet).
        features_digest: Digest of the features when they were not logged.
    """

    id: str = ""
    time: float = 0.0
    propensity: float = 1.0
    cost_weight: float = 0.0
    predicted_cost: float = 0.0
    exploration: str = "ucb"
    candidates: LoggedCandidates | None = None
    feedback_time: float | None = None
    features_digest: str | None = None

    @property
    def answered(self) -> bool:
        """Whether the decision received feedback."""
        return self.feedback_time is not None


def _lines(path: Path, last: bool) -> Iterator[tuple[int, Record]]:
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if last and i == len(lines) and not line.endswith("\n"):
                return  # a line cut short by a crash while it was written
            raise LogFileError(
                f"{path}:{i} is not a JSON record: pass a decision log written by "
                "uniscale (log= of the Router)") from None
        if not isinstance(rec, dict) or "type" not in rec or "id" not in rec:
            raise LogFileError(f"{path}:{i} is not a decision-log record (no type or id)")
        yield i, rec


class EventSource(Protocol):
    """A log kept elsewhere than in files (e.g. :class:`~uniscale.logredis.RedisStreamLog`)."""

    def events(self) -> Iterator[Record]:
        """Every record, oldest first."""
        ...


LogSource = str | os.PathLike[str] | EventSource


def read_events(path: LogSource) -> Iterator[Record]:
    """Every record of a log as a dict, oldest first, rotated files included.

    Args:
        path: The log file, or a source with an ``events()`` method (a Redis stream).

    Raises:
        LogFileError: No such log, or a line is not a record.
    """
    if not isinstance(path, (str, os.PathLike)):
        yield from path.events()
        return
    files = rotated_files(path)
    if not files:
        raise LogFileError(f"no decision log at {path} (nor rotated {path}.1, ...)")
    for n, file in enumerate(files):
        for _, rec in _lines(file, last=n == len(files) - 1):
            yield rec


def _decision(rec: Record, feedback: Record | None, cost: float | None) -> LoggedDecision:
    features = rec.get("features")
    raw = rec.get("candidates")
    score = None if feedback is None else feedback.get("score")
    observed = feedback.get("cost") if feedback is not None else None
    return LoggedDecision(
        arm=str(rec["arm"]), score=score,  # type: ignore[arg-type]
        features=None if features is None else np.asarray(features, dtype=float),
        cost=observed if observed is not None else cost,
        context=rec.get("context"), input_tokens=rec.get("input_tokens"),
        id=str(rec["id"]), time=float(rec["time"]),
        propensity=float(rec.get("propensity", 1.0)),
        cost_weight=float(rec.get("cost_weight", 0.0)),
        predicted_cost=float(rec.get("predicted_cost", 0.0)),
        exploration=str(rec.get("exploration", "ucb")),
        candidates=None if raw is None else LoggedCandidates.from_record(raw),
        feedback_time=None if feedback is None else float(feedback["time"]),
        features_digest=rec.get("features_digest"),
    )


def read_log(path: LogSource, *, pending: bool = False) -> Iterator[LoggedDecision]:
    """The decisions of a log joined with their feedback and observed cost, in order.

    ``router.fit(read_log(path))`` warm starts a router from the decisions that got
    feedback (the log must have been written with ``log_features=True``).

    Args:
        path: The log file (its rotated parts ``path.1``, ``path.2``, ... are read first),
            or a source with an ``events()`` method such as
            :class:`~uniscale.logredis.RedisStreamLog`.
        pending: Also yield decisions that never got feedback (``score`` None).

    Raises:
        LogFileError: No such log, or a line is not a record.
    """
    decisions: dict[str, Record] = {}
    feedback: dict[str, Record] = {}
    costs: dict[str, float] = {}
    for rec in read_events(path):
        kind, rid = rec["type"], str(rec["id"])
        if kind == "decision":
            if rid in decisions:
                raise LogFileError(f"decision {rid} appears twice in {path}")
            decisions[rid] = rec
        elif kind == "feedback":
            feedback[rid] = rec
        elif kind == "cost":
            costs[rid] = float(rec["cost"])
    for rid, rec in decisions.items():
        fb = feedback.get(rid)
        if fb is None and not pending:
            continue
        yield _decision(rec, fb, costs.get(rid))
