"""Adaptive test-time compute on recorded samples: early stop against fixed n.

For every prompt of a replay table the recorded samples of one (model, strategy) are put
in a random order (``--draws`` orders per prompt, seeded); a fixed-n arm takes the first
n, an early-stopping arm takes them wave by wave through the library's own strategy code
(``SelfConsistency(early_stop=...)`` tallies, ``BestOfN(threshold=...)`` for the exact
checker of game24) and stops when its rule fires. Accuracy is the score of the answer
returned; samples are those drawn; cost charges every drawn sample as its own call. The
difference is paired (same orders) with a 95% interval over prompts.

The calibration table bins the vote share of the answer (fixed n = 20, or all samples
when fewer) and gives how often answers with that share were right.

With ``--joint SEEDS`` it also streams date_mot (or ``--joint-tables``) through the joint
policy (a Router over every arm) twice: with fixed-n self-consistency arms and with the
same arms stopping early (``--joint-rule``, default ``predictive``), at equal W (date_mot:
0.0094 and 0.027; other tables: the W the train split's fixed arms suggest), and compares
their test reward.

Run: python benchmarks/adaptive.py [--draws 10] [--seed 0] [--joint 5]
[--joint-tables date_mot aqua_pot] [--joint-rule predictive]
[--data-dir ../shared/data]
(the tables are read from ../shared/data next to the repository; nothing is copied).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.bench.table import Table, load_table
from uniscale.strategies import Strategy
from uniscale.types import Message, Request, Sample

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
N_GRID = (10, 20, 40)
# (table, model, strategy, aggregate): "vote" = majority vote, "check" = exact checker
CONFIGS = (
    ("date_mot", "gpt-3.5-turbo", "cot1", "vote"),
    ("date_mot", "gpt-3.5-turbo", "pot1", "vote"),
    ("aqua_pot", "code-davinci-002", "pot", "vote"),
    ("game24_tot", "gpt-4", "cot", "check"),
    ("game24_tot", "gpt-4", "standard", "check"),
)
RULES = {
    "vote": (("decided", us.EarlyStop(rule="decided")), ("beta0.95", us.EarlyStop()),
             ("dirichlet0.95", us.EarlyStop(rule="dirichlet")),
             ("predictive0.95", us.EarlyStop(rule="predictive"))),
    "check": (("first-correct", None),),
}
CONFIDENCES = (0.8, 0.9, 0.95, 0.99)
GRID = tuple(us.EarlyStop(rule=rule, confidence=c, first_wave=w)
             for rule in ("beta", "predictive") for c in CONFIDENCES for w in (2, 3))
"""Rules chosen on the train split (test reported): Beta or predictive, confidence,
first wave of 2 or 3."""
TARGET_LOSS, TARGET_SHARE = 0.005, 0.5
"""The target: accuracy within 0.5 points of fixed n at <= 50% of its samples."""
REQUEST = Request((Message("user", "replayed"),))
SHARE_BINS = (0.0, 0.4, 0.6, 0.8, 1.0, 1.0001)
BIN_NAMES = ("[0, 0.4)", "[0.4, 0.6)", "[0.6, 0.8)", "[0.8, 1)", "1 (all agree)")


@dataclass
class Runs:
    """Per prompt and draw: score, samples drawn, USD and vote share of one arm."""

    score: np.ndarray
    used: np.ndarray
    cost: np.ndarray
    share: np.ndarray


def _strategy(aggregate: str, rule: us.EarlyStop | None, adaptive: bool,
              scores: dict[str, float]) -> Strategy:
    """The library strategy of an arm: the early-stop rule only when ``adaptive``."""
    if aggregate == "vote":
        return us.SelfConsistency(early_stop=rule if adaptive else None,
                                  extractor=lambda t: t or None)
    return us.BestOfN(scorer=lambda p, t: scores.get(t, 0.0),
                      threshold=1.0 if adaptive else None)


def _replay(strategy: Strategy, texts: Sequence[str], n: int) -> tuple[int, int, float]:
    """Run the strategy's own waves and tally over ``texts`` (in draw order)."""
    tally = strategy.tally(REQUEST, n)
    drawn = 0
    for wave in strategy.waves(n):
        tally.add([Sample(t) for t in texts[drawn:drawn + wave]])
        drawn += wave
        if tally.done():
            break
    result = tally.result()
    return result.index, drawn, result.agreement


