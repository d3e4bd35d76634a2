"""Smoke run of benchmarks/budget.py: it prints a row per synthetic workload."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_budget_benchmark_prints_spend_error_and_quality() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "budget.py"), "--seeds", "1",
         "--steps", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["workload", "budget", "spend", "error", "quality",
                                "affordable"]
    for name, row in zip(("synthetic", "topics"), lines[1:], strict=True):
        cells = row.split()
        assert cells[:2] == [name, "(cold)"], row
        budget, spend, error = float(cells[2]), float(cells[3]), cells[4]
        assert budget > 0 and spend > 0 and error.endswith("%"), row
        assert abs(float(error[:-1]) - 100 * (spend / budget - 1)) < 0.1, row
