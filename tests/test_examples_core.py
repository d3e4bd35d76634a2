"""The core's examples run offline as users would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_learns() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--requests", "1200"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("requests")]
    assert len(lines) == 4
    first, last = (float(line.split("quality")[1].split()[0]) for line in (lines[0], lines[-1]))
    assert last > first  # quality rises as the router learns
    assert "hard-code  large/single/1" in done.stdout


def test_adaptive_consistency_example_stops_easy_votes_early() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "adaptive_consistency.py")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("small/")]
    assert len(rows) == 8
    easy = [r for r in rows if r[1] == "easy:"]
    assert {r[0]: r[r.index("samples") + 1] for r in easy} == {
        "small/sc/20": "20", "small/sc+beta0.95/20": "4"}
    assert "implicit rewards learned: 7" in done.stdout
