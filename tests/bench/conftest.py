"""Small replay tables of the tests' own, written to temporary folders."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# (model, strategy) -> (samples per prompt, accuracy, output tokens, share of prompts served)
SPEC = {
    ("tiny", "direct"): (5, 0.45, 20, 1.0),
    ("tiny", "steps"): (1, 0.55, 60, 1.0),
    ("huge", "direct"): (3, 0.85, 20, 0.5),
    ("huge", "steps"): (1, 0.9, 60, 1.0),
}
PRICES = {"tiny": (0.5, 1.0), "huge": (20.0, 40.0)}


def write_table(folder: Path, name: str = "toy", *, prompts: int = 60, seed: int = 0,
                spec: dict[tuple[str, str], tuple[int, float, int, float]] | None = None,
                prices: dict[str, tuple[float, float]] | None = None,
                with_prices: bool = True) -> Path:
    """Write ``<name>.jsonl.gz`` (and ``<name>.models.json``) and return the table's path."""
    spec = spec or SPEC
    prices = prices or PRICES
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(prompts):
        dataset = "alpha" if p % 2 == 0 else "beta"
        words = " ".join(rng.choice(["apples", "trains", "dates", "sum", "why", "plus"], 6))
        prompt = f"Question {p} about {dataset}: {words}?"
        gold = str(p)
        split = "test" if p % 3 == 0 else "train"
        for (model, strategy), (k, acc, out_tok, share) in spec.items():
            if p >= share * prompts:
                continue
            hard = dataset == "beta"
            for s in range(k):
                r = rng.random()
                good = r < (acc - (0.2 if hard else 0.0))
                answer = gold if good else (None if r > 0.95 else f"w{int(rng.integers(3))}")
                in_tok = 30 + 10 * len(strategy)
                out = out_tok + int(rng.integers(5))
                pin, pout = prices[model]
                rows.append({
                    "dataset": dataset, "split": split, "prompt_id": f"{dataset}/{p}",
                    "prompt": prompt, "model": model, "strategy": strategy, "sample": s,
                    "answer": answer, "score": 1.0 if answer == gold else 0.0,
                    "input_tokens": in_tok, "output_tokens": out,
                    "cost_usd": (in_tok * pin + out * pout) / 1e6,
                })
    path = folder / f"{name}.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    if with_prices:
        models = {m: {"input_per_mtok": i, "output_per_mtok": o} for m, (i, o) in prices.items()}
        (folder / f"{name}.models.json").write_text(json.dumps(models))
    return path


@pytest.fixture
def make_table(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a small table into the test's temporary folder."""

    def make(**kwargs: object) -> Path:
        return write_table(tmp_path, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def toy_path(make_table: Callable[..., Path]) -> Path:
    """A ragged toy table: two models, two strategies, 1–5 samples per prompt."""
    return make_table()
