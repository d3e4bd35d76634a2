"""Implicit rewards: learn from a strategy's own confidence when no feedback arrives.

A served result carries a confidence of its own: the vote share of self-consistency, the
best score of best-of-n under a verifier. When the user sends no score for a decision
within a delay, :class:`ImplicitRewards` teaches the bandit that confidence instead, with
a lower weight than explicit feedback. If explicit feedback arrives later, the implicit
observation is taken back out of the statistics (an exact weighted downdate) and the
explicit score is learned as usual, so each decision counts once, with its real score.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigurationError, UniScaleError
from .results import Result

if TYPE_CHECKING:
    from .router import Router

__all__ = ["Calibration", "ImplicitRewards", "agreement_reward", "as_implicit"]

RewardFn = Callable[[Result], "float | None"]
"""Maps a served result to a reward in ``[0, 1]``, or ``None`` when it has no opinion."""


def agreement_reward(result: Result) -> float | None:
    """The vote share (or best verifier score) of a multi-sample result, else ``None``.

    A single sample carries no agreement, so it gives no implicit reward.
    """
    if len(result.samples) < 2:
        return None
    value = float(result.agreement)
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else None


CALIBRATION_EDGES = (0.4, 0.6, 0.8, 1.0)
"""Upper edges of the confidence bins of :class:`Calibration` (the last bin: exactly 1)."""


class Calibration:
    """How often answers of a given confidence turned out right, from explicit scores.

    Vote shares are not probabilities (on the replay tables a unanimous vote is right
    85-90% of the time, a 50% vote about 35%); the implicit reward of a confidence is the
    mean explicit score of the decisions that had a confidence in the same bin, shrunk
    towards the confidence itself with ``prior`` pseudo-observations.

    Args:
        prior: Pseudo-count of the uncalibrated prior in each bin.
    """

    def __init__(self, prior: float = 4.0) -> None:
        self.prior = float(prior)
        self.total = np.zeros(len(CALIBRATION_EDGES) + 1)
        self.count = np.zeros(len(CALIBRATION_EDGES) + 1)
        self.confidence = np.zeros(len(CALIBRATION_EDGES) + 1)

    @staticmethod
    def bin(confidence: float) -> int:
        """Bin of a confidence in ``[0, 1]``."""
        if confidence >= 1.0:
            return len(CALIBRATION_EDGES)
        return next(i for i, edge in enumerate(CALIBRATION_EDGES) if confidence < edge)

    def observe(self, confidence: float, score: float) -> None:
        """An explicit score arrived for a decision of this confidence."""
        b = self.bin(confidence)
        self.total[b] += score
        self.count[b] += 1.0
        self.confidence[b] += confidence

    def __call__(self, confidence: float) -> float:
        """Calibrated reward of ``confidence``."""
        b = self.bin(confidence)
        return float((self.total[b] + self.prior * confidence) / (self.count[b] + self.prior))


@dataclass
class _Entry:
    id: str
    slot_key: str
    x: np.ndarray
    reward: float
    due_time: float
    due_request: int
    learned_scale: float = 0.0  # the policy's prior scale when learned (0: not yet)
    learned_weight: float = 0.0  # the weight it was learned with


class ImplicitRewards:
    """Learns a result's own confidence as a reward when explicit feedback is late.

    Args:
        reward: ``"agreement"`` (:func:`agreement_reward`) or a function of the
            :class:`~uniscale.Result` returning a reward in ``[0, 1]`` or ``None``.
        weight: Weight of an implicit observation relative to explicit feedback (which
            weighs 1), in ``(0, 1]``.
        delay: Seconds (of the router's clock) to wait for explicit feedback.
        delay_requests: Or: requests to wait (the implicit reward is learned when this
            many later decisions were made); both may be given, the first reached wins.
        calibrate: Learn the reward as the explicit scores that decisions of the same
            confidence received (:class:`Calibration`) instead of the raw confidence.
    """

    def __init__(self, reward: str | RewardFn = "agreement", *, weight: float = 0.3,
                 delay: float | None = 300.0, delay_requests: int | None = None,
                 calibrate: bool = False) -> None:
        if reward == "agreement":
            self.reward: RewardFn = agreement_reward
        elif callable(reward):
            self.reward = reward
        else:
            raise ConfigurationError(
                f"implicit_reward must be 'agreement' or a function of the Result, got "
                f"{reward!r}")
        if not (isinstance(weight, (int, float)) and 0.0 < weight <= 1.0):
            raise ConfigurationError(
                f"implicit reward weight must be in (0, 1] (explicit feedback weighs 1), "
                f"got {weight!r}")
        if delay is None and delay_requests is None:
            raise ConfigurationError("give the implicit reward a delay= (seconds) or "
                                     "delay_requests= (later requests) to wait for feedback")
        if delay is not None and not (isinstance(delay, (int, float)) and delay >= 0):
            raise ConfigurationError(f"implicit delay must be seconds >= 0, got {delay!r}")
        if delay_requests is not None and (isinstance(delay_requests, bool) or not isinstance(
                delay_requests, int) or delay_requests < 0):
            raise ConfigurationError(
                f"implicit delay_requests must be a whole number >= 0, got {delay_requests!r}")
        self.weight = float(weight)
        self.delay = delay
        self.delay_requests = delay_requests
        self.requests = 0
        self.calibration = Calibration() if calibrate else None
        self.confidence: OrderedDict[str, float] = OrderedDict()
        self.waiting: OrderedDict[str, _Entry] = OrderedDict()
        self.learned: OrderedDict[str, _Entry] = OrderedDict()
        self.stats = {"learned": 0, "replaced": 0, "dropped": 0}

    # -- hooks the router calls --------------------------------------------------------
    def record(self, router: Router, result: Result) -> None:
        """Remember a served result's implicit reward until its delay passes."""
        value = self.reward(result)
        if value is None or not math.isfinite(value):
            return
        decision = result.decision
        try:
            pending = router.pending.get(decision.id)
        except UniScaleError:  # already answered or expired: nothing to stand in for
            return
        now = router.pending.clock()
        due_time = math.inf if self.delay is None else now + self.delay
        due_request = (self.requests + self.delay_requests if self.delay_requests is not None
                       else 2**62)
        confidence = min(max(float(value), 0.0), 1.0)
        self.waiting[decision.id] = _Entry(decision.id, pending.arm, pending.x, confidence,
                                           due_time, due_request)
        if self.calibration is not None:
            self.confidence[decision.id] = confidence
            while len(self.confidence) > 100_000:  # decisions that never got a score
                self.confidence.popitem(last=False)
        self.release(router, new_request=False)

    def release(self, router: Router, *, new_request: bool = True, force: bool = False
                ) -> int:
        """Learn every implicit reward whose delay has passed; returns how many.

        Args:
            router: The router whose policy learns.
            new_request: Count one more request towards ``delay_requests``.
            force: Learn every waiting reward now.
        """
        if new_request:
            self.requests += 1
        now = router.pending.clock()
        due = [e for e in self.waiting.values()
               if force or e.due_time <= now or e.due_request <= self.requests]
        ready = []
        for entry in due:
            del self.waiting[entry.id]
            try:
                router.pending.get(entry.id)  # explicit feedback came, or it expired
            except UniScaleError:
                self.stats["dropped"] += 1
                continue
            ready.append(entry)
        if not ready:
            return 0
        if self.calibration is not None:
            for entry in ready:
                entry.reward = self.calibration(entry.reward)
        policy = router.policy
        policy.add_batch(np.array([policy.slot(e.slot_key) for e in ready]),
                         np.stack([e.x for e in ready]),
                         np.array([e.reward for e in ready]),
                         np.full(len(ready), self.weight))
        for entry in ready:
            entry.learned_scale = float(policy.prior_scale)
            entry.learned_weight = self.weight
            self.learned[entry.id] = entry
        self.stats["learned"] += len(ready)
        self._forget_old(router)
        return len(ready)

    def explicit(self, router: Router, decision_id: str, score: float | None = None) -> None:
        """Explicit feedback arrived: drop the waiting reward or take the learned one out.

        With ``calibrate``, the score teaches the calibration of the decision's confidence.
        """
        self.waiting.pop(decision_id, None)
        confidence = self.confidence.pop(decision_id, None)
        if self.calibration is not None and confidence is not None and score is not None:
            self.calibration.observe(confidence, score)
        entry = self.learned.pop(decision_id, None)
        if entry is None:
            return
        policy = router.policy
        decayed = entry.learned_weight * float(policy.prior_scale) / entry.learned_scale
        policy.add_batch(np.array([policy.slot(entry.slot_key)]), entry.x[None, :],
                         np.array([entry.reward]), np.array([-decayed]))
        self.stats["replaced"] += 1

    def _forget_old(self, router: Router) -> None:
        """Learned entries whose decision can no longer take feedback are not kept."""
        while self.learned:
            first = next(iter(self.learned))
            try:
                router.pending.get(first)
                return
            except UniScaleError:
                del self.learned[first]

    def config(self) -> dict[str, Any]:
        """JSON description (the reward function itself is not saved)."""
        return {"weight": self.weight, "delay": self.delay,
                "delay_requests": self.delay_requests,
                "calibrate": self.calibration is not None,
                "reward": "agreement" if self.reward is agreement_reward else "callable"}

    # -- persistence -------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metadata, arrays)``: the settings, the rewards still waiting for their delay,
        the learned ones that later explicit feedback would replace, and the calibration.
        """
        entries = [*self.waiting.values(), *self.learned.values()]
        rows = [{"id": e.id, "slot_key": e.slot_key, "reward": e.reward,
                 "due_time": e.due_time if math.isfinite(e.due_time) else None,
                 "due_request": e.due_request, "learned_scale": e.learned_scale,
                 "learned_weight": e.learned_weight} for e in entries]
        meta: dict[str, Any] = {
            **self.config(), "requests": self.requests, "stats": dict(self.stats),
            "waiting": rows[:len(self.waiting)], "learned": rows[len(self.waiting):],
            "confidence": dict(self.confidence)}
        if self.calibration is not None:
            meta["calibration"] = {"prior": self.calibration.prior,
                                   "total": self.calibration.total.tolist(),
                                   "count": self.calibration.count.tolist(),
                                   "confidence": self.calibration.confidence.tolist()}
        arrays = {"implicit_x": np.stack([e.x for e in entries])} if entries else {}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   reward: ImplicitRewards | str | RewardFn | None = None
                   ) -> ImplicitRewards:
        """Rebuild from :meth:`state`.

        Args:
            meta: The saved metadata.
            arrays: The saved arrays (``implicit_x``).
            reward: What the code passes now: ``None`` keeps the saved settings (a saved
                callable reward must be passed again); a reward name or function replaces
                the reward function; an :class:`ImplicitRewards` replaces every setting.
                The waiting and learned rewards are kept either way (each learned one is
                taken back out with the weight it was learned with).

        Raises:
            ConfigurationError: The saved reward was a function and none was passed.
            ValueError: The saved state is inconsistent.
        """
        if isinstance(reward, ImplicitRewards):
            out = reward
        else:
            if reward is None and meta["reward"] != "agreement":
                raise ConfigurationError(
                    "the state was saved with an implicit_reward function, which is not "
                    "saved: pass implicit_reward= (the same function) to Router.load")
            out = cls("agreement" if reward is None else reward,
                      weight=float(meta["weight"]), delay=meta["delay"],
                      delay_requests=meta["delay_requests"], calibrate=bool(meta["calibrate"]))
        waiting, learned = list(meta["waiting"]), list(meta["learned"])
        xs = np.asarray(arrays.get("implicit_x", np.zeros((0, 0))), dtype=float)
        if len(xs) != len(waiting) + len(learned):
            raise ValueError("implicit reward contexts do not match their entries")
        entries = [_Entry(str(r["id"]), str(r["slot_key"]), xs[i].copy(), float(r["reward"]),
                          math.inf if r["due_time"] is None else float(r["due_time"]),
                          int(r["due_request"]), float(r["learned_scale"]),
                          float(r["learned_weight"]))
                   for i, r in enumerate([*waiting, *learned])]
        if any(not 0.0 <= e.reward <= 1.0 for e in entries) or any(
                e.learned_scale <= 0 or e.learned_weight <= 0 for e in entries[len(waiting):]):
            raise ValueError("implicit reward entries are out of range")
        out.requests = int(meta["requests"])
        out.stats = {k: int(v) for k, v in dict(meta["stats"]).items()}
        out.waiting = OrderedDict((e.id, e) for e in entries[:len(waiting)])
        out.learned = OrderedDict((e.id, e) for e in entries[len(waiting):])
        out.confidence = OrderedDict((str(k), float(v))
                                     for k, v in dict(meta["confidence"]).items())
        saved = meta.get("calibration")
        if out.calibration is not None and saved is not None:
            for name in ("total", "count", "confidence"):
                values = np.asarray(saved[name], dtype=float)
                if values.shape != out.calibration.total.shape:
                    raise ValueError("implicit reward calibration has the wrong size")
                setattr(out.calibration, name, values)
        return out


def as_implicit(value: ImplicitRewards | str | RewardFn | None) -> ImplicitRewards | None:
    """Read ``Router(implicit_reward=...)``: ``None``, ``"agreement"``, a function, or an
    :class:`ImplicitRewards`."""
    if value is None or isinstance(value, ImplicitRewards):
        return value
    return ImplicitRewards(value)
