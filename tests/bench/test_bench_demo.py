"""``uniscale demo`` chooses what it runs at on the train split only."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from uniscale.bench import demo
from uniscale.bench.command import prepare, stream_steps
from uniscale.bench.demo import Job, demo_choice, run_jobs
from uniscale.bench.runner import Context
from uniscale.objective import Budget, Tradeoff


def _rewrite(path: Path, out: Path, change: Callable[[dict[str, object]], None]) -> Path:
    """A copy of a table with ``change`` applied to every row (prices copied)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    out.mkdir()
    with gzip.open(out / path.name, "wt", encoding="utf-8") as f:
        for r in rows:
            change(r)
            f.write(json.dumps(r) + "\n")
    models = path.name.replace(".jsonl.gz", ".models.json")
    (out / models).write_text((path.parent / models).read_text())
    return out / path.name


def _flip_in(split: str) -> Callable[[dict[str, object]], None]:
    def change(r: dict[str, object]) -> None:
        if r["split"] == split:  # same answer -> same score still holds
            r["score"] = 1.0 - float(r["score"])  # type: ignore[arg-type]
    return change


def test_demo_choice_ignores_the_test_part(toy_path: Path, tmp_path: Path) -> None:
    base = demo_choice(prepare(toy_path))
    test_flipped = demo_choice(prepare(_rewrite(toy_path, tmp_path / "t", _flip_in("test"))))
    assert test_flipped == base
    train_flipped = demo_choice(prepare(_rewrite(toy_path, tmp_path / "r", _flip_in("train"))))
    assert train_flipped.tradeoff["hull"] != base.tradeoff["hull"]
    assert set(base.others) <= set(base.tradeoff["sweep"])
    costs = [c for c, _ in base.tradeoff["hull"]]
    assert min(costs) <= base.budget <= max(costs)


def test_jobs_spread_over_processes_give_the_figures_of_one_process(toy_path: Path) -> None:
    ctx = prepare(toy_path)
    policies = ("uniscale", "routing-only", "trained-router", "best-fixed", "oracle")
    steps = stream_steps(ctx, policies, True)
    jobs = [Job(toy_path, None, objective, policies, seed, steps)
            for objective, seed in ((Tradeoff(0.01), 0), (Tradeoff(0.01), 1),
                                    (Tradeoff(0.05), 0), (Budget(per_request=0.002), 2))]
    done: list[int] = []
    alone, _ = run_jobs(jobs, {toy_path: ctx}, 1, done.append)
    spread, cpu = run_jobs(jobs, {}, 2, done.append)  # the workers prepare the table
    assert done == [steps] * 8 and cpu > 0
    assert [r.seed for r in spread] == [0, 1, 0, 2]
    for one, two in zip(alone, spread, strict=True):
        assert set(one.traces) == set(two.traces) >= set(policies)
        for name, trace in one.traces.items():
            np.testing.assert_array_equal(trace.arm, two.traces[name].arm)
            np.testing.assert_array_equal(trace.quality, two.traces[name].quality)


def test_jobs_run_here_where_no_worker_process_can_start(
        toy_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> None:
        raise OSError("no semaphores on this platform")

    monkeypatch.setattr(demo, "ProcessPoolExecutor", refuse)
    policies = ("uniscale", "best-fixed", "oracle")
    jobs = [Job(toy_path, None, Tradeoff(0.01), policies, seed, 1) for seed in (3, 4)]
    contexts: dict[Path, Context] = {}
    runs, cpu = run_jobs(jobs, contexts, 2, lambda k: None)
    assert [r.seed for r in runs] == [3, 4] and list(contexts) == [toy_path]
    assert cpu == 0.0  # run here: this process's own clock counts it, not twice
    assert all("uniscale" in r.traces for r in runs)



def test_frontier_legend_says_which_policies_uniscale_coincides_with() -> None:
    from uniscale.bench.plot import _frontier
    from uniscale.plotting import pyplot

    def pts(q: float) -> list[dict[str, float]]:
        return [{"wtp": w, "cost": 0.01 * w, "quality": q + 0.1 * w} for w in (0.5, 1.0, 2.0)]

    sweep = {"fixed_arms": [{"cost": 0.01, "quality": 0.5}, {"cost": 0.02, "quality": 0.7}],
             "hull": [[0.01, 0.5], [0.02, 0.7]],
             "frontier": {"uniscale": pts(0.6), "tts-only": pts(0.6),
                          "routing-only": pts(0.4)}}
    plt = pyplot()
    fig, ax = plt.subplots()
    try:
        _frontier(ax, sweep, "one model")
        labels = ax.get_legend_handles_labels()[1]
    finally:
        plt.close(fig)
    assert "uniscale (= tts-only here)" in labels and "routing-only" in labels
    assert len([line for line in ax.get_lines() if len(line.get_xdata()) == 3]) == 3
