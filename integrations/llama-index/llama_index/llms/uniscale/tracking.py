"""Crediting feedback to every routed call made inside a block of user code."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from uniscale.errors import DuplicateFeedbackError

__all__ = ["DecisionIndex", "Tracker", "active_trackers", "tracking"]

_ACTIVE: ContextVar[tuple[Tracker, ...]] = ContextVar("uniscale_llama_index_trackers", default=())


class Tracker:
    """The routed calls of one LLM made inside a ``with llm.track() as t:`` block.

    A query engine or an agent may call the LLM several times for one user turn;
    :meth:`feedback` gives the turn's score to each of those calls.

    Args:
        owner: The LLM whose calls are tracked (compared by identity).
        give: Function ``(decision_id, score) -> bool`` that records one feedback.
        context: Side features given to the router for every call made in the block
            (unless a call passes its own ``context=``); the innermost block's wins.
    """

    def __init__(self, owner: object, give: Callable[[str, float], bool],
                 context: Mapping[str, Any] | None = None) -> None:
        self.owner = owner
        self.context = dict(context) if context is not None else None
        self._give = give
        self._ids: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._credited: set[str] = set()
        self._lock = threading.Lock()

    @property
    def decision_ids(self) -> tuple[str, ...]:
        """Ids of the decisions made inside the block, in order."""
        with self._lock:
            return tuple(self._ids)

    @property
    def calls(self) -> tuple[dict[str, Any], ...]:
        """Routing facts of each call made inside the block (arm, model, cost, ...), in order.

        The same dicts as under ``additional_kwargs["uniscale"]`` of the responses; the cost
        of a stream is filled in when the stream ends.
        """
        with self._lock:
            return tuple(dict(c) for c in self._calls)

    def add(self, decision_id: str, info: dict[str, Any] | None = None) -> None:
        """Record one routed call (called by the LLM)."""
        with self._lock:
            self._ids.append(decision_id)
            self._calls.append(info if info is not None else {"decision_id": decision_id})

    def discard(self, decision_id: str) -> None:
        """Forget a call whose child failed (called by the LLM); it gets no feedback."""
        with self._lock:
            keep = [i for i, d in enumerate(self._ids) if d != decision_id]
            self._ids = [self._ids[i] for i in keep]
            self._calls = [self._calls[i] for i in keep]

    def feedback(self, score: float) -> int:
        """Give ``score`` (in ``[0, 1]``) to every call made in the block not yet credited.

        Calls that already received feedback (individually, or from a nested block) are
        skipped.

        Args:
            score: Quality of the block's outcome.

        Returns:
            How many decisions learned the score (0 when the block made no routed call).

        Raises:
            uniscale.InvalidScoreError: The score is NaN, infinite or out of range.
            uniscale.UnknownDecisionError: A decision expired before the feedback.
        """
        with self._lock:
            todo = [d for d in self._ids if d not in self._credited]
        learned = 0
        for decision_id in todo:
            with suppress(DuplicateFeedbackError):
                learned += bool(self._give(decision_id, score))
            with self._lock:
                self._credited.add(decision_id)
        return learned


def active_trackers(owner: object) -> tuple[Tracker, ...]:
    """The trackers of ``owner`` open in the current context (nested blocks included)."""
    return tuple(t for t in _ACTIVE.get() if t.owner is owner)


@contextmanager
def tracking(tracker: Tracker) -> Iterator[Tracker]:
    """Open ``tracker`` for the duration of the block; tasks started inside inherit it."""
    token = _ACTIVE.set((*_ACTIVE.get(), tracker))
    try:
        yield tracker
    finally:
        _ACTIVE.reset(token)


class DecisionIndex:
    """Bounded map from instrumentation span ids to decision ids (oldest forgotten first).

    Args:
        capacity: How many span ids to remember.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._map: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, span_id: str, decision_id: str) -> None:
        """Remember that the call in span ``span_id`` made decision ``decision_id``."""
        with self._lock:
            self._map[span_id] = decision_id
            self._map.move_to_end(span_id)
            while len(self._map) > self.capacity:
                self._map.popitem(last=False)

    def get(self, span_id: str) -> str | None:
        """The decision id of span ``span_id``, or ``None``."""
        with self._lock:
            return self._map.get(span_id)
