"""After a few hundred calls with feedback, UniScaleLLM picks the best arm for the trade-off."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import numpy as np
import pytest
import uniscale as us
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from llama_index.llms.uniscale import UniScaleLLM

FILLER = "You are a careful assistant. Read the question and answer with a number. " * 5


class QuizLLM(CustomLLM):
    """Answers "What is x plus y?" right with probability ``accuracy``; 100 + 10 tokens."""

    accuracy: float = 0.5
    seed: int = 0
    _rng: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="quiz")

    def _answer(self, prompt: str) -> int:
        x, y = (int(v) for v in re.findall(r"What is (\d+) plus (\d+)\?", prompt)[-1])
        with self._lock:
            if self._rng is None:
                self._rng = np.random.default_rng(self.seed)
            right = self._rng.random() < self.accuracy
            miss = int(self._rng.integers(1, 1000))
        return x + y if right else x + y + miss

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(
            text=f"The answer is {self._answer(prompt)}",
            raw={"usage": {"prompt_tokens": 100, "completion_tokens": 10}},
        )

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt, formatted, **kwargs)
        return (r for r in [response])


def vote_of_three(p: float) -> float:
    """Quality of a 3-sample vote: wrong sums rarely agree; a 1-1-1 tie goes to the first."""
    return p**3 + 3 * p**2 * (1 - p) + p * (1 - p) ** 2


def expected_rewards(llm: UniScaleLLM, quality: dict[str, float], w: float) -> dict[str, float]:
    """Quality minus observed cost / W of each arm (100 + 10 tokens per sample)."""
    prices = llm.router.costs.prices
    return {a.key: quality[a.key] - prices[a.model].cost(us.Usage(100 * a.n, 10 * a.n)) / w
            for a in llm.router.arms}


@pytest.mark.parametrize(("w", "best"), [
    (0.055, "large/single/1"),  # neither the cheapest nor the most accurate arm
    (0.001, "small/single/1"),  # quality is worth little: the cheapest arm wins
])
def test_router_learns_the_best_arm_for_the_tradeoff(w: float, best: str) -> None:
    llm = UniScaleLLM(
        models={"small": QuizLLM(accuracy=0.3, seed=1), "large": QuizLLM(accuracy=0.95, seed=2)},
        prices={"small": us.Price(input=1.0, output=1.0),
                "large": us.Price(input=100.0, output=100.0)},
        strategies=[us.Single(), us.SelfConsistency()], n=[1, 3],
        objective=us.Tradeoff(willingness_to_pay=w), seed=0,
    )
    quality = {"small/single/1": 0.3, "small/sc/3": vote_of_three(0.3),
               "large/single/1": 0.95, "large/sc/3": vote_of_three(0.95)}
    rewards = expected_rewards(llm, quality, w)
    assert max(rewards, key=rewards.__getitem__) == best
    assert sorted(rewards.values())[-1] - sorted(rewards.values())[-2] > 0.05
    rng = np.random.default_rng(7)
    picks: list[str] = []
    for _ in range(300):
        x, y = (int(v) for v in rng.integers(10, 99, size=2))
        response = llm.complete(f"{FILLER}What is {x} plus {y}?")
        picks.append(response.additional_kwargs["uniscale"]["arm"])
        llm.feedback(response, 1.0 if response.text.endswith(f" {x + y}") else 0.0)
    tail = Counter(picks[-100:])
    assert tail[best] >= 70, tail
