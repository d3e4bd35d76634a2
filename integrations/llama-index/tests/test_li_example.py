"""examples/llamaindex_quickstart.py runs offline and learns from its feedback."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "llamaindex_quickstart.py"


def test_quickstart_runs_offline_with_feedback(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE), "--requests", "12", "--seed", "1"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    found = re.search(r"routed (\d+) questions, learned from (\d+) feedback scores; picks: "
                      r"(\{.*\})", out.stdout)
    assert found, out.stdout
    assert found.group(1) == found.group(2) == "12"
    picks = ast.literal_eval(found.group(3))
    assert set(picks) <= {"gpt-3-6b", "gpt-3-175b"} and sum(picks.values()) == 12
    assert out.stdout.count("   gpt-3-") == 3  # three sample answers shown
    assert re.search(r"uniscale:\s+quality [01]\.\d{3}, cost \$\d", out.stdout)
