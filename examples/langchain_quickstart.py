"""An LCEL chain on ChatUniScale, offline: the router learns which arm answers GSM8K best.

Run: python examples/langchain_quickstart.py [--requests N] [--wtp USD]
(``$UNISCALE_EXAMPLE_REQUESTS`` sets the default number of requests.)

The chain is ``prompt | ChatUniScale(...) | StrOutputParser()``. Its child models replay
answers recorded by OpenAI for GSM8K test questions (the MIT-licensed table shipped in
``uniscale.data``; see its NOTICE.md): ``gpt-3-6b`` and ``gpt-3-175b``, each either
answering once (``single``) or sampling 100 solutions and returning the one a trained
verifier ranks best (``verifier-best-of-100``), with the recorded token counts. After every
request the score against the gold answer is fed back by the chain's run id, and the
script prints how the choice of arm, the accuracy and the cost per request evolve.

At $10 per right answer the large model with the verifier is worth its price; at
``--wtp 0.05`` the router settles on the large model answering once.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult, LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_uniscale import ChatUniScale

import uniscale as us

VERIFIER = "verifier-best-of-100"
VERIFIER_INSTRUCTION = (
    "Sample 100 solutions and return the one that a trained verifier ranks best."
)


def load_table() -> tuple[list[dict[str, Any]], dict[str, us.Price]]:
    """The shipped GSM8K verifier rows and the list prices of their models."""
    data = resources.files("uniscale.data")
    raw = gzip.decompress(data.joinpath("gsm8k_verifier.jsonl.gz").read_bytes())
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    models = json.loads(data.joinpath("gsm8k_verifier.models.json").read_text("utf-8"))
    prices = {name: us.Price(input=p["input_per_mtok"], output=p["output_per_mtok"])
              for name, p in models.items()}
    return rows, prices


def _answer(text: str) -> str | None:
    return us.extract_answer(text)


def _reply(answer: str | None) -> str:
    return f"The answer is {answer}." if answer is not None else "I could not solve it."


class ReplayChatModel(BaseChatModel):
    """A chat model that answers a GSM8K question with the answer ``model`` recorded.

    The strategy is read from the conversation: the verifier arm's instruction asks for
    best-of-100 with a verifier, anything else is a single sample.
    """

    model: str
    records: dict[tuple[str, str], dict[str, Any]]

    @property
    def _llm_type(self) -> str:
        return "replay"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        verifier = any(m.type == "system" and m.text == VERIFIER_INSTRUCTION for m in messages)
        row = self.records[(messages[-1].text, VERIFIER if verifier else "single")]
        message = AIMessage(
            content=_reply(row["answer"]),
            usage_metadata={"input_tokens": row["input_tokens"],
                            "output_tokens": row["output_tokens"],
                            "total_tokens": row["input_tokens"] + row["output_tokens"]},
            response_metadata={"model_name": self.model},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


class ShapeFeaturizer:
    """A three-number context: bias, question length and count of numbers in it.

    GSM8K questions differ little in ways that matter for the choice of arm, so a
    small context lets the router settle in a few hundred requests.
    """

    dim = 3

    def transform(self, messages: Sequence[us.Message]) -> np.ndarray:
        """The context vector of a conversation."""
        text = messages[-1].content if messages else ""
        numbers = sum(ch.isdigit() and (i == 0 or not text[i - 1].isdigit())
                      for i, ch in enumerate(text))
        return np.array([1.0, min(len(text) / 1000.0, 1.0), min(numbers / 10.0, 1.0)])

    def config(self) -> dict[str, Any]:
        """JSON description, saved with the learned state."""
        return {"kind": "gsm8k-shape", "dim": self.dim}


class RoutingLog(BaseCallbackHandler):
    """Keeps the routing metadata of the last chat-model call."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Read ``response_metadata["uniscale"]`` off the reply."""
        generation = response.generations[0][0]
        if isinstance(generation, ChatGeneration):
            self.last = dict(generation.message.response_metadata.get("uniscale", {}))


