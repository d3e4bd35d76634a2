"""A synthetic text workload whose best arm depends on the prompt.

Requests belong to categories (topic × difficulty). Each model answers a category
correctly with a known probability; wrong answers spread over a few distractors, so
self-consistency voting helps where the model is right more often than not. The
workload knows every arm's expected quality and cost, so policies can be compared to
random choice and to the per-prompt oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arms import Arm, ArmSpace
from ..backends.fake import FakeBackend
from ..cost import Price
from ..extract import extract_answer, majority_vote
from ..strategies import SelfConsistency, Single
from ..types import Request

__all__ = ["Category", "SyntheticWorkload", "Trace", "run_online"]

_FILLER = ("please", "quickly", "today", "for", "my", "team", "the", "a", "report", "note")


@dataclass(frozen=True)
class Category:
    """A kind of request: the words that mark it and each model's accuracy on it."""

    name: str
    words: tuple[str, ...]
    accuracy: dict[str, float]


DEFAULT_CATEGORIES = (
    Category("easy-chat", ("easy", "chat", "greeting"),
             {"small": 0.93, "medium": 0.95, "large": 0.97}),
    Category("easy-math", ("easy", "math", "sum"),
             {"small": 0.62, "medium": 0.85, "large": 0.95}),
    Category("hard-math", ("hard", "math", "proof"),
             {"small": 0.15, "medium": 0.55, "large": 0.7}),
    Category("hard-code", ("hard", "code", "refactor"),
             {"small": 0.1, "medium": 0.35, "large": 0.9}),
)

DEFAULT_PRICES = {
    "small": Price(input=0.1, output=0.4),
    "medium": Price(input=1.0, output=4.0),
    "large": Price(input=5.0, output=20.0),
}


class SyntheticWorkload:
    """Prompts, backends and ground truth for a routing experiment.

    Args:
        categories: The request kinds.
        prices: Price per model.
        output_tokens: Tokens each sample bills.
        distractors: Number of distinct wrong answers.
        rng: Generator for prompts and answers.
    """

    def __init__(
        self,
        categories: Sequence[Category] = DEFAULT_CATEGORIES,
        prices: dict[str, Price] | None = None,
        *,
        output_tokens: int = 200,
        distractors: int = 4,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.categories = tuple(categories)
        self.prices = dict(prices or DEFAULT_PRICES)
        self.output_tokens = output_tokens
        self.distractors = distractors
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self._by_word = {c.name: c for c in self.categories}

    @property
    def models(self) -> tuple[str, ...]:
        """Model names."""
        return tuple(self.prices)

    def arms(self, n: Sequence[int] = (3, 5, 8)) -> ArmSpace:
        """Single plus self-consistency arms for every model (12 with the defaults)."""
        return ArmSpace.product(self.models, [Single(), SelfConsistency()], [1, *n])

    def prompt(self) -> tuple[str, Category]:
        """A random prompt and its category."""
        category = self.categories[int(self.rng.integers(len(self.categories)))]
        filler = list(self.rng.choice(_FILLER, size=4))
        words = [*category.words, *filler]
        self.rng.shuffle(words)
        return f"[{category.name}] " + " ".join(words) + "?", category

    def category_of(self, prompt: str) -> Category:
        """The category a prompt was drawn from."""
        return self._by_word[prompt[1:prompt.index("]")]]

    def _answer(self, request: Request, model: str, rng: np.random.Generator) -> str:
        accuracy = self.category_of(request.prompt).accuracy[model]
        if rng.random() < accuracy:
            return "The answer is 42"
        return f"The answer is {int(rng.integers(self.distractors))}"

    def backends(self) -> dict[str, FakeBackend]:
        """A fake backend per model, able to return several samples per call."""
        def responder(model: str) -> Callable[[Request, np.random.Generator], str]:
            return lambda request, rng: self._answer(request, model, rng)

        return {
            model: FakeBackend(
                responder(model), max_samples_per_call=64, output_tokens=self.output_tokens,
                rng=np.random.default_rng(int(self.rng.integers(2**32))),
            )
            for model in self.models
        }

    @staticmethod
    def score(text: str) -> float:
        """1.0 for the right answer, else 0.0."""
        return 1.0 if extract_answer(text) == "42" else 0.0

    def expected_quality(self, category: Category, arm: Arm, trials: int = 4000) -> float:
        """Probability that ``arm`` answers ``category`` right (Monte Carlo for votes)."""
        p = category.accuracy[arm.model]
        if arm.n == 1:
            return p
        rng = np.random.default_rng(12345)
        right = rng.random((trials, arm.n)) < p
        wrong = rng.integers(self.distractors, size=(trials, arm.n))
        wins = 0
        for row_right, row_wrong in zip(right, wrong, strict=True):
            answers = ["42" if r else str(w) for r, w in zip(row_right, row_wrong, strict=True)]
            index, _ = majority_vote(answers)
            wins += answers[index] == "42"
        return wins / trials

    def expected_cost(self, arm: Arm, input_tokens: int) -> float:
        """USD of ``arm`` on a request of ``input_tokens`` tokens (one call per arm)."""
        price = self.prices[arm.model]
        return (price.input * input_tokens + price.output * self.output_tokens * arm.n) / 1e6


@dataclass(frozen=True)
class Trace:
    """Per-request figures of an online run on a :class:`SyntheticWorkload`.

    Attributes:
        reward: Expected reward of the chosen arm (quality − cost / W).
        oracle: Expected reward of the best arm for that request.
        uniform: Mean expected reward over all arms (random choice).
        quality: Expected quality of the chosen arm.
        cost: Observed USD.
    """

    reward: np.ndarray
    oracle: np.ndarray
    uniform: np.ndarray
    quality: np.ndarray
    cost: np.ndarray

    def gap_closed(self, part: slice) -> float:
        """(R − R_random) / (R_oracle − R_random) over ``part`` of the run."""
        r, o, u = (float(np.mean(v[part])) for v in (self.reward, self.oracle, self.uniform))
        return (r - u) / (o - u)


def run_online(workload: SyntheticWorkload, router: Any, steps: int,
               willingness_to_pay: float) -> Trace:
    """Serve ``steps`` requests through ``router.invoke`` with feedback, tracing rewards.

    Args:
        workload: The workload (its backends must be the router's).
        router: A :class:`~uniscale.Router` over ``workload``'s arms.
        steps: Requests to serve.
        willingness_to_pay: USD per unit of quality used to score rewards.
    """
    arms = list(router.arms)
    quality = {(c.name, a.key): workload.expected_quality(c, a)
               for c in workload.categories for a in arms}
    rows = []
    for _ in range(steps):
        prompt, category = workload.prompt()
        result = router.invoke(prompt)
        router.feedback(result.decision.id, workload.score(result.text))
        tokens = result.decision.input_tokens
        reward = {a.key: quality[(category.name, a.key)]
                  - workload.expected_cost(a, tokens) / willingness_to_pay for a in arms}
        key = result.decision.arm.key
        rows.append((reward[key], max(reward.values()), float(np.mean(list(reward.values()))),
                     quality[(category.name, key)], result.cost))
    table = np.array(rows)
    return Trace(*(table[:, i] for i in range(5)))
