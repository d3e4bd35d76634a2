"""Smoke runs of the observability benchmark scripts (no timing checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_ope_script_prints_estimates_and_coverage() -> None:
    out = _run("ope.py", "--seeds", "1", "--prompts", "120", "--steps", "200")
    assert "DR [95%]" in out and "W/2 (cheaper)" in out and "alpha 0.3 (narrower)" in out
    assert "DR interval covers the real reward in" in out


def test_observability_overhead_script_prints_ratios() -> None:
    out = _run("observability.py", "--quick")
    assert "ratio (median)" in out
    for name in ("baseline", "+ explain()", "log file", "log file, features", "log callable",
                 "softmax", "thompson"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
