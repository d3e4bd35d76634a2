"""A second synthetic workload: topics told apart only by the words of the prompt.

Unlike :mod:`uniscale.testing.synthetic` (whose prompts carry their category's name),
a prompt here is a bag of words drawn from its topic's vocabulary mixed with words every
topic uses, so the featurizer must pick the signal out of noise. Each model's accuracy
depends on the topic, and so does the length of its answers (code answers are long),
so the cheapest good arm — and its cost — differ from topic to topic.
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
from ..objective import Tradeoff
from ..router import Router
from ..strategies import SelfConsistency, Single
from ..types import Request

__all__ = ["Topic", "TopicWorkload", "best_single_arm", "run_cold_start"]

_COMMON = ("please", "help", "me", "with", "this", "the", "a", "of", "and", "in", "for",
           "to", "is", "my", "our", "team", "now", "today", "some", "again")


@dataclass(frozen=True)
class Topic:
    """A kind of request: its vocabulary, each model's accuracy and answer length."""

    name: str
    words: tuple[str, ...]
    accuracy: dict[str, float]
    answer_tokens: int


DEFAULT_TOPICS = (
    Topic("trivia", ("capital", "river", "country", "largest", "famous", "city"),
          {"mini": 0.9, "mid": 0.94, "max": 0.96}, 40),
    Topic("arithmetic", ("add", "multiply", "divide", "total", "percent", "numbers"),
          {"mini": 0.55, "mid": 0.8, "max": 0.92}, 120),
    Topic("logic", ("puzzle", "riddle", "deduce", "knights", "liars", "implies"),
          {"mini": 0.3, "mid": 0.62, "max": 0.85}, 200),
    Topic("code", ("function", "python", "bug", "compile", "class", "refactor"),
          {"mini": 0.2, "mid": 0.45, "max": 0.88}, 600),
)

DEFAULT_PRICES = {
    "mini": Price(input=0.15, output=0.6),
    "mid": Price(input=1.0, output=4.0),
    "max": Price(input=5.0, output=25.0),
}


class TopicWorkload:
    """Prompts, backends and ground truth of the topic workload.

    Args:
        topics: The request kinds.
        prices: Price per model.
        signal_words: Topic words per prompt (the rest are common words).
        length: Words per prompt.
        distractors: Distinct wrong answers.
        seed: Seed of prompts and answers.
    """

    def __init__(self, topics: Sequence[Topic] = DEFAULT_TOPICS,
                 prices: dict[str, Price] | None = None, *, signal_words: int = 3,
                 length: int = 10, distractors: int = 5, seed: int = 0) -> None:
        self.topics = tuple(topics)
        self.prices = dict(prices or DEFAULT_PRICES)
        self.signal_words = signal_words
        self.length = length
        self.distractors = distractors
        self.rng = np.random.default_rng(seed)
        self._topic_of: dict[str, Topic] = {}

    @property
    def models(self) -> tuple[str, ...]:
        """Model names."""
        return tuple(self.prices)

    def arms(self, n: Sequence[int] = (3, 5)) -> ArmSpace:
        """Single plus self-consistency arms of every model (9 with the defaults)."""
        return ArmSpace.product(self.models, [Single(), SelfConsistency()], [1, *n])

    def prompt(self) -> tuple[str, Topic]:
        """A random prompt and its topic."""
        topic = self.topics[int(self.rng.integers(len(self.topics)))]
        words = list(self.rng.choice(topic.words, self.signal_words))
        words += list(self.rng.choice(_COMMON, self.length - self.signal_words))
        self.rng.shuffle(words)
        text = " ".join(words) + "?"
        self._topic_of[text] = topic
        return text, topic

    def _answer(self, request: Request, model: str, rng: np.random.Generator) -> str:
        topic = self._topic_of[request.prompt]
        pad = "x" * (4 * self.answer_tokens(topic, model) - 20)
        if rng.random() < topic.accuracy[model]:
            return f"{pad} The answer is 42"
        return f"{pad} The answer is {int(rng.integers(self.distractors))}"

    def answer_tokens(self, topic: Topic, model: str) -> int:
        """Output tokens of one answer of ``model`` on ``topic`` (the same for every model)."""
        return topic.answer_tokens

    def backends(self) -> dict[str, FakeBackend]:
        """A fake backend per model that returns many samples per call."""
        def responder(model: str) -> Callable[[Request, np.random.Generator], str]:
            return lambda request, rng: self._answer(request, model, rng)

        return {m: FakeBackend(responder(m), max_samples_per_call=64,
                               rng=np.random.default_rng(int(self.rng.integers(2**32))))
                for m in self.models}

    @staticmethod
    def score(text: str) -> float:
        """1.0 for the right answer, else 0.0."""
        return 1.0 if extract_answer(text) == "42" else 0.0

    def expected_quality(self, topic: Topic, arm: Arm, trials: int = 4000) -> float:
        """Probability that ``arm`` answers ``topic`` right (Monte Carlo for votes)."""
        p = topic.accuracy[arm.model]
        if arm.n == 1:
            return p
        rng = np.random.default_rng(7)
        wins = 0
        for _ in range(trials):
            answers = ["42" if rng.random() < p else str(rng.integers(self.distractors))
                       for _ in range(arm.n)]
            index, _ = majority_vote(answers)
            wins += answers[index] == "42"
        return wins / trials

    def expected_cost(self, topic: Topic, arm: Arm, input_tokens: int) -> float:
        """USD of ``arm`` on a ``topic`` request (one call returns every sample)."""
        price = self.prices[arm.model]
        return (price.input * input_tokens
                + price.output * self.answer_tokens(topic, arm.model) * arm.n) / 1e6


