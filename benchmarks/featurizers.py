"""Which prompt features route best, and what they cost per prompt.

For each replay table, every featurizer's vectors feed a full-information ridge model
of the reward ``quality − cost/W`` per arm, fitted on the train split (the ridge
strength chosen by 4-fold cross-validated greedy reward on train only); the test split
is served greedily by it. The best single arm is chosen on train. Rewards are the
bench's expected outcomes. The timing table measures ``transform`` per prompt over the
tables' prompts, as a ratio to ``HashingFeaturizer(128)`` in the same run.

Run: python benchmarks/featurizers.py [--tables date_mot routerbench faithful_cot]
     [--max-prompts N] [--mc 64] [--featurizers hash32 hash128 wl64 wl128 wl256]
Needs ``uniscale[embeddings]`` and the replay tables in ``../shared/data``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.bench.runner import Context
from uniscale.bench.table import load_table
from uniscale.types import as_messages

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WTP = {"date_mot": 0.0094, "routerbench": 0.041, "faithful_cot": 0.02}
RIDGES = (0.1, 1.0, 10.0, 100.0)
FEATURIZERS: dict[str, Callable[[], us.Featurizer]] = {
    "hash32": lambda: us.HashingFeaturizer(32),
    "hash128": lambda: us.HashingFeaturizer(128),
    "wl64": lambda: us.WordLlamaFeaturizer(64).load(),
    "wl128": lambda: us.WordLlamaFeaturizer(128).load(),
    "wl256": lambda: us.WordLlamaFeaturizer(256).load(),
}


def featurize(featurizer: us.Featurizer, prompts: Sequence[str]) -> tuple[np.ndarray, float]:
    """``(P, dim)`` vectors of the prompts and the seconds ``transform`` took in all."""
    messages = [as_messages(p) for p in prompts]
    start = time.perf_counter()
    X = np.stack([featurizer.transform(m) for m in messages])
    return X, time.perf_counter() - start


def fit_arms(X: np.ndarray, reward: np.ndarray, allowed: np.ndarray, lam: float) -> np.ndarray:
    """``(A, d)`` ridge weights of each arm's reward on the rows where it served."""
    d = X.shape[1]
    W = np.zeros((reward.shape[1], d))
    for a in range(reward.shape[1]):
        rows = allowed[:, a]
        if rows.any():
            Xa = X[rows]
            W[a] = np.linalg.solve(Xa.T @ Xa + lam * np.eye(d), Xa.T @ reward[rows, a])
    return W


def greedy(X: np.ndarray, W: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The arm of best predicted reward per prompt, among the allowed."""
    return np.argmax(np.where(allowed, X @ W.T, -np.inf), axis=1)


def served(reward: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Per-prompt reward of the chosen arms."""
    return reward[np.arange(len(choice)), choice]


def choose_ridge(X: np.ndarray, reward: np.ndarray, allowed: np.ndarray) -> float:
    """The ridge strength of best 4-fold cross-validated greedy reward (train rows only)."""
    folds = np.arange(len(X)) * 4 // len(X)
    scores = []
    for lam in RIDGES:
        total = 0.0
        for f in range(4):
            fit, held = folds != f, folds == f
            W = fit_arms(X[fit], reward[fit], allowed[fit], lam)
            total += served(reward[held], greedy(X[held], W, allowed[held])).sum()
        scores.append(total)
    return RIDGES[int(np.argmax(scores))]


def best_fixed(reward: np.ndarray, allowed: np.ndarray, is_test: np.ndarray) -> np.ndarray:
    """Per test prompt, the train-best arm (or the next train-ranked arm it allows)."""
    train_r, train_a = reward[~is_test], allowed[~is_test]
    mean = np.where(train_a, train_r, 0.0).sum(0) / np.maximum(train_a.sum(0), 1)
    coverage = train_a.mean(0)
    ranking = np.lexsort((-mean, -(coverage >= 1.0).astype(int)))
    return ranking[np.argmax(allowed[is_test][:, ranking], axis=1)]


def interval(diff: np.ndarray) -> str:
    """Mean ± 95% half-width of a paired per-prompt difference."""
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    return f"{diff.mean():+.3f}±{half:.3f}"


def run_table(name: str, max_prompts: int | None, mc: int, seed: int,
              labels: Sequence[str], timings: dict[str, list[float]]) -> None:
    """Print the test rewards of every featurizer's trained router on one table."""
    table = load_table(name, data_dir=DATA)
    if max_prompts is not None and table.n_prompts > max_prompts:
        keep = np.sort(np.random.default_rng(seed).choice(table.n_prompts, max_prompts,
                                                          replace=False))
        table = table.subset(keep)
    ctx = Context(table, mc_samples=mc)
    allowed = ctx.env.allowed
    reward = np.nan_to_num(ctx.expected.quality - ctx.expected.cost / WTP[name])
    reward = np.where(allowed, reward, 0.0)
    test = table.is_test
    prompts = [str(p) for p in table.prompts]
    fixed = served(reward[test], best_fixed(reward, allowed, test))
    oracle = np.where(allowed[test], reward[test], -np.inf).max(1)
    print(f"\n{name}: W={WTP[name]}, {table.n_prompts} prompts ({int(test.sum())} test), "
          f"{ctx.env.n_arms} arms, {len(set(table.datasets))} dataset(s)")
    print(f"  {'policy':<10} {'dim':>4} {'ridge':>6} {'test reward':>11} "
          f"{'vs best-fixed (95%)':>20} {'gap closed':>10}")
    print(f"  {'best-fixed':<10} {'':>4} {'':>6} {fixed.mean():11.3f}")
    for label in labels:
        featurizer = FEATURIZERS[label]()
        X, seconds = featurize(featurizer, prompts)
        timings.setdefault(label, []).append(seconds / len(prompts))
        lam = choose_ridge(X[~test], reward[~test], allowed[~test])
        W = fit_arms(X[~test], reward[~test], allowed[~test], lam)
        got = served(reward[test], greedy(X[test], W, allowed[test]))
        gap = (got.mean() - fixed.mean()) / max(oracle.mean() - fixed.mean(), 1e-12)
        print(f"  {label:<10} {featurizer.dim:>4} {lam:>6g} {got.mean():11.3f} "
              f"{interval(got - fixed):>20} {gap:10.2f}")
    print(f"  {'oracle':<10} {'':>4} {'':>6} {oracle.mean():11.3f}")


def main() -> None:
    """Parse the arguments, run every table, print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(WTP), choices=list(WTP))
    parser.add_argument("--max-prompts", type=int, default=None,
                        help="random subset of prompts per table (seeded)")
    parser.add_argument("--mc", type=int, default=64, help="draws for the expected vote")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--featurizers", nargs="+", default=list(FEATURIZERS),
                        choices=list(FEATURIZERS))
    args = parser.parse_args()
    labels = list(dict.fromkeys(["hash128", *args.featurizers]))  # the timing baseline
    timings: dict[str, list[float]] = {}
    for name in args.tables:
        run_table(name, args.max_prompts, args.mc, args.seed, labels, timings)
    base = float(np.mean(timings["hash128"]))
    print("\nµs per prompt (transform, mean over the tables' prompts)")
    print(f"  {'featurizer':<10} {'µs':>8} {'ratio vs hash128':>17}")
    for label, values in timings.items():
        mean = float(np.mean(values))
        print(f"  {label:<10} {mean * 1e6:8.1f} {mean / base:16.2f}×")


if __name__ == "__main__":
    main()
