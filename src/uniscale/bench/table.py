"""Replay tables: loading the recorded-outcome schema into dense arrays.

A table is a ``.jsonl.gz`` file with one JSON object per recorded LLM sample and the
fields ``dataset, split, prompt_id, prompt, model, strategy, sample, answer, score,
input_tokens, output_tokens, cost_usd``; a ``<table>.models.json`` next to it gives the
list price of every model (``input_per_mtok``, ``output_per_mtok``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cost import Price
from ..errors import ConfigurationError

__all__ = ["DATA_ENV", "TABLE_DEFAULTS", "Table", "TableError", "declared_aggregate",
           "load_table", "resolve_table", "table_search_path"]

DATA_ENV = "UNISCALE_DATA"
"""Environment variable naming extra folders (``os.pathsep``-separated) to find tables in."""

TABLE_DEFAULTS: dict[str, dict[str, str]] = {
    "game24_tot": {"aggregate": "best"},
}
"""How the samples of known tables combine when the table does not say so itself.

A table may declare it in ``<table>.meta.json`` beside it: ``{"aggregate": "best"}``
(best-of-n under an exact checker: the best recorded score among the drawn samples) or
``{"aggregate": "vote"}`` (majority vote over the answers, the default).
"""


class TableError(ConfigurationError):
    """A replay table is missing, unreadable or does not follow the schema."""


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
        aggregate: How the table says samples combine (``"vote"`` or ``"best"``).
        notes: What loading assumed (e.g. a test split made for a table without one).
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
    aggregate: str = "vote"
    notes: tuple[str, ...] = ()

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
            answers=self.answers, aggregate=self.aggregate, notes=self.notes,
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
    unique: dict[str, Path] = {}
    for p in paths:
        unique.setdefault(str(p.resolve()), p)
    return list(unique.values())


def resolve_table(name: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
                  ) -> Path:
    """The file of a table given as a path or a bare name (``"date_mot"``).

    Raises:
        TableError: When no folder of :func:`table_search_path` holds it.
    """
    path = Path(name)
    if path.suffix == ".gz" or path.exists() or os.sep in str(name):
        if path.is_file():
            return path
        raise TableError(f"no table file {path}: give an existing .jsonl.gz file or a "
                         "bare table name such as date_mot")
    searched = table_search_path(data_dir)
    for folder in searched:
        candidate = folder / f"{name}.jsonl.gz"
        if candidate.exists():
            return candidate
    raise TableError(
        f"table {name!r} not found in {[str(p) for p in searched]}; pass a path to a "
        f".jsonl.gz file, --data-dir, or set ${DATA_ENV}"
    )


def _sidecar(path: Path, suffix: str) -> Path:
    base = path.name[: -len(".jsonl.gz")] if path.name.endswith(".jsonl.gz") else path.stem
    return path.with_name(base + suffix)


def _read_prices(path: Path, rows: list[dict[str, Any]]) -> dict[str, Price]:
    models_file = _sidecar(path, ".models.json")
    prices: dict[str, Price] = {}
    if models_file.exists():
        try:
            raw = json.loads(models_file.read_text())
            for model, spec in raw.items():
                prices[model] = Price(float(spec["input_per_mtok"]),
                                      float(spec["output_per_mtok"]))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TableError(f"{models_file}: not a price list ({exc!r}); it maps each model "
                             'to {"input_per_mtok": ..., "output_per_mtok": ...}') from None
    missing = sorted({r["model"] for r in rows} - set(prices))
    for model in missing:  # infer a price from the rows by least squares
        sel = [r for r in rows if r["model"] == model]
        a = np.array([[r["input_tokens"], r["output_tokens"]] for r in sel], dtype=float)
        c = np.array([r["cost_usd"] for r in sel], dtype=float) * 1e6
        sol = np.linalg.lstsq(a, c, rcond=None)[0]
        prices[model] = Price(max(float(sol[0]), 0.0), max(float(sol[1]), 0.0))
    return prices


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise TableError(f"table {path}, line {number}: not a JSON object; "
                                     "a table has one JSON object per line") from None
                if not isinstance(row, dict):
                    raise TableError(f"table {path}, line {number}: not a JSON object")
                missing = [f for f in _FIELDS if f not in row]
                if missing:
                    raise TableError(f"table {path}, line {number}: missing field(s) "
                                     f"{', '.join(missing)} (a row has {', '.join(_FIELDS)})")
                rows.append(row)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise TableError(f"table {path} is not a gzip-compressed JSON-lines file "
                         f"({type(exc).__name__}); compress it with gzip") from None
    if not rows:
        raise TableError(f"table {path} has no rows")
    return rows


def _declared_aggregate(path: Path, name: str) -> str:
    meta = _sidecar(path, ".meta.json")
    if meta.exists():
        try:
            value = json.loads(meta.read_text()).get("aggregate", "vote")
        except (ValueError, AttributeError):
            raise TableError(f"{meta}: not a JSON object such as "
                             '{"aggregate": "best"}') from None
    else:
        value = TABLE_DEFAULTS.get(name, {}).get("aggregate", "vote")
    if value not in ("vote", "best"):
        raise TableError(f"{meta}: aggregate must be 'vote' or 'best', got {value!r}")
    return str(value)


def declared_aggregate(name: str | os.PathLike[str],
                       data_dir: str | os.PathLike[str] | None = None) -> str:
    """How a table's samples combine, as the table declares (``"vote"`` by default)."""
    path = resolve_table(name, data_dir)
    base = path.name[: -len(".jsonl.gz")] if path.name.endswith(".jsonl.gz") else path.stem
    return _declared_aggregate(path, base)


