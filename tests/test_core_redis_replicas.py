"""Four replica processes through a real redis-server: no acknowledged feedback is lost
or counted twice, across a replica SIGKILL and a Redis restart (AOF on).

The full 4 x 10,000 run: ``python benchmarks/redis_replicas.py``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (apt-get install redis-server)",
)

ROOT = Path(__file__).resolve().parents[1]


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "redis_replicas", ROOT / "benchmarks" / "redis_replicas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("redis_replicas", module)
    spec.loader.exec_module(module)
    return module


def test_four_replicas_kill_and_restart_lose_and_double_nothing() -> None:
    figures = _soak().run(processes=4, n=1500, aof=True)
    assert figures["restarted_redis"], figures
    assert figures["worker_exit_codes"].count(-9) == 1, figures  # one replica SIGKILLed
    assert figures["worker_exit_codes"].count(0) == 3, figures
    assert figures["acknowledged"] > 4000, figures
    assert figures["counted"] == figures["updates"] == figures["acknowledged"], figures
    assert figures["duplicates_refused"] > 0 and figures["unknown_ids"] == 0, figures

