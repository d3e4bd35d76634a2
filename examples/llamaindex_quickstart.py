"""UniScale in a LlamaIndex query engine, offline.

A small ``VectorStoreIndex`` (mock embeddings) answers grade-school math questions through
``UniScaleLLM``, which routes each question to one of two child LLMs. The children replay
answers that GPT-3 6B and GPT-3 175B really gave to those GSM8K questions (the MIT-licensed
table shipped in ``uniscale.data``), with their recorded token counts. Each answer's
recorded correctness is fed back, and the router learns which model is worth its price.

Run it with ``python examples/llamaindex_quickstart.py [--requests 200] [--wtp 0.05]``;
it needs ``pip install uniscale llama-index-llms-uniscale`` and no network.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from importlib import resources
from typing import Any

import numpy as np
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.llms.uniscale import UniScaleLLM

import uniscale as us

MODELS = ("gpt-3-6b", "gpt-3-175b")
NOTES = [
    "To find what is left, subtract what was used from what there was at the start.",
    "A rate times a time gives an amount: dollars per hour times hours gives dollars.",
    "x percent of y is x times y divided by 100.",
    "When items are shared equally, divide the total by the number of people.",
]


def load_table() -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, us.Price]]:
    """Recorded single-sample answers by question and model, and the models' prices."""
    data = resources.files("uniscale.data")
    with data.joinpath("gsm8k_verifier.jsonl.gz").open("rb") as raw, \
            gzip.open(raw, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        if row["strategy"] == "single" and row["model"] in MODELS:
            table.setdefault(row["prompt"], {})[row["model"]] = row
    listed = json.loads(data.joinpath("gsm8k_verifier.models.json").read_text())
    prices = {m: us.Price(input=listed[m]["input_per_mtok"], output=listed[m]["output_per_mtok"])
              for m in MODELS}
    return {q: by_model for q, by_model in table.items() if len(by_model) == len(MODELS)}, prices


class ReplayLLM(CustomLLM):
    """A child LLM that answers a question with the answer its model gave when recorded."""

    model: str
    table: dict[str, dict[str, dict[str, Any]]]

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, context_window=2048)

    def row(self, prompt: str) -> dict[str, Any]:
        """The recorded row of the question inside a query engine's prompt."""
        found = re.search(r"Query: (.*)\nAnswer:", prompt, flags=re.DOTALL)
        question = found.group(1).strip() if found else prompt.strip()
        return self.table[question][self.model]

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        row = self.row(prompt)
        usage = {"prompt_tokens": row["input_tokens"], "completion_tokens": row["output_tokens"]}
        return CompletionResponse(text=f"The answer is {row['answer']}.", raw={"usage": usage})

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt, formatted, **kwargs)
        return (r for r in [response])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Route ``--requests`` questions through a query engine, with feedback; print a summary.

    Returns:
        The summary figures (also printed).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="questions to route")
    parser.add_argument("--wtp", type=float, default=0.05,
                        help="willingness to pay: USD per right answer instead of a wrong one")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    table, prices = load_table()
    llm = UniScaleLLM(
        models={m: ReplayLLM(model=m, table=table) for m in MODELS},
        prices=prices,
        objective=us.Tradeoff(willingness_to_pay=args.wtp),
        seed=args.seed,
    )
    index = VectorStoreIndex.from_documents([Document(text=t) for t in NOTES],
                                            embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)

    questions = sorted(table)
    order = np.random.default_rng(args.seed).permutation(len(questions))[: args.requests]
    picks: Counter[str] = Counter()
    quality = cost = 0.0
    for step, i in enumerate(order):
        question = questions[int(i)]
        with llm.track() as turn:
            answer = engine.query(question)
        (call,) = turn.calls  # the query engine called the LLM once
        model = call["model"]
        score = table[question][model]["score"]  # was the recorded answer right?
        turn.feedback(score)
        picks[model] += 1
        quality += score
        cost += call["cost"]
        if step < 3:
            print(f"Q: {question[:70]}...\n   {model}: {answer}  (right: {bool(score)})")

    asked = [questions[int(i)] for i in order]
    summary = {
        "requests": len(order),
        "feedback": llm.router.stats["feedback"],
        "picks": dict(picks),
        "quality": quality / len(order),
        "cost_usd": cost,
        "fixed": {m: {"quality": float(np.mean([table[q][m]["score"] for q in asked])),
                      "cost_usd": float(sum(table[q][m]["cost_usd"] for q in asked))}
                  for m in MODELS},
    }
    print(f"\nrouted {summary['requests']} questions, learned from {summary['feedback']} "
          f"feedback scores; picks: {summary['picks']}")
    print(f"{'uniscale:':<17}quality {summary['quality']:.3f}, cost ${summary['cost_usd']:.4f}")
    for m, fig in summary["fixed"].items():
        print(f"{m + ' only:':<17}quality {fig['quality']:.3f}, cost ${fig['cost_usd']:.4f}")
    return summary


if __name__ == "__main__":
    main()
