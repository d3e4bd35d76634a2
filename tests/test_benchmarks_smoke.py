"""Smoke runs of the benchmark scripts: they run and print their tables (no timing checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_script(name: str, *args: str) -> str:
    """Run ``benchmarks/<name>`` with ``args`` and return its standard output."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_overhead_quick_prints_table_ratios_and_memory() -> None:
    out = run_script("overhead.py", "--quick")
    assert "µs per decide and per feedback" in out
    for column in ("decide µs", "feedback µs", "d+f µs", "featurize µs", "ratio dec",
                   "ratio d+f"):
        assert column in out
    lines = out.splitlines()
    for arms in (6, 24):
        for name in ("uniscale", "uniscale hybrid=False", "uniscale prompt",
                     "uniscale float64"):
            assert any(line.split()[:2] == [str(arms), "64"] and f" {name} " in line
                       for line in lines), (arms, name, out)
    # every optional library is either in the table or reported as skipped
    for module, row in (("mabwiser", "mabwiser LinUCB"), ("pareto_bandit", "paretobandit"),
                        ("contextualbandits", "contextualbandits LinUCB"),
                        ("vowpalwabbit", "vowpalwabbit squarecb")):
        assert row in out or f"{module}: not installed" in out or \
            f"{module}: import failed" in out, module
    assert "Router statistics memory" in out
    assert "A_inv" in out and "total" in out
    assert "Targets (issue 14), this run:" in out


def test_fanout_quick_prints_ratios() -> None:
    out = run_script("fanout.py", "--quick", "--latency", "0.05")
    assert "SelfConsistency n=8" in out
    assert "ratio" in out and "target < 1.3×" in out
    rows = [line for line in out.splitlines() if line.startswith(("invoke ", "ainvoke "))]
    assert len(rows) == 4, out
    assert sum("(native)" in row for row in rows) == 2
    for row in rows:
        assert any(token.endswith("×") for token in row.split()), row


def test_adaptive_prints_early_stop_and_calibration_tables() -> None:
    data = ROOT.parent / "shared" / "data"
    if not (data / "aqua_pot.jsonl.gz").exists():
        pytest.skip("the replay tables are not next to the repository (../shared/data)")
    out = run_script("adaptive.py", "--draws", "1", "--tables", "aqua_pot", "game24_tot")
    lines = out.splitlines()
    for rule in ("decided", "beta0.95", "dirichlet0.95", "predictive0.95", "first-correct"):
        assert any(f" {rule} " in line for line in lines), rule
    assert any("@train" in line and " test " in line for line in lines)
    exact = [line for line in lines if " decided " in line or " first-correct " in line]
    assert exact and all("+0.00±0.00" in line for line in exact)  # never changes the answer
    assert "Calibration of the vote share" in out and "ECE" in out and "AUROC" in out


def test_sample_prediction_prints_both_errors() -> None:
    data = ROOT.parent / "shared" / "data"
    if not (data / "date_mot.jsonl.gz").exists():
        pytest.skip("the replay tables are not next to the repository (../shared/data)")
    out = run_script("sample_prediction.py", "--seeds", "1", "--n", "10")
    rows = [line for line in out.splitlines() if line.startswith(("date_mot", "aqua_pot"))]
    assert len(rows) == 2 and all(line.rstrip().endswith("%") for line in rows)
    assert "per context" in out and "arm mean" in out


def test_fit_speed_prints_both_ways_and_their_ratio() -> None:
    out = run_script("fit_speed.py", "--prompts", "20", "--repeats", "1")
    assert "240 records (20 prompts x 12 arms)" in out
    for row in ("fit(records)", "live decide/observe/feedback", "ratio live / fit"):
        assert any(line.startswith(row) for line in out.splitlines()), (row, out)


def test_cold_start_prints_the_router_against_the_best_fixed_arm() -> None:
    out = run_script("cold_start.py", "--seeds", "1", "--steps", "60",
                     "--workloads", "topics,domains,categories", "--variant", "alpha=0.5,dim=32")
    rows = [line.split() for line in out.splitlines()[2:]]
    assert {(r[0], r[1]) for r in rows} == {("topics", "0.005"), ("topics", "0.02"),
                                            ("domains", "0.005"), ("domains", "0.05"),
                                            ("categories", "0.01"), ("categories", "0.05")}
    for row in rows:
        assert row[2:4] == ["alpha=0.5,", "featurizer=32"]
        tail, whole, fixed, delta = map(float, row[4:8])
        assert delta == pytest.approx(tail - fixed, abs=2e-3)
        assert float(row[9]) == pytest.approx(whole - fixed, abs=2e-3)


def test_cold_start_with_a_baseline_prints_the_router_against_it() -> None:
    out = run_script("cold_start.py", "--seeds", "2", "--steps", "80", "--workloads",
                     "topics", "--baseline", "--revised")
    assert "revised guard" in out.splitlines()[0]
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [("topics", "0.005"), ("topics", "0.02")]
    for row in rows:
        whole, base, delta = map(float, row[3:6])
        assert delta == pytest.approx(whole - base, abs=2e-3)
        assert float(row[8]) >= 0.95 - 1e-9  # the lowest running ratio kept the constraint