def run_arm(table: Table, g: int, aggregate: str, n: int, rule: us.EarlyStop | None,
            adaptive: bool, orders: list[list[np.ndarray]],
            prompts: np.ndarray | None = None) -> Runs:
    """Replay one arm over every prompt (or ``prompts``) and draw order."""
    P, D = table.n_prompts, len(orders[0])
    out = Runs(*(np.full((P, D), np.nan) for _ in range(4)))
    for p in range(P) if prompts is None else prompts:
        ids = table.answer[p, g]
        texts_all = [table.answers[i] if i >= 0 else "" for i in ids]
        scores = {texts_all[k]: float(table.score[p, g, k]) for k in range(table.counts[p, g])}
        strategy = _strategy(aggregate, rule, adaptive, scores)
        for d, order in enumerate(orders[p]):
            texts = [texts_all[k] for k in order]
            index, drawn, share = _replay(strategy, texts, n)
            k = int(order[index])
            out.score[p, d] = table.score[p, g, k]
            out.used[p, d] = drawn
            out.cost[p, d] = table.cost[p, g, order[:drawn]].sum()
            out.share[p, d] = share
    return out


def _met(row: dict[str, object]) -> str:
    """Whether a row meets the target: "yes" (its whole interval is within 0.5 points),
    "~" (the estimate is, its interval reaches past) or "no"."""
    diff, ci, share = (float(row[k]) for k in ("diff", "ci", "samples_share"))  # type: ignore[arg-type]
    if share > TARGET_SHARE or diff < -TARGET_LOSS:
        return "no"
    return "yes" if diff - ci >= -TARGET_LOSS else "~"


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    diff = (a - b).mean(axis=1)
    return float(diff.mean()), float(1.96 * diff.std(ddof=1) / np.sqrt(len(diff)))


def _row(config: str, n: int, rule: str, prompts: str, fixed: Runs, early: Runs,
         sel: np.ndarray) -> dict[str, object]:
    diff, half = _paired(early.score[sel], fixed.score[sel])
    return {"config": config, "n": n, "rule": rule, "prompts": prompts,
            "fixed_acc": float(fixed.score[sel].mean()),
            "early_acc": float(early.score[sel].mean()), "diff": diff, "ci": half,
            "samples": float(early.used[sel].mean()),
            "samples_share": float(early.used[sel].mean() / n),
            "cost_share": float(early.cost[sel].mean() / fixed.cost[sel].mean())}


def _train_chosen(table: Table, g: int, n: int, fixed: Runs, orders: list[list[np.ndarray]]
                  ) -> tuple[us.EarlyStop, Runs]:
    """The rule of :data:`GRID` with the fewest train samples within 0.5 points of fixed n
    on the train prompts (the most cautious one when none is)."""
    train = np.flatnonzero(~table.is_test)
    best: tuple[us.EarlyStop, float] | None = None
    for rule in GRID:
        runs = run_arm(table, g, "vote", n, rule, True, orders, train)
        loss = fixed.score[train].mean() - runs.score[train].mean()
        used = float(runs.used[train].mean())
        if loss <= TARGET_LOSS and (best is None or used < best[1]):
            best = (rule, used)
    chosen = us.EarlyStop(confidence=CONFIDENCES[-1]) if best is None else best[0]
    return chosen, run_arm(table, g, "vote", n, chosen, True, orders)


