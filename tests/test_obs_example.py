"""examples/observability.py runs offline as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "observability.py"


def test_observability_example(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--requests", "300", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "last decision: chose " in out and "runner-up" in out
    assert "300 decisions" in out and (tmp_path / "report.png").stat().st_size > 20_000
    assert "fitted 300 logged decisions; arm counts equal: True" in out
    assert "off-policy: W=0.02 would earn" in out
