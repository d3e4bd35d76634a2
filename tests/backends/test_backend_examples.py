"""The direct-provider examples run offline, against the loopback server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--requests", "8"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", ["openai_direct.py", "anthropic_direct.py"])
def test_direct_example_runs_offline(name):
    out = _run(name)
    assert "running against the loopback server at http://127.0.0.1:" in out
    served = [line for line in out.splitlines() if "sample(s)" in line]
    assert len(served) == 8
    assert all(float(re.search(r"\$(\d+\.\d+)", line).group(1)) > 0 for line in served)
    assert "failures {}" in out
    assert "streamed: 12 times 12: the answer is 144." in out
    if name == "anthropic_direct.py":  # the shared system prompt is read from the cache
        cached = [int(m) for m in re.findall(r"\((\d+) cached", out)]
        assert cached[0] == 0 and max(cached) > 0
