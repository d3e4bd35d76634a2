"""The router: its settings, arms and components; deciding, learning, running and saving
live in :mod:`uniscale.decide`, :mod:`uniscale.learn`, :mod:`uniscale.invoking` and
:mod:`uniscale.saving`."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import validate
from .arms import Arm, ArmSpace
from .conservative import ConservativeGuard
from .context import ContextEncoder
from .cost import CostModel, Price
from .decide import decide_arms
from .errors import ConfigurationError, MissingBackendError
from .explore import check_alpha_decay, check_exploration
from .features import Featurizer, HashingFeaturizer
from .fit import Outcome, fit_router
from .implicit import ImplicitRewards, as_implicit
from .inputs import ArmSelector, context_of, select_arms
from .invoking import Invoking
from .learn import learn_feedback, learn_usage
from .log import DecisionSink, LogTarget, open_log
from .objective import Objective, Pacer, Tradeoff
from .policy.linucb import LinUCB
from .results import Decision, Result
from .saving import Persisting
from .store.memory import PendingStore
from .tune import TuneReport, tune_router
from .types import Message, Usage

__all__ = ["Router"]

class Router(Invoking, Persisting):
    """Chooses model and test-time compute per request and learns from feedback.

    Args:
        arms: The arms (an :class:`ArmSpace` or an iterable of :class:`Arm`).
        prices: :class:`Price` per model, USD per 1M tokens.
        objective: :class:`Tradeoff` or :class:`Budget`.
        backends: Backend per model; needed by :meth:`invoke`, not by :meth:`decide`.
        featurizer: Context featurizer (default ``HashingFeaturizer(ngrams=1)``: word
            bigrams point every prompt in a new direction, so widths never shrink).
        alpha: Exploration width of LinUCB. Smaller values (0.3-0.5) waste less on short
            streams with many arms but may settle on a worse arm after unlucky early
            scores; ``uniscale bench --tune`` picks it on your own recorded traffic.
        alpha_decay: Feedbacks after which an arm's bonus is ``1/√2`` of its width: the
            bonus is ``alpha·width/√(1 + n_a/alpha_decay)`` (``None``: no decay; 3 was
            chosen on synthetic cold starts, see ``benchmarks/cold_start.py``).
        ridge: Ridge prior precision.
        arm_ridge: Prior precision of each arm's own deviation from the shared model
            (default ``ridge``); larger values make arms lean more on what other arms
            with the same model, strategy or a close n taught.
        forgetting: Discount in ``(0, 1]`` for drifting traffic (1 = no forgetting).
        hybrid: Share evidence between arms through their descriptors.
        shared_dim: Width of the shared context of the hybrid model.
        prune: Leave out arms that a cheaper arm surely beats.
        feedback_ttl: Seconds a decision waits for feedback.
        on_invalid_feedback: ``"raise"`` or ``"ignore"`` (count, log and return False).
        fallback: Arms tried in order when the chosen arm's backend fails.
        prior_output_tokens: Output tokens per sample assumed before usage is seen.
        seed: Seed of the tie-breaking generator.
        clock: Wall-clock function (seconds), for the time-to-live.
        pending_store: Where decisions wait for feedback (default: in memory); a
            :class:`~uniscale.store.redis.RedisPendingStore` lets any replica take the
            feedback of a decision another replica made.
        max_pending: Most decisions waiting for feedback at once (in memory); beyond it
            the oldest waiting decision is evicted and counted in ``stats["evicted"]``.
        log: Decision log: a JSONL file path or a callable taking each record (a dict),
            or a :class:`~uniscale.log.DecisionSink`; read it with :func:`read_log`.
        log_features: Write each decision's features to the log (needed to warm start
            from it with :meth:`fit`); otherwise a digest.
        context_dim: Hashed buckets for the side features passed as ``context=`` to
            :meth:`decide` (0: none).
        exploration: ``"ucb"`` (the best score), ``"softmax"`` (draw by the score with
            ``temperature``) or ``"thompson"``; the last two log real propensities
            for off-policy evaluation (see :mod:`uniscale.explore`).
        temperature: Softmax temperature, in units of quality.
        implicit_reward: Learn a result's own confidence when no feedback comes in time:
            ``"agreement"`` (vote share / best verifier score), a function of the
            :class:`Result`, or an :class:`~uniscale.implicit.ImplicitRewards` (weight,
            delay); explicit feedback that arrives later replaces it.
        baseline: The arm you run today (an arm or its key). With it, the router explores
            only while a pessimistic estimate of its cumulative reward stays within
            ``conservative`` of what the baseline would have earned (conservative
            linear bandits); without it, exploration is unconstrained.
        conservative: Allowed shortfall against ``baseline`` (0.05 = 5%).
        precision: ``"float32"`` (default) keeps the per-arm inverses that each decision
            reads in float32, half the memory and bytes streamed per decision of
            ``"float64"``; every sum stays float64 and the inverses are re-factorised
            from the sums periodically, so bounds agree with the ``"float64"`` reference
            to about 1e-7 (``benchmarks/overhead_precision.py``).
        blas_threads: BLAS threads during the bandit's products (default 1: they are
            too small to gain from threads); ``None`` leaves BLAS as configured.
    """

    def __init__(
        self,
        arms: ArmSpace | Iterable[Arm],
        prices: Mapping[str, Price],
        objective: Objective | None = None,
        backends: Mapping[str, Any] | None = None,
        *,
        featurizer: Featurizer | None = None,
        alpha: float = 1.0,
        alpha_decay: float | None = 3.0,
        ridge: float = 1.0,
        arm_ridge: float | None = None,
        forgetting: float = 1.0,
        hybrid: bool = True,
        shared_dim: int = 8,
        prune: bool = True,
        feedback_ttl: float = 86_400.0,
        on_invalid_feedback: str = "raise",
        fallback: Sequence[Arm] = (),
        prior_output_tokens: float = 256.0,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        pending_store: PendingStore | None = None,
        max_pending: int = 10_000,
        log: LogTarget | DecisionSink | None = None,
        log_features: bool = False,
        context_dim: int = 16,
        exploration: str = "ucb",
        temperature: float = 0.05,
        implicit_reward: ImplicitRewards | str | Callable[[Result], float | None] | None = None,
        baseline: Arm | str | None = None,
        conservative: float = 0.05,
        precision: str = "float32",
        blas_threads: int | None = 1,
    ) -> None:
        validate.router_settings(
            alpha=alpha, ridge=ridge, arm_ridge=arm_ridge, forgetting=forgetting,
            hybrid=hybrid, shared_dim=shared_dim, prune=prune, feedback_ttl=feedback_ttl,
            prior_output_tokens=prior_output_tokens, seed=seed, clock=clock,
            pending_store=pending_store, backends=backends)
        self.arms = validate.arm_space(arms)
        prices = validate.prices(prices)
        self.backends: dict[str, Any] = dict(backends or {})
        self.featurizer: Featurizer = validate.featurizer(
            HashingFeaturizer(ngrams=1) if featurizer is None else featurizer, len(self.arms))
        self.objective = objective if objective is not None else Tradeoff(0.01)
        if on_invalid_feedback not in ("raise", "ignore"):
            raise ConfigurationError("on_invalid_feedback must be 'raise' or 'ignore'")
        if not (isinstance(feedback_ttl, (int, float)) and feedback_ttl > 0):
            raise ConfigurationError(f"feedback_ttl must be seconds > 0, got {feedback_ttl!r}")
        self.on_invalid_feedback = on_invalid_feedback
        self.prune = prune
        self.seed = seed
        self.pacer = Pacer(self.objective)
        self.costs = CostModel(prices, prior_output_tokens=prior_output_tokens)
        self.context = ContextEncoder(context_dim, seed=seed)
        self.policy = LinUCB(
            self.featurizer.dim + self.context.dim, alpha=alpha, ridge=ridge, arm_ridge=arm_ridge,
            forgetting=forgetting,
            hybrid=hybrid, shared_dim=shared_dim, projection_seed=seed, precision=precision,
            blas_threads=blas_threads,
        )
        self.pending = pending_store if pending_store is not None else PendingStore(
            feedback_ttl, clock, max_pending=validate.positive_count("max_pending",
                                                                     max_pending))
        self.rng = np.random.default_rng(seed)
        # decision ids: a random prefix per router and a counter (unique across replicas)
        self._id_prefix = uuid.uuid4().hex[:16]
        self._id_count = itertools.count()
        self._slot_cache: tuple[tuple[int, int], list[Arm], np.ndarray | None] | None = None
        self.implicit = as_implicit(implicit_reward)
        self.stats: dict[str, Any] = {"decisions": 0, "feedback": 0, "ignored_feedback": 0,
                                      "failures": {}}
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()
        for arm in self.arms:
            self._check_arm(arm)
            self.policy.add_slot(arm.key, self._descriptor(arm))
        self.fallback = tuple(self._fallback_arms(fallback))
        self.guard: ConservativeGuard | None = None
        if baseline is not None:
            base = baseline if isinstance(baseline, Arm) else self.arms.find(str(baseline))
            self.arms.index(base)
            self.guard = ConservativeGuard(base.key, conservative)
        self._refresh_samples_per_call()
        check_exploration(exploration, temperature)
        self.alpha_decay = check_alpha_decay(alpha_decay)
        self.exploration, self.temperature = exploration, float(temperature)
        self.decision_log = open_log(log, log_features=log_features)

    # -- configuration ----------------------------------------------------------------
    def _descriptor(self, arm: Arm) -> dict[str, float]:
        return dict(zip(self.arms.columns, self.arms.descriptor(arm), strict=True))

    def _fallback_arms(self, fallback: Any) -> list[Arm]:
        if isinstance(fallback, (str, Arm)) or not isinstance(fallback, Iterable):
            raise ConfigurationError(
                f"fallback must be a list of arms (or arm keys), got {fallback!r}")
        arms = [self.arms.find(a) if isinstance(a, str) else validate.arm(a) for a in fallback]
        for arm in arms:
            self.arms.index(arm)
        return arms

    def _check_arm(self, arm: Arm) -> None:
        validate.arm(arm)
        self.costs.price(arm.model)
        if self.backends and arm.model not in self.backends:
            raise MissingBackendError(
                f"model {arm.model!r} has no backend: add it to backends= (known: "
                f"{sorted(self.backends)}) or remove its arms"
            )

    def _refresh_samples_per_call(self) -> None:
        for model, backend in self.backends.items():
            self.costs.samples_per_call[model] = int(getattr(backend, "max_samples_per_call", 1))

    def add_arm(self, arm: Arm) -> None:
        """Add an arm at run time; it starts optimistic, the others keep what they learned."""
        with self._lock:
            self._check_arm(arm)
            self.arms.add(arm)
            if arm.key not in self.policy.slots:
                self.policy.add_slot(arm.key, self._descriptor(arm))

    def remove_arm(self, arm: Arm) -> None:
        """Stop choosing ``arm``; its statistics stay in the state for a later re-add."""
        with self._lock:
            self.arms.remove(validate.arm(arm))
            self.fallback = tuple(a for a in self.fallback if a != arm)

    def set_price(self, model: str, price: Price) -> None:
        """Change the price of ``model`` (takes effect on the next decision)."""
        checked = validate.price(model, price)
        with self._lock:
            self.costs.prices[model] = checked

    def set_backend(self, model: str, backend: Any) -> None:
        """Attach or replace the backend of ``model``."""
        if not isinstance(model, str) or not model or backend is None:
            raise ConfigurationError(
                f"set_backend needs a model name and a backend, got {model!r}, {backend!r}")
        with self._lock:
            self.backends[model] = backend
            self._refresh_samples_per_call()

    # -- deciding ---------------------------------------------------------------------
    def decide(
        self,
        request: str | Message | Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        features: Any = None,
        allowed: ArmSelector | None = None,
        input_tokens: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Choose an arm for a request.

        Args:
            request: A prompt string or messages (strings, dicts or :class:`Message`).
            features: A context vector to use instead of featurising ``request``.
            allowed: Restrict this request to some arms (arms, arm keys or a predicate).
            input_tokens: Input tokens of the request, when known better than estimated.
            context: Side features you know about the request, e.g.
                ``{"task": "sql", "tenant": "acme", "length": 1200}`` (strings and
                booleans one-hot, numbers log-scaled).

        Returns:
            The decision; give its ``id`` to :meth:`feedback`.
        """
        x, tokens = self.context_vector(request, features, input_tokens, context)
        candidates = select_arms(self.arms, allowed)
        with self._lock:
            if self.implicit is not None:
                self.implicit.release(self)
            return self._decide(x, tokens, candidates, new_request=True, context=context)

    def context_vector(self, request: Any, features: Any = None,
                       input_tokens: int | None = None,
                       context: Mapping[str, Any] | None = None) -> tuple[np.ndarray, int]:
        """The vector the policy learns on (text features, then side features).

        Returns:
            ``(x, input_tokens)``.
        """
        x, tokens = context_of(self.featurizer, request, features, input_tokens)
        if self.context.dim:
            x = np.concatenate([x, self.context.encode(context)])
        else:
            self.context.encode(context)  # a clear error when context= cannot be used
        return x, tokens

    def _decide(self, x: np.ndarray, tokens: int, arms: list[Arm], *, new_request: bool,
                context: Mapping[str, Any] | None = None) -> Decision:
        return decide_arms(self, x, tokens, arms, new_request=new_request, context=context)

    # -- learning ---------------------------------------------------------------------
    def feedback(self, decision_id: str, score: float, cost: float | None = None) -> bool:
        """Learn the quality a decision achieved.

        Args:
            decision_id: :attr:`Decision.id`.
            score: Quality in ``[0, 1]``.
            cost: Observed USD, when the caller ran the arm itself.

        Returns:
            True when learned; False when ignored (``on_invalid_feedback="ignore"``).

        Raises:
            InvalidScoreError: Score or cost is NaN, infinite or out of range.
            UnknownDecisionError: Unknown or expired id.
            DuplicateFeedbackError: Feedback for this id was already given.
            StoreUnavailableError: A shared pending store could not be reached; nothing
                was learned (retry: a retry by this router learns it at most once).
        """
        return learn_feedback(self, decision_id, score, cost)

    def observe(self, decision_id: str, usage: Usage, *, samples: int = 1,
                extra_cost: float = 0.0, request_tokens: int | None = None) -> float:
        """Record what a decision really used when the caller ran the arm itself.

        Args:
            decision_id: :attr:`Decision.id`.
            usage: Tokens billed by the arm's model.
            samples: Samples those tokens produced.
            extra_cost: Further USD (a scorer's) to charge.
            request_tokens: Input tokens the request was estimated at
                (:attr:`Decision.input_tokens`); with ``usage.calls`` it teaches the cost
                model the input a strategy adds per call (its prompt template).

        Returns:
            The observed cost in USD.

        Raises:
            InvalidRequestError: ``usage`` is not a Usage of whole token counts >= 0.
            InvalidScoreError: ``extra_cost`` is negative, NaN or infinite.
        """
        return learn_usage(self, decision_id, usage, samples=samples, extra_cost=extra_cost,
                           request_tokens=request_tokens)

    def fit(self, records: Iterable[Outcome | Mapping[str, Any]], *,
            keep_best_arm: bool = True, cross_validate: bool = True) -> int:
        """Warm start from outcomes recorded offline (an eval set, or a decision log).

        Every record is checked before anything is learned: a bad record raises the
        same clear error as :meth:`feedback` would (naming its position) and leaves the
        router unchanged. The records are added to the bandit's sums in one batch, and
        their usage or cost teaches the cost model.

        An eval set (several arms recorded per request) is first cross-validated
        (5 folds over its requests, see :mod:`uniscale.evalcheck`): the ridge prior
        becomes the one of least held-out error, evidence sharing is turned off when a
        fresh router (no feedback yet) predicts the held-out scores better without it
        (``stats["eval_set"]["sharing_error"]``), and the router's
        own model serves each held-out fold greedily against the best single arm.
        Unless that model beats the arm on the held-out requests (a positive mean paired
        difference; ``router.stats["eval_set"]`` has the figures), and with no
        ``baseline=`` of your own, the eval set's best single arm becomes a conservative
        baseline: the router serves another arm only while its pessimistic estimate keeps
        the running reward at or above that arm's
        (``router.guard``; set it to ``None`` to explore freely). Under a
        :class:`Budget` the baseline is always kept and λ starts where the fitted model
        spends the budget on the eval set's requests.

        Args:
            records: :class:`Outcome` records, or mappings with the same keys.
            keep_best_arm: Make the eval set's best single arm a baseline (see above).
            cross_validate: Let the eval set choose the ridge prior and the sharing
                (False keeps the router's settings).

        Returns:
            The number of records learned.
        """
        with self._lock:
            return fit_router(self, records, baseline=keep_best_arm,
                              cross_validate=cross_validate)

    def tune(self, records: Iterable[Outcome | Mapping[str, Any]], *,
             alphas: Sequence[float] = (0.1, 0.3, 1.0), hybrid: Sequence[bool] = (True, False),
             dims: Sequence[int] | None = None, folds: int = 3) -> TuneReport:
        """Choose alpha, hybrid sharing and the featurizer width on an eval set.

        Each candidate is fitted on earlier folds of ``records`` and serves the next fold
        online; the best is applied and fitted on every record. When no candidate beats
        the best single arm, that arm becomes a conservative baseline the router leaves
        only when confident (see :class:`~uniscale.tune.TuneReport`).

        Args:
            records: Outcomes of every arm on each request of an eval set, in time order.
            alphas: Exploration widths to try.
            hybrid: Evidence sharing between arms, on and/or off.
            dims: Hashing widths to try (default 32/64/128 for text records).
            folds: Time-ordered folds.

        Returns:
            What was tried and chosen (printable).
        """
        with self._lock:
            return tune_router(self, records, alphas=alphas, hybrid=hybrid, dims=dims,
                               folds=folds)

    def close(self) -> None:
        """Close the decision log (the router keeps deciding, without logging)."""
        if self.decision_log is not None:
            self.decision_log.close()
            self.decision_log = None
