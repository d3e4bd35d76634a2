"""The fast LinUCB decides as the original layout did, and loads the states it saved.

The fixtures were recorded with the LinUCB of commit 2dcc962 by
``tests/fixtures/make_linucb_fixtures.py``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import uniscale as us

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_linucb_fixtures",
                                                  FIXTURES / "make_linucb_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDED = json.loads((FIXTURES / "linucb_streams.json").read_text())
KERNELS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    importlib.util.find_spec("numba") is None, reason="numba not installed"))]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_decisions_match_the_recorded_stream(name: str, kernel: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISCALE_KERNEL", kernel)  # the policies built by run_stream
    recorded = RECORDED[name]
    replayed = _generator().run_stream(recorded["kwargs"], recorded["seed"])
    assert replayed["chosen"] == recorded["chosen"]
    np.testing.assert_allclose(replayed["best_ucb"], recorded["best_ucb"], rtol=0, atol=1e-9)
    for got, want in zip(replayed["checkpoints"], recorded["checkpoints"], strict=True):
        assert got["step"] == want["step"]
        np.testing.assert_allclose(got["mean"], want["mean"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(got["width"], want["width"], rtol=0, atol=1e-9)
    for key in ("mean", "width"):
        np.testing.assert_allclose(replayed["final"][key], recorded["final"][key], rtol=0,
                                   atol=1e-9)


def test_state_saved_by_the_original_layout_loads(tmp_path: Path) -> None:
    probe = json.loads((FIXTURES / "router_state_v1_probe.json").read_text())
    router = us.Router.load(str(FIXTURES / "router_state_v1.json"))
    x = router.featurizer.transform([us.Message("user", probe["probe"])])
    mean, width = router.policy.estimate(x, np.arange(len(router.policy.slots)))
    np.testing.assert_allclose(mean, probe["mean"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(width, probe["width"], rtol=0, atol=1e-9)
    router.save(str(tmp_path / "again.json"))
    again = us.Router.load(str(tmp_path / "again.json"))
    m2, w2 = again.policy.estimate(x, np.arange(len(again.policy.slots)))
    np.testing.assert_allclose(m2, mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w2, width, rtol=0, atol=1e-12)
