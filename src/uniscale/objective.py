"""Objectives: how quality is traded against cost."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

__all__ = ["Budget", "Objective", "Pacer", "Tradeoff"]


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number of USD, got {value!r}")
    if not math.isfinite(float(min(value, 1e300))) or value <= 0:  # no OverflowError
        raise ConfigurationError(
            f"{name} must be a finite USD amount > 0, got {str(value)[:20]}")


@dataclass(frozen=True)
class Tradeoff:
    """A fixed exchange rate between quality and money.

    Reward = quality − cost_usd / willingness_to_pay.

    Attributes:
        willingness_to_pay: USD you would pay for one unit of quality (a right answer
            instead of a wrong one). The cost weight is ``λ = 1 / willingness_to_pay``.
    """

    willingness_to_pay: float

    def __post_init__(self) -> None:
        _positive("Tradeoff.willingness_to_pay", self.willingness_to_pay)


@dataclass(frozen=True)
class Budget:
    """Best quality while the mean cost per request tracks ``per_request`` USD.

    The cost weight λ adapts by projected online dual ascent, with a step relative to μ,
    ``μ ← max(0, μ + step · (μ + 0.1) · (cost − target) / per_request)`` and
    ``λ = μ / per_request``,
    where the target of each request also repays what was over- or under-spent so far
    over the next ``horizon`` requests: ``target = per_request − deficit / horizon``,
    ``deficit`` = USD spent beyond ``per_request`` per request so far. Plain dual ascent
    settles with a standing deficit (μ itself is the integral of the error); repaying it
    makes the cumulative spend converge to the budget instead of drifting a few per cent
    off it. What a request leaves unspent while μ is already 0 is not owed: the arms
    the router wants cost less than the budget, so that money could not have been spent,
    and a later change (a dearer arm, a lower price) must not be paid for by overspending;
    it still repays a deficit already owed (forgiving it too left the spend a few per
    cent under the budget whenever μ touched 0 while repaying an overspend).

    The repayment horizon grows with the stream: a deficit is repaid over
    ``min(horizon, max(10, requests / 10))`` requests. What is measured is the mean spend
    at whatever request the stream stops, ``deficit / requests``; repaying over a tenth
    of the requests served so far keeps that relative error small on a short stream
    (synthetic workload, 100 requests: mean |error| 2.9% → 0.4%) without making λ
    jumpier once the stream is long (400 requests: 0.17% → 0.22%, quality not lower).

    Dual ascent alone cannot hold a short stream: one answer of an arm that costs 20
    budgets moves the mean of 100 requests 19% off. So an arm is served only while the
    spend it adds keeps the overspend within ``tolerance`` of the budget at every request,
    ``deficit + cost − per_request ≤ tolerance · per_request · requests`` (the
    :meth:`Pacer.ceiling`); when no arm fits, the cheapest serves. A dear arm is thus
    paid for by what cheaper answers left unspent, and on a long stream the bound is too
    loose to matter. What the ceiling leaves unspent stays owed (it is the saving that
    pays for the dear arm), even at μ = 0.

    The mirror image holds the spend from below: an answer that would leave the underspend
    past ``tolerance``, ``deficit + cost − per_request < −tolerance · per_request ·
    requests`` (under the :meth:`Pacer.floor`), gives way to a dearer arm within the
    ceiling of no lower estimated quality: of those that bring the spend back to the
    budget, else to the floor, the best scored; else the dearest. Under the eval-set
    baseline of :meth:`Router.fit` (a mixture of two arms) the mixture's dearer arm serves
    while the spend is short. What a request leaves unspent while a dearer arm of no lower
    estimated quality exists stays owed even at μ = 0 (it could have bought quality); what
    no such arm could have bought is still forgiven. Without the floor the router fell
    short of the budget whenever the arm it estimated best cost less than the budget and a
    better one more (a dearer arm waited for λ to fall): on a cold-started stream with
    arms at 0.75 and 1.1 budgets the mean was up to 9% under the budget after the 100th
    request and ended up to 3% under it after 150, now within 0.5%
    (``tests/test_core_budget.py``). It was chosen on the train splits of the replay
    tables (``OPENBLAS_NUM_THREADS=1 python benchmarks/budget.py --steps 0 --dev --tables
    ... [--cold]``: within ±1% on 14 of 16 table × start runs, 12 without; date_mot warm
    −1.9% → +0.4%, game24_tot cold −2.1% → −0.5%; quality higher or within 0.013 of
    before). On the test streams (the same command without ``--dev``) the warm start ends
    between −2.1% and +0.3% of the budget (aqua_pot −4.4% → −1.4%, 73 requests; with
    ``--seeds 10`` −2.4% → −1.0%, and game24_tot −1.6% → −1.0%, 30 requests), the cold
    start within ±0.5% on all eight tables; the warm start's quality ties or beats the
    train hull's best two-arm mixture that spends the budget on every table (the cold
    start is behind it on seven of eight, a matter of learning, not of pacing). An arm
    that costs many budgets still sets a limit on a stream that stops at an unknown
    request: it can only be paid for by savings of nearly its cost, so the running mean
    swings by that cost over the requests served (paretobandit table: one answer of its
    dearest arm is 4% of the test stream's budget; it ends −2.1%).

    Attributes:
        per_request: Target mean USD per request.
        step: Dual step size (dimensionless).
        initial_multiplier: Starting μ.
        horizon: Longest span of requests over which a deficit is repaid (smaller:
            tighter, jumpier).
        tolerance: Largest overspend allowed at any request, and the underspend past
            which a dearer arm of no lower estimated quality serves, as a share of the
            budget of the requests so far (``math.inf``: no ceiling and no floor).
    """

    per_request: float
    step: float = 0.05
    initial_multiplier: float = 1.0
    horizon: float = 50.0
    tolerance: float = 0.005

    def __post_init__(self) -> None:
        _positive("Budget.per_request", self.per_request)
        _positive("Budget.step", self.step)
        _positive("Budget.horizon", self.horizon)
        _positive("Budget.tolerance", self.tolerance)
        m = self.initial_multiplier
        if isinstance(m, bool) or not isinstance(m, (int, float)) \
                or not math.isfinite(float(min(m, 1e300))) \
                or m < 0:
            raise ConfigurationError("Budget.initial_multiplier must be finite and >= 0")


Objective = Tradeoff | Budget

# a deficit is repaid over this share of the requests served so far, at least _SHORTEST
# requests and at most Budget.horizon (see Budget)
_SHARE = 0.1
_SHORTEST = 10.0
_STEP_FLOOR = 0.1  # the μ below which the dual step stops shrinking with μ


class Pacer:
    """The cost weight λ of an objective, and its online adaptation for a :class:`Budget`.

    Args:
        objective: The objective.
    """

    def __init__(self, objective: Objective) -> None:
        if not isinstance(objective, (Tradeoff, Budget)):
            raise ConfigurationError(
                f"objective must be uniscale.Tradeoff(willingness_to_pay=...) or "
                f"uniscale.Budget(per_request=...), got {objective!r}"
            )
        self.objective = objective
        self.multiplier = objective.initial_multiplier if isinstance(objective, Budget) else 1.0
        self.spent = 0.0
        self.requests = 0
        self.deficit = 0.0

    @property
    def lam(self) -> float:
        """Current cost weight λ in units of quality per USD."""
        if isinstance(self.objective, Tradeoff):
            return 1.0 / self.objective.willingness_to_pay
        return self.multiplier / self.objective.per_request

    def charge(self, cost: float, *, new_request: bool, capped: bool = False) -> None:
        """Account ``cost`` USD (a prediction at decide time or a later correction).

        ``capped``: the :meth:`ceiling` kept the arm the router wanted from serving, so
        what is left unspent could have been spent and stays owed even at no cost weight.
        """
        self.spent += cost
        if new_request:
            self.requests += 1
        budget = self.objective
        if not isinstance(budget, Budget):
            return
        target = 0.0
        owed = cost
        if new_request:
            horizon = min(budget.horizon, max(_SHORTEST, _SHARE * self.requests))
            target = min(max(budget.per_request - self.deficit / horizon, 0.0),
                         3.0 * budget.per_request)
            owed -= budget.per_request
        if owed < 0 and self.multiplier == 0.0 and new_request and not capped:
            # no cost weight left: what is unspent could not be spent, so it is not owed;
            # it still repays an overspend (else that overspend is repaid twice). A later
            # correction to what was paid is always owed: forgiving the answers that
            # cost less than predicted and not those that cost more left the spend 6%
            # under the budget (paretobandit train split, warm start)
            owed = max(owed, min(0.0, -self.deficit))
        self.deficit += owed
        # the step scales with μ (plus a floor, so μ can leave and reach 0): a fixed step
        # is too coarse for a small μ (one cheap answer sent a warm-started μ of 0.05 to 0,
        # where what is unspent is forgiven) and too fine for a large one
        step = budget.step * (self.multiplier + _STEP_FLOOR) * (cost - target) \
            / budget.per_request
        self.multiplier = max(0.0, self.multiplier + step)

    def ceiling(self, *, new_request: bool = True) -> float:
        """Dearest predicted USD the next answer may cost (infinite for a Tradeoff).

        Under a :class:`Budget`: the cost that would take the overspend to ``tolerance``
        of the budget of the requests served, this one included (see :class:`Budget`).
        """
        budget = self.objective
        if not isinstance(budget, Budget):
            return math.inf
        requests = self.requests + new_request
        return (budget.per_request * (budget.tolerance * requests + new_request)
                - self.deficit)

    def floor(self, *, new_request: bool = True) -> float:
        """Cheapest predicted USD the next answer may cost before the spend falls behind.

        Under a :class:`Budget`: the cost below which the underspend would pass
        ``tolerance`` of the budget of the requests served, this one included (minus
        infinity for a Tradeoff); the mirror of :meth:`ceiling`.
        """
        budget = self.objective
        if not isinstance(budget, Budget):
            return -math.inf
        requests = self.requests + new_request
        return (budget.per_request * (new_request - budget.tolerance * requests)
                - self.deficit)

    @property
    def mean_cost(self) -> float:
        """Mean USD per request so far."""
        return self.spent / self.requests if self.requests else 0.0

    def state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"multiplier": self.multiplier, "spent": self.spent, "requests": self.requests,
                "deficit": self.deficit}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` (without ``deficit``: the one its totals imply)."""
        self.multiplier = float(state["multiplier"])
        self.spent = float(state["spent"])
        self.requests = int(state["requests"])
        deficit = state.get("deficit")
        if deficit is None and isinstance(self.objective, Budget):
            deficit = self.spent - self.objective.per_request * self.requests
        self.deficit = float(deficit or 0.0)