def _split_when_missing(prompt_ids: np.ndarray, is_test: np.ndarray
                        ) -> tuple[np.ndarray, tuple[str, ...]]:
    """A 70/30 split by ``sha256(prompt_id)`` (the data's own rule) for a table whose rows
    are all of one split."""
    if is_test.any() and not is_test.all():
        return is_test, ()
    split = np.array([int(hashlib.sha256(str(p).encode()).hexdigest()[:16], 16) % 100 < 30
                      for p in prompt_ids])
    return split, ("the table has no train/test split; the test part is the prompts with "
                   "int(sha256(prompt_id)[:8 bytes]) % 100 < 30 (the data's 70/30 rule)",)


def load_table(name: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
               ) -> Table:
    """Load a replay table.

    Args:
        name: A path to a ``.jsonl.gz`` file or a bare table name.
        data_dir: Folder searched first for a bare name.

    Returns:
        The table.

    Raises:
        TableError: When the table cannot be found, is not gzip-compressed JSON lines, or
            a row lacks a field of the schema.
    """
    path = resolve_table(name, data_dir)
    rows = _read_rows(path)
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
        counts[p, g] = len(cell)
        try:
            cell.sort(key=lambda r: r["sample"])
            in_tok[p, g] = float(cell[0]["input_tokens"])
            for k, r in enumerate(cell):
                score[p, g, k] = float(r["score"])
                cost[p, g, k] = float(r["cost_usd"])
                out_tok[p, g, k] = float(r["output_tokens"])
                if r["answer"] is not None:
                    answer[p, g, k] = answer_index.setdefault(str(r["answer"]),
                                                              len(answer_index))
        except (TypeError, ValueError):
            raise TableError(f"table {path}: prompt {prompt_rows[p]['prompt_id']!r}, "
                             f"{pairs[g][0]}/{pairs[g][1]}: sample, score, cost_usd and the "
                             "token counts must be numbers") from None
    table_name = path.name[: -len(".jsonl.gz")] if path.name.endswith(".jsonl.gz") \
        else path.stem
    prompt_ids = np.array([r["prompt_id"] for r in prompt_rows], dtype=object)
    is_test, notes = _split_when_missing(
        prompt_ids, np.array([r["split"] == "test" for r in prompt_rows]))
    return Table(
        name=table_name,
        prompt_ids=prompt_ids,
        prompts=np.array([r["prompt"] for r in prompt_rows], dtype=object),
        datasets=np.array([r["dataset"] for r in prompt_rows], dtype=object),
        is_test=is_test,
        pairs=tuple(pairs), prices=_read_prices(path, rows), counts=counts, score=score,
        answer=answer, cost=cost, input_tokens=in_tok, output_tokens=out_tok,
        answers=tuple(answer_index), aggregate=_declared_aggregate(path, table_name),
        notes=notes,
    )