def best_single_arm(wl: TopicWorkload, willingness_to_pay: float, input_tokens: int = 20
                    ) -> Arm:
    """The arm of best expected reward ``quality − cost/W`` over ``wl``'s topics.

    What a user would run today, having compared the arms on a sample of their traffic
    (each topic weighs the same, as the workload draws them).

    Args:
        wl: The workload.
        willingness_to_pay: ``W`` of the trade-off.
        input_tokens: Input tokens of a typical request.
    """
    def reward(arm: Arm) -> float:
        return float(np.mean([wl.expected_quality(t, arm, 2000)
                              - wl.expected_cost(t, arm, input_tokens) / willingness_to_pay
                              for t in wl.topics]))

    return max(wl.arms(), key=reward)


def run_cold_start(wl: TopicWorkload, objective: Tradeoff, steps: int, seed: int = 0,
                   prepare: Callable[[Router], None] | None = None, **settings: Any
                   ) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Serve ``steps`` prompts of ``wl`` through a fresh router (invoke, score, feedback).

    Args:
        wl: The workload (its prompts are drawn in order).
        objective: The router's objective; rewards are ``quality − cost/W`` of its ``W``.
        steps: Requests to serve.
        seed: Seed of the router.
        prepare: Called with the fresh router before the first request (e.g. to set
            its ``guard``).
        **settings: Other :class:`~uniscale.Router` settings.

    Returns:
        The expected reward of each choice, that of every fixed arm on the same requests
        (by arm key), and the key of each chosen arm.
    """
    wtp = objective.willingness_to_pay
    arms = list(wl.arms())
    quality = {(t.name, a.key): wl.expected_quality(t, a, 2000) for t in wl.topics for a in arms}
    router = Router(arms, wl.prices, objective, wl.backends(), seed=seed, **settings)
    if prepare is not None:
        prepare(router)
    got, chosen = np.empty(steps), []
    fixed = {a.key: np.empty(steps) for a in arms}
    for i in range(steps):
        prompt, topic = wl.prompt()
        r = router.invoke(prompt)
        router.feedback(r.decision.id, wl.score(r.text))
        tokens = r.decision.input_tokens
        for a in arms:
            fixed[a.key][i] = (quality[(topic.name, a.key)]
                               - wl.expected_cost(topic, a, tokens) / wtp)
        got[i] = fixed[r.decision.arm.key][i]
        chosen.append(r.decision.arm.key)
    return got, fixed, chosen
