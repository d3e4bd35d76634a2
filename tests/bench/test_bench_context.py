"""``uniscale bench --context task``: every policy is told each prompt's dataset."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import uniscale as us
import uniscale.bench.runner as runner
from uniscale.bench import Context, load_table
from uniscale.bench.sidecontext import CONTEXT_DIM
from uniscale.cli import main


def _one_dataset(path: Path) -> Path:
    """Rewrite a table so that every prompt belongs to one dataset."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({**row, "dataset": "alpha"}) + "\n")
    return path


def test_bench_context_task_through_the_cli(toy_path: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ctx.json"
    code = main(["bench", str(toy_path), "--warm-start", "--wtp", "0.01", "--seeds", "2",
                 "--context", "task", "--json", str(out), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["context"] == {"field": "task", "used": True}
    assert {"uniscale", "trained-router", "best-fixed"} <= set(data["policies"])
    text = capsys.readouterr().out
    assert "--context task: every policy is told each prompt's dataset (2 of them: " \
        "alpha, beta)" in text


def test_a_one_dataset_table_runs_as_without_context(make_table: Callable[..., Path],
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    path = _one_dataset(make_table(name="single"))
    figures = []
    for extra in ([], ["--context", "task"]):
        out = tmp_path / f"single{len(extra)}.json"
        assert main(["bench", str(path), "--warm-start", "--wtp", "0.01", "--seeds", "1",
                     "--policies", "uniscale,trained-router,best-fixed", "--json", str(out),
                     "--quiet", *extra]) == 0
        data = json.loads(out.read_text())
        figures.append({k: v["test_reward"] for k, v in data["policies"].items()})
    assert data["context"] == {"field": "task", "used": False}
    assert figures[0] == figures[1]
    assert "the table has one dataset (alpha), so there is nothing to pass" in \
        capsys.readouterr().out


def test_error_unknown_context_field_before_any_work(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    assert main(["bench", str(tmp_path / "absent.jsonl.gz"), "--context", "tenant"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "uniscale: error: unknown --context field 'tenant': choose task (the table's "
        "dataset column), or leave --context out")


def test_peers_see_the_vector_the_router_encodes(toy_path: Path) -> None:
    ctx = Context(load_table(toy_path), mc_samples=8, context="task")
    X = ctx.features(128)
    for seed in (0, 3):
        peer = ctx.peer_features(128, seed)
        assert peer.shape == (ctx.table.n_prompts, 128 + CONTEXT_DIM)
        router = us.Router([us.Arm("m", us.Single())], {"m": us.Price(1, 1)}, seed=seed,
                           context_dim=CONTEXT_DIM)
        for p in range(ctx.table.n_prompts):
            x, _ = router.context_vector(None, X[p], None, ctx.request_context(p))
            np.testing.assert_array_equal(x, peer[p])
        side = {d: peer[ctx.table.datasets == d, 128:] for d in ("alpha", "beta")}
        assert all((s == s[0]).all() and s[0].sum() == 1.0 for s in side.values())
        assert not np.array_equal(side["alpha"][0], side["beta"][0])
    plain = Context(load_table(toy_path), mc_samples=8)
    assert plain.peer_features(128, 0) is plain.features(128)
    assert plain.request_context(0) is None


def test_fit_requests_and_trained_router_all_get_the_context(
        toy_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[Any]] = {"decide": [], "fit": [], "trained": []}

    class Spy(us.Router):
        def fit(self, records: Any, **kw: Any) -> int:
            records = list(records)
            seen["fit"] += [(r.request, r.context) for r in records]
            return int(super().fit(records, **kw))

        def decide(self, request: Any = None, **kw: Any) -> us.Decision:
            seen["decide"].append((request, kw.get("context")))
            return super().decide(request, **kw)

    fit_trained = runner.fit_trained_router

    def trained(evalset: Any, features: np.ndarray, n_arms: int, **kw: Any) -> Any:
        seen["trained"].append(features.shape[1])
        return fit_trained(evalset, features, n_arms, **kw)

    monkeypatch.setattr(runner, "Router", Spy)
    monkeypatch.setattr(runner, "fit_trained_router", trained)
    ctx = Context(load_table(toy_path), mc_samples=8, context="task")
    run = runner.run_seed(ctx, us.Tradeoff(0.01), 0, policies=["uniscale", "trained-router"],
                          warm_start=True)
    assert len(seen["decide"]) == len(run.order) and seen["fit"]
    for request, context in seen["decide"]:
        text = request[0].content
        assert context is not None and f"about {context['task']}:" in text
    assert all(f"about {c['task']}:" in r for r, c in seen["fit"])
    assert seen["trained"] == [128 + CONTEXT_DIM]