def best_arm(rows: list[dict[str, Any]], willingness_to_pay: float) -> str:
    """The arm with the best mean reward ``score - cost / W`` over the whole table."""
    total: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        strategy = "single" if row["strategy"] == "single" else f"single:{row['strategy']}"
        entry = total[f"{row['model']}/{strategy}/1"]
        entry[0] += row["score"] - row["cost_usd"] / willingness_to_pay
        entry[1] += 1
    return max(total, key=lambda arm: total[arm][0] / total[arm][1])


def build_chain(rows: list[dict[str, Any]], prices: dict[str, us.Price],
                willingness_to_pay: float, seed: int = 0) -> tuple[Any, ChatUniScale]:
    """The LCEL chain and its router."""
    records: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        records[row["model"]][(row["prompt"], row["strategy"])] = row
    chat = ChatUniScale(
        models={name: ReplayChatModel(model=name, records=records[name]) for name in prices},
        prices=prices,
        strategies=[us.Single(), us.Single(variant=VERIFIER, instruction=VERIFIER_INSTRUCTION)],
        objective=us.Tradeoff(willingness_to_pay=willingness_to_pay),
        featurizer=ShapeFeaturizer(),
        seed=seed,
    )
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    return prompt | chat | StrOutputParser(), chat


def run(requests: int, willingness_to_pay: float = 10.0, seed: int = 0,
        verbose: bool = True) -> list[dict[str, Any]]:
    """Serve ``requests`` GSM8K questions through the chain, feeding back each score.

    Returns:
        Per request: the arm chosen, the observed cost and the score.
    """
    rows, prices = load_table()
    chain, chat = build_chain(rows, prices, willingness_to_pay, seed)
    gold: dict[str, set[str | None]] = defaultdict(set)
    for row in rows:
        if row["score"] >= 1.0:
            gold[row["prompt"]].add(_answer(_reply(row["answer"])))
    by_split: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_split[row["split"]].add(row["prompt"])
    rng = random.Random(seed)
    questions = []
    for split in ("train", "test"):
        part = sorted(by_split[split])
        rng.shuffle(part)
        questions.extend(part)
    log = RoutingLog()
    history: list[dict[str, Any]] = []
    window = max(requests // 5, 1)
    if verbose:
        print(f"willingness to pay: ${willingness_to_pay} per right answer; "
              f"best arm in hindsight: {best_arm(rows, willingness_to_pay)}")
    for i in range(requests):
        question = questions[i % len(questions)]
        run_id = uuid.uuid4()
        text = chain.invoke({"question": question},
                            config={"run_id": run_id, "callbacks": [log]})
        score = 1.0 if _answer(text) in gold[question] else 0.0
        chat.feedback(run_id, score)  # the chain's root run credits the routed call
        history.append({"arm": log.last["arm"], "cost": log.last["observed_cost"],
                        "score": score})
        if verbose and ((i + 1) % window == 0 or i + 1 == requests):
            recent = history[-((i % window) + 1):]
            picks = Counter(h["arm"] for h in recent)
            shares = ", ".join(f"{arm} {count / len(recent):.0%}"
                               for arm, count in picks.most_common())
            accuracy = sum(h["score"] for h in recent) / len(recent)
            cost = sum(h["cost"] for h in recent) / len(recent)
            print(f"requests {i + 2 - len(recent):>5}-{i + 1:<5} accuracy {accuracy:.2f}  "
                  f"cost/request ${cost:.5f}  arms: {shares}")
    return history


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int,
                        default=int(os.environ.get("UNISCALE_EXAMPLE_REQUESTS", "1000")))
    parser.add_argument("--wtp", type=float, default=10.0,
                        help="USD you would pay for one more right answer (try 0.05)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    history = run(args.requests, args.wtp, args.seed)
    total = sum(h["cost"] for h in history)
    accuracy = sum(h["score"] for h in history) / max(len(history), 1)
    print(f"total: {len(history)} requests, accuracy {accuracy:.3f}, cost ${total:.4f}")


if __name__ == "__main__":
    main()
