"""``uniscale report`` on the log of a replay run equals what the bench computed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench.metrics import summarize
from uniscale.bench.runner import Context, run_seed
from uniscale.bench.table import load_table
from uniscale.cli import main
from uniscale.logreport import log_timeline, summarize_log
from uniscale.testing.replay import replay_router

SHIPPED = Path(us.__file__).parent / "data" / "faithful_cot.jsonl.gz"


@pytest.fixture(scope="module")
def ctx() -> Context:
    table = load_table(SHIPPED)
    keep = np.sort(np.random.default_rng(0).permutation(table.n_prompts)[:160])
    return Context(table.subset(keep), mc_samples=16)


def test_report_figures_equal_the_bench_run(ctx: Context, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    objective = us.Tradeoff(willingness_to_pay=0.05)
    bench = run_seed(ctx, objective, 4, policies=("uniscale",))
    log = tmp_path / "decisions.jsonl"
    router, trace = replay_router(ctx, objective, 4, log=log)
    router.close()
    assert np.array_equal(trace.arm, bench.traces["uniscale"].arm)  # the same run
    expected = summarize([bench], ["uniscale"])["uniscale"]

    s = summarize_log(us.read_log(log, pending=True))
    assert s.requests == s.answered == len(bench.order) and s.feedback_rate == 1.0
    assert s.mean_score == pytest.approx(expected.quality, abs=1e-12)
    assert s.mean_cost == pytest.approx(expected.cost, rel=1e-9)
    assert s.mean_reward == pytest.approx(expected.reward, rel=1e-9)
    assert s.spend == pytest.approx(bench.traces["uniscale"].cost.sum(), rel=1e-9)
    counts = Counter(ctx.env.arms[a].key for a in bench.traces["uniscale"].arm)
    assert {a.arm: a.requests for a in s.arms} == dict(counts)
    assert s.lam_first == s.lam_last == pytest.approx(1 / 0.05)

    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    assert main(["report", str(log), "--json", str(out_json), "--plot", str(out_png)]) == 0
    printed = capsys.readouterr().out
    assert f"{s.requests} decisions" in printed and "arm mix" in printed
    data = json.loads(out_json.read_text())["summary"]
    assert data["mean_score"] == pytest.approx(expected.quality, abs=1e-12)
    assert data["mean_cost"] == pytest.approx(expected.cost, rel=1e-9)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 20_000


def test_timeline_series(ctx: Context, tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    router, trace = replay_router(ctx, us.Tradeoff(0.05), 2, log=log)
    router.close()
    tl = log_timeline(us.read_log(log), windows=8, top=3)
    assert tl.spend[-1] == pytest.approx(trace.cost.sum())
    assert tl.quality[-1] == pytest.approx(trace.quality.mean())
    assert tl.quality[9] == pytest.approx(trace.quality[:10].mean())
    assert len(tl.window_end) == 8 and tl.window_end[-1] == len(trace.arm)
    total = sum(tl.shares.values())
    assert np.allclose(total, 1.0)
    assert len(tl.shares) <= 4


def test_report_of_a_missing_log_is_a_clear_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "none.jsonl")]) == 2
    assert "no decision log" in capsys.readouterr().err
