"""Budget pacing: the cumulative spend meets the budget, and a dear arm does not derail it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us

USAGE = us.Usage(10, 100, calls=1)
PRICES = {"cheap": us.Price(1, 1), "mid": us.Price(40, 40), "dear": us.Price(1000, 1000)}
QUALITY = {"cheap": 0.5, "mid": 0.9, "dear": 1.0}
COST = {m: (p.input * 10 + p.output * 100) / 1e6 for m, p in PRICES.items()}
BUDGET = COST["mid"] / 0.75  # the dear arm costs ~19 budgets, the cheap one 0.02


def _router(budget: float = BUDGET, models: tuple[str, ...] = ("cheap", "mid", "dear")
            ) -> us.Router:
    arms = [us.Arm(m, us.Single()) for m in models]
    return us.Router(arms, {m: PRICES[m] for m in models}, us.Budget(per_request=budget),
                     seed=0)


def _eval_set(router: us.Router, prompts: int = 60) -> list[us.Outcome]:
    return [us.Outcome(request=f"question {i}", arm=arm, score=QUALITY[arm.model],
                       usage=USAGE)
            for i in range(prompts) for arm in router.arms]


def _serve(router: us.Router, requests: int, start: int = 1000) -> tuple[np.ndarray, list[str]]:
    costs, models = np.zeros(requests), []
    for i in range(requests):
        d = router.decide(f"question {start + i}")
        router.feedback(d.id, QUALITY[d.arm.model], cost=COST[d.arm.model])
        costs[i] = COST[d.arm.model]
        models.append(d.arm.model)
    return costs, models


def test_a_dear_arm_between_cheap_ones_spends_the_budget_without_falling_to_the_cheapest(
        tmp_path: Path) -> None:
    router = _router()
    router.fit(_eval_set(router))
    # the best affordable arm alone would leave a quarter of the budget unspent: the
    # eval-set baseline is its mixture with the dear arm
    assert router.guard is not None
    assert (router.guard.baseline, router.guard.alternate) == ("mid/single/1", "dear/single/1")
    costs, models = _serve(router, 1500)
    assert abs(costs.mean() / BUDGET - 1) <= 0.01
    # one dear answer (19 budgets) must not swing λ so far that the cheapest arm serves
    assert models.count("cheap") <= 0.02 * len(models)
    assert 8 <= models.count("dear") <= 30  # ~1.4% of the requests fund the dear arm
    path = tmp_path / "state.json"
    router.save(str(path))
    loaded = us.Router.load(str(path))
    assert loaded.guard == router.guard
    assert loaded.pacer.deficit == pytest.approx(router.pacer.deficit)
    assert loaded.pacer.multiplier == pytest.approx(router.pacer.multiplier)


def test_cumulative_spend_converges_to_the_budget_from_a_wrong_start() -> None:
    router = us.Router([us.Arm(m, us.Single()) for m in PRICES], PRICES,
                       us.Budget(per_request=BUDGET, initial_multiplier=50.0), seed=0)
    costs, _ = _serve(router, 2000)
    spent = np.cumsum(costs) / (BUDGET * np.arange(1, len(costs) + 1)) - 1
    assert abs(spent[-1]) <= 0.005
    assert np.abs(spent[1000:]).max() <= 0.02  # it tracks, not just ends, near the budget


def test_money_that_could_not_be_spent_is_not_owed_later() -> None:
    router = _router(budget=4 * COST["mid"], models=("cheap", "mid"))
    costs, models = _serve(router, 800)
    assert costs.mean() < 0.3 * router.objective.per_request  # the best arm costs less
    assert models[-100:].count("mid") >= 90
    assert router.pacer.lam == 0.0  # no cost weight left, and nothing owed
    assert router.pacer.deficit <= 0.0
    router.set_price("dear", PRICES["dear"])
    router.add_arm(us.Arm("dear", us.Single()))
    later, _ = _serve(router, 300, start=5000)
    # the 600 budgets left unspent are not spent now (owed, they kept the spend at ~2.8
    # budgets per request here): after the new arm's first tries the mean tracks the budget
    assert later.mean() <= 1.25 * router.objective.per_request
    assert later[150:].mean() <= 1.05 * router.objective.per_request


def test_a_short_stream_ends_at_the_budget() -> None:
    from uniscale.testing.synthetic import SyntheticWorkload, run_online

    budget, errors = 0.003, []
    for seed in range(3):
        workload = SyntheticWorkload(rng=np.random.default_rng(100 + seed))
        router = us.Router(workload.arms(), workload.prices, us.Budget(per_request=budget),
                           workload.backends(), seed=seed)
        trace = run_online(workload, router, 100, 1.0)
        errors.append(abs(float(np.mean(trace.cost)) / budget - 1))
    # repaying a deficit over 50 requests on a stream of 100 ended ~3% under the budget
    assert float(np.mean(errors)) <= 0.01, errors


def test_a_dear_arm_never_takes_the_spend_past_the_tolerance() -> None:
    router = _router()
    router.fit(_eval_set(router))
    costs, models = _serve(router, 1500)
    n = np.arange(1, len(costs) + 1)
    over = np.cumsum(costs) / (BUDGET * n) - 1
    # a dear answer (19 budgets) is served only once cheaper ones left room for it: at no
    # request is the mean more than the tolerance over the budget (without the ceiling
    # the first one took it 875% over; the ceiling holds the predicted cost, and the
    # USD paid comes out 0.03% above it here), and the dear arm still serves
    assert over.max() <= router.objective.tolerance + 0.001
    assert abs(over[-1]) <= 0.01
    assert models.count("dear") >= 8


def test_a_tighter_tolerance_keeps_a_tighter_spend() -> None:
    router = us.Router([us.Arm(m, us.Single()) for m in PRICES], PRICES,
                       us.Budget(per_request=BUDGET, tolerance=0.001), seed=0)
    router.fit(_eval_set(router))
    costs, _ = _serve(router, 600)
    n = np.arange(1, len(costs) + 1)
    assert (np.cumsum(costs) / (BUDGET * n) - 1).max() <= 0.001 + 0.001


@pytest.mark.parametrize("tolerance", [0, -0.01, float("nan"), "0.01", True])
def test_a_bad_tolerance_is_refused(tolerance: object) -> None:
    with pytest.raises(us.ConfigurationError, match="tolerance"):
        us.Budget(per_request=0.01, tolerance=tolerance)  # type: ignore[arg-type]


def test_the_tolerance_is_saved(tmp_path: Path) -> None:
    router = us.Router([us.Arm(m, us.Single()) for m in PRICES], PRICES,
                       us.Budget(per_request=BUDGET, tolerance=0.002), seed=0)
    _serve(router, 20)
    router.save(str(tmp_path / "state.json"))
    loaded = us.Router.load(str(tmp_path / "state.json"))
    assert loaded.objective == router.objective
    assert loaded.pacer.ceiling() == pytest.approx(router.pacer.ceiling())


def _bernoulli_stream(seed: int, requests: int) -> np.ndarray:
    """Mean spend over the budget after each request, cold start, 0/1 rewards."""
    prices = {**PRICES, "dear": us.Price(60, 60)}  # 1.1 budgets: a little over the budget
    cost = {m: (p.input * 10 + p.output * 100) / 1e6 for m, p in prices.items()}
    router = us.Router([us.Arm(m, us.Single()) for m in prices], prices,
                       us.Budget(per_request=BUDGET), seed=seed)
    rng = np.random.default_rng(seed)
    spent = np.zeros(requests)
    for i in range(requests):
        d = router.decide(f"question {i}")
        router.feedback(d.id, float(rng.random() < QUALITY[d.arm.model]),
                        cost=cost[d.arm.model])
        spent[i] = cost[d.arm.model]
    return np.cumsum(spent) / (BUDGET * np.arange(1, requests + 1)) - 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_spend_does_not_fall_short_of_the_budget_either(seed: int) -> None:
    # the best arm (0.75 budgets) costs less than the budget and a better one (1.1) a
    # little more: without a floor the mean was 1-9% under the budget at some request
    # after the 100th and ended up to 3% under it (the dearer arm waited for λ to fall);
    # the floor serves the dearer arm of no lower estimated quality whenever the spend
    # would fall more than the tolerance under the budget
    over = _bernoulli_stream(seed, 150)
    tolerance = us.Budget(per_request=BUDGET).tolerance
    assert abs(over[-1]) <= tolerance
    assert over[100:].min() >= -tolerance - 0.001
    assert over.max() <= tolerance + 1e-9  # and the ceiling still holds above
