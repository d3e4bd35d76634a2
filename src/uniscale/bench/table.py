"""Replay tables: loading the recorded-outcome schema into dense arrays.

A table is a ``.jsonl.gz`` file with one JSON object per recorded LLM sample and the
fields ``dataset, split, prompt_id, prompt, model, strategy, sample, answer, score,
input_tokens, output_tokens, cost_usd``; a ``<table>.models.json`` next to it gives the
list price of every model (``input_per_mtok``, ``output_per_mtok``).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cost import Price

__all__ = ["DATA_ENV", "Table", "load_table", "resolve_table", "table_search_path"]

DATA_ENV = "UNISCALE_DATA"
"""Environment variable naming extra folders (``os.pathsep``-separated) to find tables in."""

_FIELDS = ("dataset", "split", "prompt_id", "prompt", "model", "strategy", "sample",
           "answer", "score", "input_tokens", "output_tokens", "cost_usd")


@dataclass(frozen=True, eq=False)
class Table:
    """A replay table laid out as dense arrays.

    ``P`` prompts, ``G`` (model, strategy) pairs and at most ``K`` samples per pair and
    prompt. Cells past ``counts[p, g]`` are padding.

    Attributes:
        name: Table name (file name without ``.jsonl.gz``).
        prompt_ids: ``(P,)`` prompt ids, in first-seen order.
        prompts: ``(P,)`` prompt texts.
        datasets: ``(P,)`` dataset of each prompt.
        is_test: ``(P,)`` True for prompts of the test split.
        pairs: ``G`` ``(model, strategy)`` pairs, sorted.
        prices: List price per model.
        counts: ``(P, G)`` recorded samples per prompt and pair (0: cannot serve).
        score: ``(P, G, K)`` score of each sample.
        answer: ``(P, G, K)`` answer id of each sample (``-1``: no answer).
        cost: ``(P, G, K)`` USD of each sample charged as its own call.
        input_tokens: ``(P, G)`` input tokens of one call.
        output_tokens: ``(P, G, K)`` output tokens of each sample.
        answers: Answer strings by id.
    """

    name: str
    prompt_ids: np.ndarray
    prompts: np.ndarray
    datasets: np.ndarray
    is_test: np.ndarray
    pairs: tuple[tuple[str, str], ...]
    prices: dict[str, Price]
    counts: np.ndarray
    score: np.ndarray
    answer: np.ndarray
    cost: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    answers: tuple[str, ...]

    @property
    def models(self) -> tuple[str, ...]:
        """Models of the table, sorted."""
        return tuple(sorted({m for m, _ in self.pairs}))

    @property
    def n_prompts(self) -> int:
        """Number of prompts ``P``."""
        return len(self.prompt_ids)

    def pair_index(self, model: str, strategy: str) -> int:
        """Index of a (model, strategy) pair."""
        return self.pairs.index((model, strategy))

    def subset(self, prompts: np.ndarray) -> Table:
        """The table restricted to some prompts (indices or a boolean mask)."""
        idx = np.flatnonzero(prompts) if prompts.dtype == bool else np.asarray(prompts)
        return Table(
            name=self.name, prompt_ids=self.prompt_ids[idx], prompts=self.prompts[idx],
            datasets=self.datasets[idx], is_test=self.is_test[idx], pairs=self.pairs,
            prices=self.prices, counts=self.counts[idx], score=self.score[idx],
            answer=self.answer[idx], cost=self.cost[idx],
            input_tokens=self.input_tokens[idx], output_tokens=self.output_tokens[idx],
            answers=self.answers,
        )


def table_search_path(extra: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for a bare table name, in order.

    ``extra`` first, then every folder of ``$UNISCALE_DATA``, the tables shipped in the
    package, and ``../shared/data`` relative to the working directory and to the source
    checkout.
    """
    paths: list[Path] = []
    if extra is not None:
        paths.append(Path(extra))
    paths += [Path(p) for p in os.environ.get(DATA_ENV, "").split(os.pathsep) if p]
    paths.append(Path(__file__).resolve().parent.parent / "data")
    paths.append(Path.cwd().parent / "shared" / "data")
    here = Path(__file__).resolve()
    if len(here.parents) > 4:
        paths.append(here.parents[4] / "shared" / "data")
    return paths


