"""The decision log: one JSON line per decision and per feedback, appended as they happen.

A :class:`Router` given ``log=`` hands every decision (with the figures of every arm it
considered, λ, the predicted cost and the propensity of the chosen arm), every feedback
and every observed cost to a :class:`DecisionSink`. :class:`DecisionLog` writes them as
JSON lines to a file (flushed after each line, safe with several threads, rotated by
size: ``decisions.jsonl`` becomes ``decisions.jsonl.1``, then ``.2``, ... and nothing is
deleted) or passes each record to a callable. :func:`uniscale.read_log` reads them back.

Records (``type`` names the kind):

- ``decision``: ``time, id, arm, propensity, cost_weight, predicted_cost, input_tokens,
  exploration, candidates`` (columns ``arm, quality, width, ucb, cost, score, pruned``),
  ``context``, and ``features`` (with ``log_features=True``) or ``features_digest``.
- ``feedback``: ``time, id, score, cost`` (``cost`` null when not given).
- ``cost``: ``time, id, cost`` — the USD a served decision really used.

One file belongs to one process; replicas log to files of their own, or all to one
Redis stream (:class:`~uniscale.logredis.RedisStreamLog`, read by the same reader).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigurationError
from .results import Decision

__all__ = ["DecisionLog", "DecisionSink", "RecordSink", "decision_record", "open_log",
           "rotated_files"]

Record = dict[str, Any]
LogTarget = str | os.PathLike[str] | Callable[[Record], Any]


@runtime_checkable
class DecisionSink(Protocol):
    """Where a router reports what it decided and learned (the seam of ``log=``)."""

    def decision(self, decision: Decision, features: np.ndarray,
                 context: Mapping[str, Any] | None, exploration: str = "ucb") -> None:
        """A decision was made on ``features`` (the featurizer's vector) by a router
        exploring with ``exploration``."""

    def feedback(self, decision_id: str, score: float, cost: float | None) -> None:
        """Feedback was learned for ``decision_id``."""

    def cost(self, decision_id: str, cost: float) -> None:
        """A served decision really cost ``cost`` USD."""

    def close(self) -> None:
        """Release the file (or whatever the sink holds)."""


def _digest(x: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(x, dtype=float).tobytes(),
                           digest_size=8).hexdigest()


def decision_record(decision: Decision, features: np.ndarray,
                    context: Mapping[str, Any] | None, *, log_features: bool,
                    exploration: str, now: float) -> Record:
    """The JSON-ready record of one decision."""
    rec: Record = {
        "type": "decision", "time": now, "id": decision.id, "arm": decision.arm.key,
        "propensity": decision.propensity, "cost_weight": decision.cost_weight,
        "predicted_cost": decision.predicted_cost, "input_tokens": decision.input_tokens,
        "exploration": exploration,
    }
    t = decision.table
    if t is not None:
        rec["candidates"] = {
            "arm": [a.key for a in t.arms], "quality": t.mean.tolist(),
            "width": t.width.tolist(), "ucb": t.ucb.tolist(), "cost": t.cost.tolist(),
            "score": t.score.tolist(), "pruned": (~t.keep).tolist(),
        }
    rec["context"] = dict(context) if context else None
    if log_features:
        rec["features"] = np.asarray(features, dtype=float).tolist()
    else:
        rec["features_digest"] = _digest(features)
    return rec


def rotated_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a log, oldest first: ``path.1``, ``path.2``, ..., then ``path``."""
    base = Path(path)
    numbered = []
    if base.parent.is_dir():
        for item in base.parent.iterdir():
            suffix = item.name[len(base.name) + 1:]
            if item.name.startswith(base.name + ".") and suffix.isdigit():
                numbered.append((int(suffix), item))
    files = [p for _, p in sorted(numbered)]
    if base.exists():
        files.append(base)
    return files


class RecordSink:
    """A :class:`DecisionSink` that turns every event into a record for :meth:`write`.

    Args:
        log_features: Write each decision's feature vector (needed to warm start a
            router from the log with :meth:`Router.fit`); otherwise only a digest.
        clock: Wall-clock function (seconds since the epoch).
    """

    def __init__(self, *, log_features: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.log_features = bool(log_features)
        self.clock = clock

    def decision(self, decision: Decision, features: np.ndarray,
                 context: Mapping[str, Any] | None, exploration: str = "ucb") -> None:
        """Log a decision."""
        self.write(decision_record(decision, features, context,
                                   log_features=self.log_features,
                                   exploration=exploration, now=self.clock()))

    def feedback(self, decision_id: str, score: float, cost: float | None) -> None:
        """Log a feedback."""
        self.write({"type": "feedback", "time": self.clock(), "id": decision_id,
                    "score": score, "cost": cost})

    def cost(self, decision_id: str, cost: float) -> None:
        """Log an observed cost."""
        self.write({"type": "cost", "time": self.clock(), "id": decision_id, "cost": cost})

    def close(self) -> None:
        """Release what the sink holds (nothing here)."""

    def write(self, record: Record) -> None:
        """Store one record."""
        raise NotImplementedError


class DecisionLog(RecordSink):
    """Appends decision, feedback and cost records as JSON lines.

    Args:
        target: A file path (appended to; created with its folder) or a callable that
            receives each record as a dict.
        log_features: Write each decision's feature vector (needed to warm start a
            router from the log with :meth:`Router.fit`); otherwise only a digest.
        max_bytes: Rotate the file once it grows past this size (0: never).
        clock: Wall-clock function (seconds since the epoch).
    """

    def __init__(self, target: LogTarget, *, log_features: bool = False,
                 max_bytes: int = 64 * 2**20, clock: Callable[[], float] = time.time) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ConfigurationError(f"max_bytes must be a whole number >= 0, got {max_bytes!r}")
        super().__init__(log_features=log_features, clock=clock)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fn: Callable[[Record], Any] | None = None
        self.path: Path | None = None
        self._fh: Any = None
        if callable(target):
            self._fn = target
        elif isinstance(target, (str, os.PathLike)):
            self.path = Path(target)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        else:
            raise ConfigurationError(
                f"log= must be a file path or a callable taking a dict, got "
                f"{type(target).__name__}")

    def close(self) -> None:
        """Close the file (records written afterwards raise)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    # -- writing -----------------------------------------------------------------------
    def write(self, record: Record) -> None:
        """Append one record (one line), flushed; rotates the file when it is full."""
        if self._fn is not None:
            with self._lock:
                self._fn(record)
            return
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if self._fh is None:
                raise ConfigurationError(f"the decision log {self.path} is closed")
            self._fh.write(line)
            self._fh.flush()
            if self.max_bytes and self._fh.tell() >= self.max_bytes:
                self._rotate()

    def _rotate(self) -> None:
        assert self.path is not None
        self._fh.close()
        existing = rotated_files(self.path)[:-1]
        last = int(existing[-1].name.rsplit(".", 1)[1]) if existing else 0
        os.replace(self.path, self.path.with_name(f"{self.path.name}.{last + 1}"))
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open


def open_log(log: LogTarget | DecisionSink | None, *, log_features: bool = False
             ) -> DecisionSink | None:
    """The sink of a router's ``log=`` setting (None: no logging)."""
    if log is None:
        return None
    if isinstance(log, DecisionSink):
        return log
    return DecisionLog(log, log_features=log_features)
