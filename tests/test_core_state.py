"""Persistence, crash safety and thread safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import uniscale as us


def _train(router: us.Router, rng: np.random.Generator, n: int = 200) -> None:
    topics = ["math proof", "python code", "small talk", "history date"]
    for i in range(n):
        d = router.decide(f"{topics[i % 4]} number {int(rng.integers(100))}")
        router.feedback(d.id, float(d.arm.n > 1 and i % 4 < 2))


@pytest.mark.parametrize("precision, rel", [("float64", 1e-9), ("float32", 1e-6)])
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_gives_same_decisions(arms: us.ArmSpace, prices: dict[str, us.Price],
                                        tmp_path: Path, suffix: str, precision: str,
                                        rel: float) -> None:
    router = us.Router(arms, prices, us.Budget(per_request=0.001), seed=3, forgetting=0.999,
                       precision=precision)
    _train(router, np.random.default_rng(1))
    pending = router.decide("still waiting")
    path = tmp_path / f"state{suffix}"
    router.save(str(path))
    loaded = us.Router.load(str(path))
    prompts = [f"prompt {i} {'code' if i % 3 else 'math'}" for i in range(50)]
    for p in prompts:
        a, b = router.decide(p), loaded.decide(p)
        assert a.arm == b.arm
        assert a.ucb == pytest.approx(b.ucb, rel=rel, abs=1e-12)
        assert a.predicted_cost == pytest.approx(b.predicted_cost)
        router.feedback(a.id, 0.5)
        loaded.feedback(b.id, 0.5)
    loaded.feedback(pending.id, 1.0)  # pending decisions survive a restart


CRASHER = textwrap.dedent(
    """
    import sys, numpy as np, uniscale as us
    arms = us.ArmSpace.product(["a", "b"], [us.Single(), us.SelfConsistency()], [1, 3])
    router = us.Router(arms, {"a": us.Price(1, 1), "b": us.Price(2, 2)},
                       featurizer=us.HashingFeaturizer(dim=512))
    rng = np.random.default_rng(0)
    i = 0
    while True:
        d = router.decide(f"prompt {i}")
        router.feedback(d.id, float(rng.random()))
        router.save(sys.argv[1])
        if i == 0:
            print("saved once", flush=True)
        i += 1
    """
)


def test_crash_during_save_leaves_previous_file_loadable(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    for delay in (0.4, 0.7, 1.1):
        proc = subprocess.Popen([sys.executable, str(script), str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "saved once"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = us.Router.load(str(path))
        assert loaded.policy.updates >= 1


def test_threads_match_sequential(arms: us.ArmSpace, prices: dict[str, us.Price]) -> None:
    dim = 32
    rng = np.random.default_rng(7)
    work = []
    for _t in range(8):
        jobs = []
        for _ in range(1000):
            x = rng.standard_normal(dim)
            jobs.append((x / np.linalg.norm(x), arms[int(rng.integers(len(arms)))],
                         float(rng.random())))
        work.append(jobs)

    def make() -> us.Router:
        return us.Router(arms, prices, featurizer=us.HashingFeaturizer(dim=dim))

    def run(router: us.Router, jobs: list[tuple[np.ndarray, us.Arm, float]]) -> None:
        for x, arm, score in jobs:
            d = router.decide(features=x, allowed=[arm])
            router.feedback(d.id, score)

    threaded = make()
    threads = [threading.Thread(target=run, args=(threaded, jobs)) for jobs in work]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    sequential = make()
    for jobs in work:
        run(sequential, jobs)
    assert threaded.policy.updates == sequential.policy.updates == 8000
    assert threaded.stats["decisions"] == sequential.stats["decisions"] == 8000
    for name in ("A_raw", "B", "b", "counts", "S_zz", "zr", "A_inv", "A0_inv"):
        # the inverses are updated (the per-arm ones in float32, the default) in another
        # order of updates; the sums agree to rounding
        tol = (2e-6, 1e-8) if name in ("A_inv", "A0_inv") else (1e-7, 1e-9)
        np.testing.assert_allclose(getattr(threaded.policy, name),
                                   getattr(sequential.policy, name), rtol=tol[0], atol=tol[1])
    assert len(threaded.pending) == 0


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_many_pending_decisions_survive_save_and_load(arms: us.ArmSpace,
                                                      prices: dict[str, us.Price],
                                                      tmp_path: Path, suffix: str) -> None:
    """A save writes long pending lists in pieces; the file reads back whole."""
    router = us.Router(arms, prices, seed=5)
    decisions = [router.decide(f"question {i} ünïcode") for i in range(700)]
    router.observe(decisions[300].id, us.Usage(input_tokens=12, output_tokens=40))
    for d in decisions[:50]:
        router.feedback(d.id, 1.0)
    path = tmp_path / f"state{suffix}"
    router.save(str(path))
    loaded = us.Router.load(str(path))
    mine, theirs = list(router.pending), list(loaded.pending)
    assert [p.id for p in theirs] == [p.id for p in mine] and len(theirs) == 650
    assert np.array_equal(np.stack([p.x for p in theirs]), np.stack([p.x for p in mine]))
    assert [p.observed_cost for p in theirs] == [p.observed_cost for p in mine]
    assert loaded.pending.get(decisions[300].id).observed_cost is not None
    assert loaded.feedback(decisions[699].id, 0.0) and loaded.policy.updates == 51
    if suffix == ".json":  # one standard JSON document, as a single json.dumps writes it
        doc = json.loads(path.read_text())
        assert sorted(doc) == ["arrays", "format", "meta", "sha256", "version"]
        (tmp_path / "rewritten.json").write_text(json.dumps(doc))
        again = us.Router.load(str(tmp_path / "rewritten.json"))
        assert [p.id for p in again.pending] == [p.id for p in mine]


def test_long_forgetting_keeps_estimates_sane_and_state_loadable(
        arms: us.ArmSpace, prices: dict[str, us.Price], tmp_path: Path) -> None:
    """γ = 0.9 over 2,500 updates discounts the prior by 1e-114: it is kept from vanishing,
    so estimates stay near the rewards' range and the state saves and loads."""
    router = us.Router(arms, prices, forgetting=0.9, featurizer=us.HashingFeaturizer(dim=16),
                       seed=0)
    rng = np.random.default_rng(0)
    contexts = rng.standard_normal((32, 16))
    contexts /= np.linalg.norm(contexts, axis=1, keepdims=True)
    for i in range(2_500):
        d = router.decide(features=contexts[i % 32])
        router.feedback(d.id, float(d.arm.model == "large"))
    d = router.decide(features=contexts[0])
    qualities = np.array([c.quality for c in d.candidates])
    widths = np.array([c.width for c in d.candidates])
    assert np.all(np.isfinite(widths)) and np.all(np.abs(qualities - 0.5) < 1.0)
    path = tmp_path / "forgetting.json"
    router.save(str(path))
    loaded = us.Router.load(str(path))
    again = loaded.decide(features=contexts[0])
    assert [c.quality for c in again.candidates] == pytest.approx(list(qualities), abs=1e-6)
