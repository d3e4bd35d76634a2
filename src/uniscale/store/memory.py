"""In-memory store of decisions waiting for feedback, with a time-to-live."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import DuplicateFeedbackError, ExpiredDecisionError, UnknownDecisionError

__all__ = ["FIELDS", "Pending", "PendingStore", "pending_state"]

FIELDS = ("id", "arm", "x", "predicted_cost", "charged", "created", "observed_cost",
          "input_tokens")
"""The fields of :class:`Pending`, in order."""
_fields = operator.attrgetter(*FIELDS)


@dataclass
class Pending:
    """A decision waiting for its score.

    Attributes:
        id: Decision id.
        arm: Key of the chosen arm.
        x: Context vector the decision was made on.
        predicted_cost: USD predicted at decision time.
        charged: USD charged to the budget pacer so far.
        created: Wall-clock time of the decision (seconds since the epoch).
        observed_cost: USD really spent, once known.
        input_tokens: Input tokens the request was estimated at.
    """

    id: str
    arm: str
    x: np.ndarray
    predicted_cost: float
    charged: float
    created: float
    observed_cost: float | None = None
    input_tokens: int = 0


def duplicate_error(decision_id: str) -> DuplicateFeedbackError:
    """The error for a second feedback on one decision."""
    return DuplicateFeedbackError(
        f"decision {decision_id!r} already received feedback; each decision takes one score"
    )


def expired_error(decision_id: str, ttl: float) -> ExpiredDecisionError:
    """The error for feedback that arrived after the time-to-live."""
    return ExpiredDecisionError(
        f"decision {decision_id!r} expired: feedback must arrive within {ttl:g} s "
        "(raise feedback_ttl= on the Router to wait longer)"
    )


class PendingStore:
    """Decisions awaiting feedback, forgotten after ``ttl`` seconds.

    Ids that received feedback are remembered (up to ``remember`` of them) so that a
    repeated feedback is reported as such rather than as an unknown id.

    At most ``max_pending`` decisions wait at once: a new decision beyond that evicts the
    oldest waiting one (the one closest to expiry), whose feedback then raises
    ``UnknownDecisionError`` saying so; :attr:`evicted` counts them. Memory stays under
    ``max_pending × (8 × dim + 600)`` bytes (17 MB for 10,000 decisions at dim 144) plus
    200 bytes per remembered id (``remember``): 36 MiB with the defaults, against 31 MiB
    measured after 1e5 decisions never fed back (``python benchmarks/save_blocking.py``).

    Args:
        ttl: Seconds a decision waits for feedback.
        clock: Wall-clock function.
        remember: How many answered or expired ids to remember.
        max_pending: Most decisions waiting for feedback at once.
    """

    def __init__(
        self, ttl: float, clock: Callable[[], float], *, remember: int = 100_000,
        max_pending: int = 10_000,
    ) -> None:
        self.ttl = float(ttl)
        self.clock = clock
        self.remember = remember
        self.max_pending = int(max_pending)
        self.evicted = 0
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._done: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def __iter__(self) -> Iterator[Pending]:
        return iter(list(self._pending.values()))

    def put(self, item: Pending) -> int:
        """Hold ``item`` until feedback or expiry; returns how many it evicted (0 or 1)."""
        self._expire()
        self._pending[item.id] = item
        evicted = 0
        while len(self._pending) > self.max_pending:
            oldest, _ = self._pending.popitem(last=False)
            self._mark(oldest, "evicted")
            evicted += 1
        self.evicted += evicted
        return evicted

    def _mark(self, decision_id: str, why: str) -> None:
        self._done[decision_id] = why
        while len(self._done) > self.remember:
            self._done.popitem(last=False)

    def _expire(self) -> None:
        now = self.clock()
        while self._pending:
            first = next(iter(self._pending.values()))
            if now - first.created <= self.ttl:
                break
            self._pending.popitem(last=False)
            self._mark(first.id, "expired")

    def get(self, decision_id: str) -> Pending:
        """The pending decision ``decision_id``.

        Raises:
            DuplicateFeedbackError: Feedback for it was already given.
            ExpiredDecisionError: Its time-to-live has passed.
            UnknownDecisionError: The id was never issued here.
        """
        self._expire()
        item = self._pending.get(decision_id)
        if item is not None:
            return item
        why = self._done.get(decision_id)
        if why == "answered":
            raise duplicate_error(decision_id)
        if why == "expired":
            raise expired_error(decision_id, self.ttl)
        if why == "evicted":
            raise UnknownDecisionError(
                f"decision {decision_id!r} was evicted: more than {self.max_pending} "
                "decisions were waiting for feedback; raise max_pending= on the Router or "
                "give feedback sooner")
        if why == "failed":
            raise UnknownDecisionError(
                f"decision {decision_id!r} failed on its backend and was served by a fallback;"
                " give feedback to the decision of the result you received"
            )
        raise UnknownDecisionError(
            f"unknown decision id {decision_id!r}: pass the id of a Decision this router "
            "issued (decision.id), and load saved state before giving feedback after a restart"
        )

    def close(self, decision_id: str, why: str = "answered", *,
              reward: float | None = None) -> Pending | None:
        """Claim a pending decision: remove it for good and return it.

        The claim comes first: the caller learns from the returned decision only after
        it succeeded, so a decision is never learned twice.

        Args:
            decision_id: The decision.
            why: ``"answered"`` (feedback) or ``"failed"`` (its backend failed).
            reward: The score being learned (shared stores journal it with the claim).

        Returns:
            The decision (never ``None`` here; a shared store returns ``None`` when an
            earlier attempt of this replica already recorded the claim).

        Raises:
            DuplicateFeedbackError, ExpiredDecisionError, UnknownDecisionError: As
                :meth:`get`.
        """
        self.get(decision_id)
        item = self._pending.pop(decision_id)
        self._mark(decision_id, why)
        return item

    def update(self, item: Pending) -> None:
        """Replace a waiting decision by ``item`` (same id); nothing when it left."""
        if item.id in self._pending:
            self._pending[item.id] = item

    def snapshot(self) -> list[Pending]:
        """The waiting decisions, in O(1) per item under the router's lock: stored values
        are never changed in place (:meth:`update` replaces them), so sharing them is
        safe; :func:`pending_state` turns them into JSON-ready form later."""
        return list(self._pending.values())

    def state(self) -> list[dict[str, object]]:
        """JSON-ready pending decisions."""
        return pending_state(self.snapshot())

    def set_state(self, items: list[dict[str, object]]) -> None:
        """Restore :meth:`state`."""
        self._pending.clear()
        for raw in items:
            cost = raw.get("observed_cost")
            self._pending[str(raw["id"])] = Pending(
                id=str(raw["id"]), arm=str(raw["arm"]),
                x=np.asarray(raw["x"], dtype=float),
                predicted_cost=float(raw["predicted_cost"]),  # type: ignore[arg-type]
                charged=float(raw["charged"]),  # type: ignore[arg-type]
                created=float(raw["created"]),  # type: ignore[arg-type]
                observed_cost=None if cost is None else float(cost),  # type: ignore[arg-type]
                input_tokens=int(raw.get("input_tokens", 0)),  # type: ignore[call-overload]
            )
        while len(self._pending) > self.max_pending:  # saved with a larger bound
            oldest, _ = self._pending.popitem(last=False)
            self._mark(oldest, "evicted")
            self.evicted += 1


def pending_state(items: list[Pending]) -> list[dict[str, object]]:
    """JSON-ready form of pending decisions."""
    out: list[dict[str, object]] = []
    for item in map(_fields, items):
        row: dict[str, object] = dict(zip(FIELDS, item, strict=True))
        row["x"] = item[2].tolist()
        out.append(row)
    return out
