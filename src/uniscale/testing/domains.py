"""A third synthetic workload: 30 arms, specialist models, prompts of varying length.

Written to check cold-start settings chosen on :mod:`uniscale.testing.topics` on a
workload they were not tuned on. It differs from the topic workload where it matters for
exploration: six models and five sample counts (30 arms), specialist models (a cheap
coder that is good at SQL only, a reasoner that is good at math but writes long
answers), domains that share some of their words, only two telling words in prompts of
6 to 30 words (so input tokens, and the cost of every arm, vary from prompt to prompt),
and answer lengths that depend on the model as well as on the domain.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..arms import ArmSpace
from ..cost import Price
from ..strategies import SelfConsistency, Single
from .topics import Topic, TopicWorkload

__all__ = ["DomainWorkload"]

_COMMON = ("please", "can", "you", "check", "this", "the", "a", "of", "and", "in", "for",
           "to", "is", "my", "our", "client", "asap", "thanks", "below", "quick", "draft",
           "need", "it", "by", "monday", "again", "see", "attached")

DEFAULT_DOMAINS = (
    Topic("chitchat", ("hello", "weekend", "movie", "recommend", "favourite", "table"),
          {"nano": 0.9, "small": 0.93, "coder": 0.7, "medium": 0.94, "reasoner": 0.9,
           "frontier": 0.96}, 30),
    Topic("extraction", ("invoice", "extract", "fields", "table", "contract", "date"),
          {"nano": 0.55, "small": 0.8, "coder": 0.75, "medium": 0.88, "reasoner": 0.85,
           "frontier": 0.95}, 80),
    Topic("sql", ("query", "join", "select", "schema", "table", "index"),
          {"nano": 0.2, "small": 0.4, "coder": 0.9, "medium": 0.6, "reasoner": 0.7,
           "frontier": 0.92}, 150),
    Topic("math", ("integral", "prove", "equation", "solve", "probability", "date"),
          {"nano": 0.15, "small": 0.35, "coder": 0.45, "medium": 0.55, "reasoner": 0.9,
           "frontier": 0.8}, 250),
    Topic("legal", ("contract", "clause", "liability", "court", "statute", "invoice"),
          {"nano": 0.3, "small": 0.5, "coder": 0.3, "medium": 0.7, "reasoner": 0.75,
           "frontier": 0.9}, 300),
)

DEFAULT_PRICES = {
    "nano": Price(input=0.05, output=0.2),
    "small": Price(input=0.3, output=1.2),
    "coder": Price(input=0.2, output=0.8),
    "medium": Price(input=1.5, output=6.0),
    "reasoner": Price(input=1.0, output=4.0),
    "frontier": Price(input=8.0, output=30.0),
}

VERBOSITY = {"nano": 0.6, "small": 0.8, "coder": 1.0, "medium": 1.0, "reasoner": 3.0,
             "frontier": 1.2}
"""Answer length of each model relative to its domain's."""


class DomainWorkload(TopicWorkload):
    """Prompts, backends and ground truth of the domain workload.

    Args:
        domains: The request kinds.
        prices: Price per model.
        verbosity: Answer length of each model relative to the domain's.
        shortest: Fewest words in a prompt.
        longest: Most words in a prompt.
        seed: Seed of prompts and answers.
    """

    def __init__(self, domains: Sequence[Topic] = DEFAULT_DOMAINS,
                 prices: dict[str, Price] | None = None,
                 verbosity: dict[str, float] | None = None, *, shortest: int = 6,
                 longest: int = 30, seed: int = 0) -> None:
        super().__init__(domains, prices or DEFAULT_PRICES, signal_words=2, length=shortest,
                         distractors=3, seed=seed)
        self.verbosity = dict(verbosity or VERBOSITY)
        self.longest = longest

    def arms(self, n: Sequence[int] = (3, 5, 7, 9)) -> ArmSpace:
        """Single plus self-consistency arms of every model (30 with the defaults)."""
        return ArmSpace.product(self.models, [Single(), SelfConsistency()], [1, *n])

    def prompt(self) -> tuple[str, Topic]:
        """A random prompt (of a random length) and its domain."""
        topic = self.topics[int(self.rng.integers(len(self.topics)))]
        length = int(self.rng.integers(self.length, self.longest + 1))
        words = list(self.rng.choice(topic.words, self.signal_words, replace=False))
        words += list(self.rng.choice(_COMMON, length - self.signal_words))
        self.rng.shuffle(words)
        text = " ".join(words) + "."
        self._topic_of[text] = topic
        return text, topic

    def answer_tokens(self, topic: Topic, model: str) -> int:
        """Output tokens of one answer: the domain's length times the model's verbosity."""
        return max(round(topic.answer_tokens * self.verbosity[model]), 8)
