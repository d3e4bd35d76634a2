"""The LangChain quickstart runs, and its router learns the best arm for the trade-off."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "langchain_quickstart.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("langchain_quickstart_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the replay model's annotations
    spec.loader.exec_module(module)
    return module


def test_example_runs_as_a_script() -> None:
    env = {**os.environ, "UNISCALE_EXAMPLE_REQUESTS": "20"}
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "total: 20 requests" in done.stdout
    assert "cost/request" in done.stdout


@pytest.mark.slow
def test_router_settles_on_the_best_arm_for_the_tradeoff() -> None:
    example = _example()
    rows, _ = example.load_table()
    willingness_to_pay = 10.0
    best = example.best_arm(rows, willingness_to_pay)
    # At $10 per right answer the large model with its verifier wins in hindsight.
    assert best == "gpt-3-175b/single:verifier-best-of-100/1"
    history = example.run(300, willingness_to_pay, seed=0, verbose=False)
    assert len(history) == 300
    late = Counter(h["arm"] for h in history[-100:])
    assert late[best] >= 70, late
    early = Counter(h["arm"] for h in history[:50])
    assert len(early) >= 3  # it explored before settling
