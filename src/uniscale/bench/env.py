"""The replay environment: arms over a table, replayed draws, expected outcomes.

An arm ``(model, strategy, n)`` draws ``n`` of the recorded samples of (prompt, model,
strategy) without replacement and aggregates them: a majority vote over the recorded
``answer`` (``null`` answers do not vote; ties go to the answer drawn first) or, for
verifier-style tables, the sample of highest ``score``. It costs the drawn samples'
``cost_usd`` with the input paid once per call (one call returns all ``n`` samples).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..arms import Arm
from ..strategies import BestOfN, SelfConsistency, Single, Strategy
from ..types import Completion, Request, Sample, Usage
from .table import Table

__all__ = ["DEFAULT_N_GRID", "Expected", "ReplayBackend", "ReplayEnv", "n_values"]

DEFAULT_N_GRID = (1, 3, 5, 10, 20, 40, 80)
"""Sample counts offered for a (model, strategy) pair, capped by what the table records."""

PROMPT_OPTION = "replay_prompt"
"""Key of :attr:`Request.options` that tells a :class:`ReplayBackend` which prompt to replay."""


def n_values(available: int, grid: Sequence[int] = DEFAULT_N_GRID) -> tuple[int, ...]:
    """The sample counts of a pair with ``available`` recorded samples at most.

    Every grid value up to ``available``, plus ``available`` itself.
    """
    values = {n for n in grid if 1 <= n <= available}
    values.add(max(int(available), 1))
    return tuple(sorted(values))


def _vote_answer(text: str) -> str | None:
    """Extractor of replayed samples: the text is the recorded answer ('' for none)."""
    return text or None


@dataclass(frozen=True)
class Expected:
    """Expected outcome of every arm on every prompt (NaN where the arm cannot serve).

    Attributes:
        quality: ``(P, A)`` expected score of the aggregated answer.
        cost: ``(P, A)`` expected USD at the table's prices.
    """

    quality: np.ndarray
    cost: np.ndarray

    def reward(self, lam: float, price_scale: np.ndarray | None = None) -> np.ndarray:
        """``quality − lam · cost`` (cost scaled per arm by ``price_scale``)."""
        cost = self.cost if price_scale is None else self.cost * price_scale[None, :]
        return self.quality - lam * cost


class ReplayEnv:
    """Arms, draws and costs over a :class:`Table`.

    Args:
        table: The replay table.
        aggregate: ``"vote"`` (majority vote over ``answer``) or ``"best"`` (highest
            ``score`` among the drawn samples, for verifier-style tables).
        n_grid: Candidate sample counts (see :func:`n_values`).
        batch_input: Charge the input once per arm call instead of once per sample.
    """

    def __init__(self, table: Table, *, aggregate: str = "vote",
                 n_grid: Sequence[int] = DEFAULT_N_GRID, batch_input: bool = True) -> None:
        if aggregate not in ("vote", "best"):
            raise ValueError(f"aggregate must be 'vote' or 'best', got {aggregate!r}")
        self.table = table
        self.aggregate = aggregate
        self.batch_input = batch_input
        self._scores: dict[tuple[str, str], float] = {}
        arms: list[Arm] = []
        pair_of: list[int] = []
        for g, (model, strategy) in enumerate(table.pairs):
            available = int(table.counts[:, g].max())
            for n in n_values(available, n_grid):
                arms.append(Arm(model, self._strategy(strategy, available), n))
                pair_of.append(g)
        self.arms: tuple[Arm, ...] = tuple(arms)
        self.arm_index = {a: i for i, a in enumerate(arms)}
        self.arm_pair = np.array(pair_of, dtype=np.int64)
        self.arm_n = np.array([a.n for a in arms], dtype=np.int64)
        self.arm_model = np.array([a.model for a in arms], dtype=object)
        self.allowed = table.counts[:, self.arm_pair] >= self.arm_n[None, :]
        self._pair_lookup = {p: g for g, p in enumerate(table.pairs)}
        self._in_price = np.array([table.prices[m].input for m, _ in table.pairs]) / 1e6

    def _strategy(self, name: str, available: int) -> Strategy:
        if available <= 1:
            return Single(variant=name)
        if self.aggregate == "best":
            return BestOfN(variant=name, scorer=self._score_of)
        return SelfConsistency(variant=name, extractor=_vote_answer)

    def _score_of(self, prompt: str, text: str) -> float:
        """Scorer of best-of-n arms: the recorded score of a sample's answer."""
        if not self._scores:
            t = self.table
            for p, g, k in zip(*np.nonzero(t.answer >= 0), strict=True):
                self._scores[(t.prompts[p], t.answers[t.answer[p, g, k]])] = t.score[p, g, k]
        return float(self._scores.get((prompt, text), 0.0))

    # -- lookups -------------------------------------------------------------------
    @property
    def n_arms(self) -> int:
        """Number of arms ``A``."""
        return len(self.arms)

    def pair(self, model: str, variant: str | None) -> int:
        """Pair index of ``model`` under the strategy variant ``variant``."""
        return self._pair_lookup[(model, str(variant))]

    def arms_where(self, mask: np.ndarray) -> list[Arm]:
        """The arms selected by a boolean mask over arms."""
        return [self.arms[i] for i in np.flatnonzero(mask)]

    # -- replay ----------------------------------------------------------------------
    def draw(self, p: int, g: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``n`` recorded samples of (prompt ``p``, pair ``g``), no replacement."""
        available = int(self.table.counts[p, g])
        if n > available:
            raise ValueError(f"prompt {p} has {available} samples of {self.table.pairs[g]}, "
                             f"{n} asked")
        return rng.permutation(available)[:n] if n < available else rng.permutation(n)

    def chosen(self, p: int, g: int, rows: np.ndarray) -> int:
        """The sample (one of ``rows``) the arm's aggregation returns."""
        if len(rows) == 1:
            return int(rows[0])
        if self.aggregate == "best":
            scores = self.table.score[p, g, rows]
            return int(rows[int(np.argmax(scores))])
        answers = self.table.answer[p, g, rows]
        votes = ((answers[:, None] == answers[None, :]) & (answers[None, :] >= 0)).sum(1)
        votes[answers < 0] = 0
        return int(rows[int(np.argmax(votes))])

    def cost(self, p: int, g: int, rows: Iterable[int], price_scale: float = 1.0) -> float:
        """USD of the drawn samples, the input paid once when :attr:`batch_input`."""
        idx = np.fromiter(rows, dtype=np.int64)
        usd = float(self.table.cost[p, g, idx].sum())
        if self.batch_input and len(idx) > 1:
            usd -= (len(idx) - 1) * self.table.input_tokens[p, g] * self._in_price[g]
        return usd * price_scale

    # -- expectations ------------------------------------------------------------------
    def expected(self, samples: int = 256, seed: int = 0) -> Expected:
        """Expected quality and cost of every arm on every prompt.

        Quality of ``n = 1`` arms and every cost are exact; the vote of ``n > 1`` arms is
        averaged over ``samples`` random draws (seeded, vectorised).

        Args:
            samples: Monte Carlo draws per prompt and arm.
            seed: Seed of those draws.
        """
        t = self.table
        rng = np.random.default_rng(seed)
        P, A = t.n_prompts, self.n_arms
        quality = np.full((P, A), np.nan)
        cost = np.full((P, A), np.nan)
        K = t.score.shape[2]
        positions = np.arange(K)
        for a in range(A):
            g, n = int(self.arm_pair[a]), int(self.arm_n[a])
            ok = np.flatnonzero(self.allowed[:, a])
            if len(ok) == 0:
                continue
            counts = t.counts[ok, g]
            valid = positions[None, :] < counts[:, None]
            mean_cost = np.where(valid, t.cost[ok, g], 0.0).sum(1) / counts
            c = n * mean_cost
            if self.batch_input:
                c = c - (n - 1) * t.input_tokens[ok, g] * self._in_price[g]
            cost[ok, a] = c
            if n == 1:
                quality[ok, a] = np.where(valid, t.score[ok, g], 0.0).sum(1) / counts
                continue
            chunk = max(1, int(2e7 // (samples * n * max(n, K))))
            for start in range(0, len(ok), chunk):
                rows = ok[start:start + chunk]
                quality[rows, a] = self._mc_quality(rows, g, n, valid[start:start + chunk],
                                                    samples, rng)
        return Expected(quality, cost)

    def _mc_quality(self, rows: np.ndarray, g: int, n: int, valid: np.ndarray,
                    samples: int, rng: np.random.Generator) -> np.ndarray:
        t = self.table
        keys = rng.random((len(rows), samples, valid.shape[1]))
        keys[~np.broadcast_to(valid[:, None, :], keys.shape)] = np.inf
        drawn = np.argsort(keys, axis=2)[:, :, :n]
        idx = rows[:, None, None]
        scores = t.score[idx, g, drawn]
        if self.aggregate == "best":
            return np.asarray(scores.max(axis=2).mean(axis=1))
        answers = t.answer[idx, g, drawn]
        votes = ((answers[..., :, None] == answers[..., None, :])
                 & (answers[..., None, :] >= 0)).sum(-1)
        votes[answers < 0] = 0
        win = np.argmax(votes, axis=2)
        picked = np.take_along_axis(scores, win[..., None], axis=2)[..., 0]
        return np.asarray(picked.mean(axis=1))


class ReplayBackend:
    """A :class:`~uniscale.backends.Backend` that answers from a replay table.

    The request names its prompt in ``request.options["replay_prompt"]`` (the prompt's
    row in the table) and its (model, strategy) pair through ``request.variant``. One
    call returns all ``request.n`` samples, drawn without replacement; usage is the
    input once plus every sample's output.

    Args:
        env: The environment.
        model: The model this backend plays.
        rng: Generator of the draws.
    """

    max_samples_per_call = 1_000_000

    def __init__(self, env: ReplayEnv, model: str, rng: np.random.Generator) -> None:
        self.env = env
        self.model = model
        self.rng = rng

    def complete(self, request: Request) -> Completion:
        """Replay ``request.n`` recorded samples."""
        env, t = self.env, self.env.table
        p = int(request.options[PROMPT_OPTION])
        g = env.pair(self.model, request.variant)
        rows = env.draw(p, g, request.n, self.rng)
        samples = tuple(
            Sample(
                t.answers[t.answer[p, g, k]] if t.answer[p, g, k] >= 0 else "",
                Usage(0, int(t.output_tokens[p, g, k]), calls=0),
                payload=(p, g, int(k)),
            )
            for k in rows
        )
        calls = 1 if env.batch_input else len(rows)
        usage = Usage(int(t.input_tokens[p, g]) * calls,
                      int(t.output_tokens[p, g, rows].sum()), calls=calls)
        return Completion(samples, usage)


def replay_backends(env: ReplayEnv, models: Iterable[str], seed: int
                    ) -> Mapping[str, ReplayBackend]:
    """One :class:`ReplayBackend` per model, with independent seeded generators."""
    models = list(models)
    seeds = np.random.SeedSequence(seed).spawn(len(models))
    return {m: ReplayBackend(env, m, np.random.default_rng(s))
            for m, s in zip(models, seeds, strict=True)}
