"""Saving and loading a router's state (the file format lives in :mod:`uniscale.persist`)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from .arms import Arm, ArmSpace
from .cost import Price
from .features import Featurizer
from .log import DecisionSink, LogTarget, open_log
from .objective import Objective
from .persist import load_router, snapshot_router, write_snapshot
from .store.memory import PendingStore

if TYPE_CHECKING:
    from .implicit import ImplicitRewards
    from .results import Result
    from .router import Router

__all__ = ["Persisting"]

SWITCH_INTERVAL = 0.0005
"""Seconds the interpreter lets a saving thread run before another thread may take over
(the default is 5 ms), while a save encodes and writes."""

_switch_lock = threading.Lock()
_switch_users = [0, 0.0]  # saves writing now, the interval they will restore


@contextmanager
def short_switches() -> Iterator[None]:
    """Shorten the interpreter's switch interval to :data:`SWITCH_INTERVAL` meanwhile.

    A save sleeps briefly every 0.2 ms of work (:func:`uniscale.store.file.breathe`) to
    hand the interpreter to a deciding thread; on a loaded machine that thread may wake
    up only after the save took the interpreter back, and then it would wait out the
    default 5 ms switch interval. An interval already shorter is kept; the previous one
    is restored when the last concurrent save ends.
    """
    with _switch_lock:
        if _switch_users[0] == 0:
            _switch_users[1] = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL, _switch_users[1]))
        _switch_users[0] += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users[0] -= 1
            if _switch_users[0] == 0:
                sys.setswitchinterval(_switch_users[1])


class Persisting:
    """The persistence half of :class:`~uniscale.Router` (a mixin: it holds no state)."""

    _lock: threading.RLock
    _save_lock: threading.Lock

    def save(self, path: str) -> None:
        """Save everything learned to ``path`` atomically (JSON, or NPZ for ``.npz``)."""
        with self._save_lock:  # saves in order; decide only waits for the snapshot
            with self._lock:
                snapshot = snapshot_router(cast("Router", self))
            with short_switches():
                write_snapshot(snapshot, path)  # in short pieces (store.file.breathe)

    @classmethod
    def load(cls, path: str, *, backends: Mapping[str, Any] | None = None,
             featurizer: Featurizer | None = None, arms: ArmSpace | Iterable[Arm] | None = None,
             clock: Callable[[], float] = time.time,
             prices: Mapping[str, Price] | None = None, objective: Objective | None = None,
             alpha: float | None = None, fallback: Sequence[Arm | str] | None = None,
             prune: bool | None = None, feedback_ttl: float | None = None,
             on_invalid_feedback: str | None = None,
             prior_output_tokens: float | None = None,
             max_pending: int | None = None,
             exploration: str | None = None, temperature: float | None = None,
             pending_store: PendingStore | None = None,
             implicit_reward: ImplicitRewards | str | Callable[[Result], float | None]
             | None = None,
             log: LogTarget | DecisionSink | None = None,
             log_features: bool = False) -> Router:
        """Load a router saved by :meth:`save`.

        Settings passed here win over the saved ones (``None`` keeps the saved value);
        the learned statistics are kept either way, and one warning on the ``uniscale``
        logger names every setting that differs from the file. So an application that
        builds its router from code can pass the same settings on every start.

        Args:
            path: The state file.
            backends: Backends to attach (needed by ``invoke``, not by ``decide``: the
                samples one call of each model returned and what each judge spent per
                judgement are saved, so a router loaded without backends decides as the
                one saved; a backend given here or later sets its model's figure).
            featurizer: Required when the state used a featurizer that cannot be rebuilt
                from its description (an :class:`EmbeddingFeaturizer`).
            arms: Required when arms carry callables (a ``BestOfN`` scorer); checked
                against the saved arm space.
            clock: Wall-clock function.
            prices: Price per model (replaces the saved prices).
            objective: :class:`Tradeoff` or :class:`Budget`; a learned Budget multiplier
                is kept when both are Budgets.
            alpha: Exploration width.
            fallback: Fallback arms (arms or arm keys).
            prune: Leave out dominated arms.
            feedback_ttl: Seconds a decision waits for feedback.
            on_invalid_feedback: ``"raise"`` or ``"ignore"``.
            prior_output_tokens: Output tokens per sample assumed before usage is seen.
            max_pending: Most decisions waiting for feedback at once.
            exploration: ``"ucb"``, ``"softmax"`` or ``"thompson"``.
            temperature: Softmax temperature, in units of quality.
            pending_store: Where decisions wait for feedback (not saved in the file).
            implicit_reward: As for :class:`Router` (``None`` keeps the saved settings; a
                saved reward function must be passed again). The implicit rewards waiting
                for their delay, and the learned ones later feedback replaces, are kept.
            log: Decision log of this process (a path, a callable or a sink; not saved
                in the file, like ``pending_store``).
            log_features: Write each decision's features to the log.

        Raises:
            StateFileError: Corrupt or truncated file.
            ArmSpaceMismatchError: ``arms`` differ from the saved arm space.
            FeaturizerMismatchError: ``featurizer`` differs from the saved one.
            ConfigurationError: A setting passed here is invalid.
        """
        settings = {"prices": prices, "objective": objective, "alpha": alpha,
                    "fallback": fallback, "prune": prune, "feedback_ttl": feedback_ttl,
                    "on_invalid_feedback": on_invalid_feedback,
                    "prior_output_tokens": prior_output_tokens, "max_pending": max_pending,
                    "implicit_reward": implicit_reward,
                    "exploration": exploration, "temperature": temperature}
        sink = open_log(log, log_features=log_features)  # a bad target fails first
        try:
            router = load_router(cast("type[Router]", cls), path, backends=backends,
                                 featurizer=featurizer, arms=arms, clock=clock,
                                 settings=settings, pending_store=pending_store)
        except BaseException:
            if sink is not None:
                sink.close()
            raise
        router.decision_log = sink
        return router