def resolve_table(name: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
                  ) -> Path:
    """The file of a table given as a path or a bare name (``"date_mot"``).

    Raises:
        FileNotFoundError: When no folder of :func:`table_search_path` holds it.
    """
    path = Path(name)
    if path.suffix == ".gz" or path.exists():
        if path.exists():
            return path
        raise FileNotFoundError(f"no table file {path}")
    searched = table_search_path(data_dir)
    for folder in searched:
        candidate = folder / f"{name}.jsonl.gz"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"table {name!r} not found in {[str(p) for p in searched]}; pass a path to a "
        f".jsonl.gz file, --data-dir, or set ${DATA_ENV}"
    )


def _read_prices(path: Path, rows: list[dict[str, Any]]) -> dict[str, Price]:
    models_file = path.with_name(path.name.replace(".jsonl.gz", ".models.json"))
    prices: dict[str, Price] = {}
    if models_file.exists():
        raw = json.loads(models_file.read_text())
        for model, spec in raw.items():
            prices[model] = Price(float(spec["input_per_mtok"]), float(spec["output_per_mtok"]))
    missing = sorted({r["model"] for r in rows} - set(prices))
    for model in missing:  # infer a price from the rows by least squares
        sel = [r for r in rows if r["model"] == model]
        a = np.array([[r["input_tokens"], r["output_tokens"]] for r in sel], dtype=float)
        c = np.array([r["cost_usd"] for r in sel], dtype=float) * 1e6
        sol = np.linalg.lstsq(a, c, rcond=None)[0]
        prices[model] = Price(max(float(sol[0]), 0.0), max(float(sol[1]), 0.0))
    return prices


def load_table(name: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
               ) -> Table:
    """Load a replay table.

    Args:
        name: A path to a ``.jsonl.gz`` file or a bare table name.
        data_dir: Folder searched first for a bare name.

    Returns:
        The table.

    Raises:
        FileNotFoundError: When the table cannot be found.
        ValueError: When a row lacks a field of the schema.
    """
    path = resolve_table(name, data_dir)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if not rows:
        raise ValueError(f"table {path} is empty")
    for field in _FIELDS:
        if field not in rows[0]:
            raise ValueError(f"table {path}: rows lack the field {field!r}")
    prompt_index: dict[tuple[str, str], int] = {}
    prompt_rows: list[dict[str, Any]] = []
    pairs = sorted({(r["model"], r["strategy"]) for r in rows})
    pair_index = {p: i for i, p in enumerate(pairs)}
    answer_index: dict[str, int] = {}
    cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["dataset"], r["prompt_id"])
        p = prompt_index.setdefault(key, len(prompt_index))
        if p == len(prompt_rows):
            prompt_rows.append(r)
        cells.setdefault((p, pair_index[(r["model"], r["strategy"])]), []).append(r)
    P, G = len(prompt_index), len(pairs)
    K = max(len(v) for v in cells.values())
    counts = np.zeros((P, G), dtype=np.int64)
    score = np.zeros((P, G, K))
    answer = np.full((P, G, K), -1, dtype=np.int64)
    cost = np.zeros((P, G, K))
    out_tok = np.zeros((P, G, K))
    in_tok = np.zeros((P, G))
    for (p, g), cell in cells.items():
        cell.sort(key=lambda r: r["sample"])
        counts[p, g] = len(cell)
        in_tok[p, g] = cell[0]["input_tokens"]
        for k, r in enumerate(cell):
            score[p, g, k] = float(r["score"])
            cost[p, g, k] = float(r["cost_usd"])
            out_tok[p, g, k] = float(r["output_tokens"])
            if r["answer"] is not None:
                answer[p, g, k] = answer_index.setdefault(str(r["answer"]), len(answer_index))
    table_name = path.name[: -len(".jsonl.gz")] if path.name.endswith(".jsonl.gz") \
        else path.stem
    return Table(
        name=table_name,
        prompt_ids=np.array([r["prompt_id"] for r in prompt_rows], dtype=object),
        prompts=np.array([r["prompt"] for r in prompt_rows], dtype=object),
        datasets=np.array([r["dataset"] for r in prompt_rows], dtype=object),
        is_test=np.array([r["split"] == "test" for r in prompt_rows]),
        pairs=tuple(pairs), prices=_read_prices(path, rows), counts=counts, score=score,
        answer=answer, cost=cost, input_tokens=in_tok, output_tokens=out_tok,
        answers=tuple(answer_index),
    )
