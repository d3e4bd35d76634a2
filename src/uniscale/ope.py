"""Off-policy evaluation: what another configuration would have earned on logged traffic.

A target gives, for every logged decision, the probability ``π(a)`` that it picks each
of the arms the logging router considered:

- :class:`RouterTarget`: a trained router, frozen (e.g. one fitted from an eval set or
  from another deployment's log, or saved with other settings) scores the candidates
  with its own estimates and costs. The log must carry features. This is the exact
  off-policy question: "what would this router earn on that traffic?".
- :class:`TargetPolicy`: other settings (``alpha``, ``W``, greedy or softmax) applied to
  the figures the *logging* router computed then. It answers "what if this router had
  used these settings on its own estimates" — it ignores that other settings would
  have led the router to learn from other choices.

The reward of a decision is ``score − cost / W``. With the logged propensity ``p`` of
the arm that was served and the importance weight ``w = π(a_served) / p``:

- IPS: ``mean(w · r)``;
- SNIPS (self-normalised): ``Σ w · r / Σ w``;
- DR (doubly robust): ``mean(Σ_a π(a) q̂(a) + w · (r − q̂(a_served)))``, where
  ``q̂(a) = quality(a) − cost(a) / W`` is the logging router's own estimate then;
- DM (direct method): ``mean(Σ_a π(a) q̂(a))`` — biased whenever the model is.

Intervals are 95% normal intervals over decisions (delta method for SNIPS). When the
logging policy was deterministic (``exploration="ucb"``: propensity 1 save for
tie-breaks), the target's other choices were never tried: only the direct method is
reported, flagged as biased. Log with ``exploration="softmax"`` (or ``"thompson"``)
to evaluate other configurations before going live.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigurationError, LogFileError
from .explore import decayed_width, softmax
from .logread import LoggedCandidates, LoggedDecision
from .objective import Tradeoff

if TYPE_CHECKING:
    from .router import Router

__all__ = ["Estimate", "OffPolicyReport", "RouterTarget", "TargetPolicy", "evaluate"]

_Z = 1.959963984540054


@dataclass(frozen=True)
class TargetPolicy:
    """The configuration to evaluate.

    Attributes:
        alpha: Exploration width (None: the logging router's, as logged in ``ucb``).
        willingness_to_pay: USD per unit of quality; λ = 1/W (None: the logged λ).
        temperature: Softmax temperature (None: greedy, ties split evenly).
        prune: Leave out arms a cheaper arm surely beats, as the router does.
    """

    alpha: float | None = None
    willingness_to_pay: float | None = None
    temperature: float | None = None
    prune: bool = True

    def probabilities(self, record: LoggedDecision) -> np.ndarray:
        """``π(a)`` for every candidate of one logged decision."""
        assert record.candidates is not None
        return self.choose(record.candidates, record.cost_weight)

    def choose(self, c: LoggedCandidates, logged_lam: float) -> np.ndarray:
        """``π(a)`` over candidates with the figures ``c``."""
        ucb = c.ucb if self.alpha is None else c.quality + self.alpha * c.width
        lam = logged_lam if self.willingness_to_pay is None else 1 / self.willingness_to_pay
        keep = np.ones(len(c.arms), dtype=bool)
        if self.prune and len(c.arms) > 1:
            bonus = c.ucb - c.quality if self.alpha is None else self.alpha * c.width
            order = np.argsort(c.cost, kind="stable")
            best_cheaper = np.maximum.accumulate((c.quality - bonus)[order])
            keep[order[1:]] = ucb[order[1:]] >= best_cheaper[:-1]
        score = np.where(keep, ucb - lam * c.cost, -np.inf)
        if self.temperature is not None:
            return softmax(score, self.temperature)
        top = score >= score.max() - 1e-12
        return np.asarray(top / top.sum())


@dataclass(frozen=True, eq=False)
class RouterTarget:
    """A trained router, frozen, as the configuration to evaluate: on each logged
    decision it scores the logged candidates with its own estimates and costs.

    The log must carry features (``log_features=True``).

    Attributes:
        router: The router (its state is only read).
        temperature: Softmax temperature (None: greedy).
    """

    router: Router
    temperature: float | None = None

    def probabilities(self, record: LoggedDecision) -> np.ndarray:
        """``π(a)`` for every candidate of one logged decision (0 for unknown arms)."""
        c = record.candidates
        assert c is not None
        if record.features is None:
            raise LogFileError("evaluating a router needs the logged features: log with "
                               "Router(log=..., log_features=True)")
        rt = self.router
        known = [i for i, k in enumerate(c.arms) if rt.arms.get(k) is not None]
        if not known:
            return np.zeros(len(c.arms))
        arms = [rt.arms.find(c.arms[i]) for i in known]
        x, tokens = rt.context_vector(None, record.features, record.input_tokens,
                                      record.context)
        slots = np.array([rt.policy.slot(a.key) for a in arms])
        mean, width = rt.policy.estimate(x, slots)
        if rt.alpha_decay is not None:  # the bonus the router's own decisions use
            width = decayed_width(width, rt.policy.counts, slots, rt.alpha_decay)
        cost = rt.costs.predict_all(arms, tokens, x)
        own = LoggedCandidates(tuple(a.key for a in arms), mean, width,
                               mean + rt.policy.alpha * width, cost, np.zeros(len(arms)),
                               np.zeros(len(arms), dtype=bool))
        w = rt.objective.willingness_to_pay if isinstance(rt.objective, Tradeoff) else None
        pi = TargetPolicy(willingness_to_pay=w, temperature=self.temperature,
                          prune=rt.prune).choose(own, rt.pacer.lam)
        out = np.zeros(len(c.arms))
        out[known] = pi
        return out


@dataclass(frozen=True)
class Estimate:
    """One estimator's value and its 95% interval.

    Attributes:
        value: Estimated mean reward per request.
        low: Lower end of the interval.
        high: Upper end.
        biased: True for the direct method (it inherits the model's bias).
    """

    value: float
    low: float
    high: float
    biased: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"value": self.value, "low": self.low, "high": self.high,
                "biased": self.biased}


@dataclass(frozen=True)
class OffPolicyReport:
    """Estimates of a target configuration's reward on a log.

    Attributes:
        estimates: Method (``ips``, ``snips``, ``dr``, ``dm``) → estimate.
        logged: The logging policy's own mean reward (under the target's W).
        decisions: Decisions used (those with feedback and candidates).
        deterministic: The logging policy chose greedily (``exploration="ucb"``; only
            ties were broken at random): only the direct method is given.
        effective_size: ``(Σw)² / Σw²``, how many decisions the weights amount to.
        agreement: Share of decisions where the target would have picked the served arm
            with probability > 0.
        recommended: The method to read first (``dr``, or ``dm`` for a deterministic log).
        note: What the figures mean, in a sentence.
    """

    estimates: Mapping[str, Estimate]
    logged: float
    decisions: int
    deterministic: bool
    effective_size: float
    agreement: float
    recommended: str
    note: str = field(default="")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"estimates": {k: v.as_dict() for k, v in self.estimates.items()},
                "logged": self.logged, "decisions": self.decisions,
                "deterministic": self.deterministic, "effective_size": self.effective_size,
                "agreement": self.agreement, "recommended": self.recommended,
                "note": self.note}


def _interval(terms: np.ndarray, biased: bool = False) -> Estimate:
    mean = float(terms.mean())
    half = _Z * float(terms.std(ddof=1)) / math.sqrt(len(terms)) if len(terms) > 1 else math.inf
    return Estimate(mean, mean - half, mean + half, biased)


def evaluate(records: Iterable[LoggedDecision], target: TargetPolicy | RouterTarget,
             *, willingness_to_pay: float | None = None) -> OffPolicyReport:
    """Estimate the mean reward ``target`` would have earned on the logged decisions.

    Args:
        records: Logged decisions (``read_log(path)``); those without feedback or
            candidates are skipped.
        target: The configuration to evaluate.
        willingness_to_pay: W of the reward ``score − cost / W`` (default the target's,
            else the logged λ).

    Raises:
        LogFileError: No decision with feedback and candidates.
        ConfigurationError: A bad setting of ``target``.
    """
    w_target = willingness_to_pay
    if w_target is None and isinstance(target, TargetPolicy):
        w_target = target.willingness_to_pay
    if w_target is None and isinstance(target, RouterTarget):
        w_target = getattr(target.router.objective, "willingness_to_pay", None)
    if w_target is not None and not (math.isfinite(w_target) and w_target > 0):
        raise ConfigurationError(f"willingness_to_pay must be > 0, got {w_target!r}")
    if target.temperature is not None and not target.temperature > 0:
        raise ConfigurationError(f"temperature must be > 0, got {target.temperature!r}")
    dm, weight, reward, qhat_served = [], [], [], []
    kinds: set[str] = set()
    for r in records:
        c = r.candidates
        if r.score is None or c is None or r.arm not in c.arms:
            continue
        lam = r.cost_weight if w_target is None else 1 / w_target
        pi = target.probabilities(r)
        q = c.quality - lam * c.cost
        a = c.index(str(r.arm))
        spent = r.predicted_cost if r.cost is None else float(r.cost)
        dm.append(float(pi @ q))
        weight.append(float(pi[a]) / max(r.propensity, 1e-12))
        reward.append(float(r.score) - lam * spent)
        qhat_served.append(float(q[a]))
        kinds.add(r.exploration)
    if not reward:
        raise LogFileError("no logged decision has feedback and candidates: nothing to "
                           "evaluate (log with a Router(log=...) and give feedback)")
    w, rw = np.array(weight), np.array(reward)
    dm_t = np.array(dm)
    deterministic = kinds <= {"ucb"}
    estimates = {"dm": _interval(dm_t, biased=True)}
    if not deterministic:
        estimates["ips"] = _interval(w * rw)
        snips = float((w * rw).sum() / w.sum()) if w.sum() > 0 else float("nan")
        spread = _interval(w * (rw - snips) / max(w.mean(), 1e-12))
        estimates["snips"] = Estimate(snips, snips + spread.low - spread.value,
                                      snips + spread.high - spread.value)
        estimates["dr"] = _interval(dm_t + w * (rw - np.array(qhat_served)))
    ess = float(w.sum() ** 2 / (w ** 2).sum()) if (w ** 2).sum() > 0 else 0.0
    note = ("the logging policy was deterministic, so the arms the target prefers were "
            "rarely tried: only the direct method (the logging router's own estimates) is "
            "given, and it is biased" if deterministic else
            "IPS and SNIPS are unbiased but noisy; DR corrects the model's estimates with "
            "the logged rewards")
    return OffPolicyReport(estimates, float(rw.mean()), len(rw), deterministic, ess,
                           float(np.mean(w > 0)), "dm" if deterministic else "dr", note)