def measure(table: Table, model: str, strategy_name: str, aggregate: str, draws: int,
            seed: int) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Accuracy and samples of fixed n and of every rule, plus the calibration bins."""
    g = table.pair_index(model, strategy_name)
    keep = np.flatnonzero(table.counts[:, g] > 0)
    table = table.subset(keep)
    available = int(table.counts[:, g].min())
    rng = np.random.default_rng(seed)
    orders = [[rng.permutation(int(table.counts[p, g])) for _ in range(draws)]
              for p in range(table.n_prompts)]
    rows: list[dict[str, object]] = []
    config = f"{table.name} {model} {strategy_name}"
    every, test = np.ones(table.n_prompts, dtype=bool), table.is_test
    for n in sorted({min(n, available) for n in N_GRID}):
        fixed = run_arm(table, g, aggregate, n, None, False, orders)
        for name, rule in RULES[aggregate]:
            early = run_arm(table, g, aggregate, n, rule, True, orders)
            rows.append(_row(config, n, name, "all", fixed, early, every))
        if aggregate == "vote":
            chosen, early = _train_chosen(table, g, n, fixed, orders)
            rows.append(_row(config, n, f"{chosen.key}@train", "test", fixed, early, test))
    calib_n = min(20, available)
    fixed = run_arm(table, g, aggregate, calib_n, None, False, orders)
    calibration = {"config": f"{table.name} {model} {strategy_name}", "n": calib_n,
                   "bins": _bins(fixed.share.ravel(), fixed.score.ravel())}
    return rows, calibration


def _bins(share: np.ndarray, correct: np.ndarray) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    ece = 0.0
    for name, lo, hi in zip(BIN_NAMES, SHARE_BINS[:-1], SHARE_BINS[1:], strict=True):
        sel = (share >= lo - 1e-12) & (share < hi - 1e-12)
        if sel.any():
            mean, acc = float(share[sel].mean()), float(correct[sel].mean())
            ece += sel.sum() * abs(mean - acc) / len(share)
            out.append({"bin": name, "count": int(sel.sum()), "share": mean, "acc": acc})
    out.append({"ece": float(ece), "auroc": _auroc(share, correct)})
    return out


def _auroc(score: np.ndarray, label: np.ndarray) -> float:
    """Probability that a right answer has a higher share than a wrong one (ties half)."""
    pos, neg = score[label > 0.5], score[label <= 0.5]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    above = (pos[:, None] > neg[None, :]).mean()
    tied = (pos[:, None] == neg[None, :]).mean()
    return float(above + 0.5 * tied)


def main(data_dir: Path, draws: int, seed: int, json_path: str | None,
         only: Sequence[str] = ()) -> None:
    """Print the early-stop table and the calibration table."""
    started = time.perf_counter()
    rows: list[dict[str, object]] = []
    calibrations: list[dict[str, object]] = []
    tables: dict[str, Table] = {}
    for name, model, strategy_name, aggregate in CONFIGS:
        if only and name not in only:
            continue
        table = tables.get(name) or tables.setdefault(name, load_table(name, data_dir))
        r, c = measure(table, model, strategy_name, aggregate, draws, seed)
        rows += r
        if aggregate == "vote":
            calibrations.append(c)
    print(f"Early stop vs fixed n ({draws} draw orders per prompt, seed {seed}); "
          "accuracy in points, difference paired with a 95% interval")
    print("target: accuracy within 0.5 points at <= 50% of the samples (met: 'yes', its "
          "whole 95% interval; '~': the estimate, not the whole interval)")
    print(f"{'table / model / strategy':<36} {'n':>3} {'rule':<22} {'on':<4} {'fixed':>6} "
          f"{'early':>6} {'diff':>12} {'samples':>8} {'share':>6} {'cost':>6} {'met':>4}")
    for r in rows:
        print(f"{r['config']:<36} {r['n']:>3} {r['rule']:<22} {r['prompts']:<4} "
              f"{100 * r['fixed_acc']:6.2f} "
              f"{100 * r['early_acc']:6.2f} {100 * r['diff']:+6.2f}±{100 * r['ci']:<4.2f} "
              f"{r['samples']:8.2f} {r['samples_share']:6.1%} {r['cost_share']:6.1%} "
              f"{_met(r):>4}")
    print("\nCalibration of the vote share (fixed n): how often an answer with that share "
          "is right")
    for c in calibrations:
        bins = c["bins"]
        assert isinstance(bins, list)
        tail = bins[-1]
        print(f"{c['config']} (n={c['n']}): ECE {tail['ece']:.3f}, AUROC {tail['auroc']:.3f}")
        for b in bins[:-1]:
            print(f"   share {b['bin']:<14} count {b['count']:>6}  mean share "
                  f"{b['share']:.3f}  right {b['acc']:.3f}")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if json_path:
        Path(json_path).write_text(json.dumps({"rows": rows, "calibration": calibrations},
                                              indent=1))


JOINT_WTP = {"date_mot": (0.0094, 0.027)}
"""W of the joint runs; other tables use the W the train split's fixed arms suggest."""


