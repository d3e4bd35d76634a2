"""The vectorised cost prediction equals the per-arm formula as prices and usage change."""

from __future__ import annotations

import numpy as np

import uniscale as us
from uniscale.cost import CostModel


def per_arm(model: CostModel, arms: list[us.Arm], tokens: int,
            x: np.ndarray | None) -> np.ndarray:
    """The cost model's definition, one arm at a time."""
    out = []
    for arm in arms:
        key = f"{arm.model}/{arm.strategy.key}"
        learned = None
        if x is not None:
            value = float(model.output_model.predict([key], x)[0])
            learned = value if np.isfinite(value) else None
        out_tokens = model.expected_output_tokens(arm) if learned is None else learned
        price = model.price(arm.model)
        used, calls = model.sample_counts.expected(arm, model.calls(arm),
                                                   model.samples_per_call.get(arm.model, 1),
                                                   x=x)
        cost = (price.input * max(tokens + model.expected_extra_input_tokens(arm, x), 0.0) * calls
                + price.output * out_tokens * used) / 1_000_000
        if hasattr(arm.strategy, "expected_scorer_cost"):
            cost += arm.strategy.expected_scorer_cost * used
        out.append(cost)
    return np.array(out)


def test_cost_vector_follows_prices_backends_and_usage() -> None:
    judge = us.Judge(us.FakeBackend(["7"]), us.Price(1.0, 2.0))
    strategies = [us.Single(), us.SelfConsistency(), us.SelfConsistency(early_stop=True),
                  us.BestOfN(scorer=judge)]
    arms = list(us.ArmSpace.product(models=["a", "b"], strategies=strategies, n=[1, 3, 5]))
    model = CostModel({"a": us.Price(0.5, 1.5), "b": us.Price(3.0, 12.0)})
    rng = np.random.default_rng(0)
    for step in range(60):
        x = rng.standard_normal(8) if step % 2 else None
        tokens = int(rng.integers(0, 2000))
        np.testing.assert_allclose(model.predict_all(arms, tokens, x),
                                   per_arm(model, arms, tokens, x), rtol=1e-12, atol=0)
        arm = arms[int(rng.integers(len(arms)))]
        change = step % 5
        if change == 0:
            model.observe(arm, int(rng.integers(1, 900)), arm.n,
                          input_tokens=int(rng.integers(300, 900)), calls=1,
                          request_tokens=400, x=rng.standard_normal(8))
        elif change == 1:
            model.prices[arm.model] = us.Price(float(rng.random()), float(rng.random()) * 4)
        elif change == 2:
            model.samples_per_call[arm.model] = int(rng.integers(1, 6))
        elif change == 3:
            model.observe_cost(arm, float(rng.random()) * 0.01, 300)
        else:
            model.sample_counts.observe(arm, int(rng.integers(1, arm.n + 1)), 1,
                                        x=rng.standard_normal(8) if step % 3 else None)
    subset = arms[3:7]
    np.testing.assert_allclose(model.predict_all(subset, 10), per_arm(model, subset, 10, None),
                               rtol=1e-12, atol=0)
