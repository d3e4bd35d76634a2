"""The generic-bandit peer: MABWiser's LinUCB, fed the same features and rewards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import Context, load_table, run_eval_set
from uniscale.bench.mabpeer import run_mabwiser
from uniscale.cli import main

mab = pytest.importorskip("mabwiser.mab")


@pytest.fixture
def ctx(toy_path: Path) -> Context:
    return Context(load_table(toy_path), mc_samples=16)


def _spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {"fit": [], "partial_fit": []}
    for name in calls:
        original = getattr(mab.MAB, name)

        def record(self: Any, decisions: Any, rewards: Any, contexts: Any = None, *,
                   _name: str = name, _original: Any = original) -> None:
            calls[_name].append((list(decisions), list(rewards), np.asarray(contexts)))
            _original(self, decisions, rewards, contexts)

        monkeypatch.setattr(mab.MAB, name, record)
    return calls


def test_mabwiser_is_fed_the_same_rewards_and_serves_allowed_arms(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    env, wtp = ctx.env, 0.01
    calls = _spy(monkeypatch)
    X = ctx.features(16)
    order = np.random.default_rng(2).permutation(ctx.table.n_prompts)
    trace = run_mabwiser(env, us.Tradeoff(wtp), order, X, seed=0)
    assert env.allowed[order, trace.arm].all()
    fed = calls["fit"] + calls["partial_fit"]
    assert len(calls["fit"]) == 1 and len(fed) == len(order)  # cold: first fit, then online
    assert [d[0] for d, _, _ in fed] == trace.arm.tolist()
    assert [r[0] for _, r, _ in fed] == pytest.approx(trace.quality - trace.cost / wtp)
    assert np.array_equal(np.vstack([c for _, _, c in fed]), X[order])


def test_mabwiser_warm_start_fits_the_eval_set_then_learns_online(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    env = ctx.env
    train = np.flatnonzero(~ctx.table.is_test)
    test = np.flatnonzero(ctx.table.is_test)
    es = run_eval_set(env, train, np.random.default_rng(0))
    calls = _spy(monkeypatch)
    trace = run_mabwiser(env, us.Budget(0.01), test, ctx.features(16), seed=1, evalset=es)
    (decisions, rewards, _), = calls["fit"]
    assert decisions == es.arm.tolist() and rewards == pytest.approx(es.score)  # budget: quality
    assert len(calls["partial_fit"]) == len(test)
    assert env.allowed[test, trace.arm].all()


def test_bench_runs_the_mabwiser_row_on_request(toy_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code = main(["bench", str(toy_path), "--wtp", "0.01", "--seeds", "2", "--warm-start",
                 "--policies", "uniscale,mabwiser-linucb,best-fixed", "--json", str(out),
                 "--quiet"])
    assert code == 0
    fig = json.loads(out.read_text())["policies"]["mabwiser-linucb"]
    assert {"test_reward", "ci95", "paired_diff"} <= set(fig)