def joint(data_dir: Path, seeds: int, table: str = "date_mot",
          rule: us.EarlyStop | None = None) -> None:
    """The joint policy with fixed-n arms against the same arms stopping early."""
    from uniscale.bench.feedback import FeedbackPlan, run_with_feedback
    from uniscale.bench.policies import RouterSettings
    from uniscale.bench.report import tradeoff_points
    from uniscale.bench.runner import Context

    ctx = Context(load_table(table, data_dir), mc_samples=64)
    wtps = JOINT_WTP.get(table) or (float(tradeoff_points(ctx)["suggested"]),)
    train, test = np.flatnonzero(~ctx.table.is_test), np.flatnonzero(ctx.table.is_test)
    settings = RouterSettings(alpha=0.5, dim=64)
    print(f"\nJoint policy on {table} ({ctx.env.n_arms} arms; train then test, {seeds} seeds;"
          f" test part): fixed-n arms vs the same arms with SelfConsistency(early_stop="
          f"{(rule or us.EarlyStop()).key!r})")
    print(f"{'W':>7} {'arms':<11} {'quality':>8} {'cost $':>9} {'reward':>8} {'vs fixed':>15}")
    for wtp in wtps:
        out: dict[str, list[np.ndarray]] = {"fixed n": [], "early stop": []}
        figures: dict[str, list[tuple[float, float]]] = {k: [] for k in out}
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            order = np.concatenate([rng.permutation(train), rng.permutation(test)])
            on_test = ctx.table.is_test[order]
            for name, stop in (("fixed n", None), ("early stop", rule or us.EarlyStop())):
                trace, _ = run_with_feedback(ctx, FeedbackPlan(), us.Tradeoff(wtp), order,
                                             seed, settings=settings, early_stop=stop)
                out[name].append((trace.quality - trace.cost / wtp)[on_test])
                figures[name].append((float(trace.quality[on_test].mean()),
                                      float(trace.cost[on_test].mean())))
        for name in out:
            q, c = np.mean(figures[name], axis=0)
            diff = np.concatenate([e - f for e, f in zip(out[name], out["fixed n"],
                                                          strict=True)])
            half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
            reward = float(np.mean([r.mean() for r in out[name]]))
            print(f"{wtp:7.4f} {name:<11} {q:8.3f} {c:9.5f} {reward:8.3f} "
                  f"{diff.mean():+8.3f}±{half:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--tables", nargs="*", default=(),
                        help="only these tables (default: date_mot aqua_pot game24_tot)")
    parser.add_argument("--joint-tables", nargs="*", default=["date_mot"],
                        help="tables of the joint runs (default date_mot)")
    parser.add_argument("--joint-rule", default="predictive", choices=us.stopping.RULES,
                        help="the early-stop rule of the joint run's adaptive arms (at its "
                             "default confidence 0.95)")
    parser.add_argument("--joint", type=int, default=0, metavar="SEEDS",
                        help="also run the joint policy (on --joint-tables) with fixed-n vs "
                             "early-stopping arms over this many seeds")
    args = parser.parse_args()
    main(args.data_dir, args.draws, args.seed, args.json, args.tables)
    for name in args.joint_tables if args.joint else ():
        joint(args.data_dir, args.joint, name, rule=us.EarlyStop(rule=args.joint_rule))
