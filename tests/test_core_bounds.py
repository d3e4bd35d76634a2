"""Bounded memory: pending decisions are capped, saves do not hold the router lock long."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

import uniscale as us


def test_pending_decisions_are_bounded_oldest_evicted(arms: us.ArmSpace,
                                                     prices: dict[str, us.Price],
                                                     tmp_path: Path) -> None:
    router = us.Router(arms, prices, max_pending=100)
    decisions = [router.decide(f"question {i}") for i in range(250)]
    assert len(router.pending) == 100
    assert router.stats["evicted"] == 150
    with pytest.raises(us.UnknownDecisionError, match=r"evicted.*max_pending"):
        router.feedback(decisions[0].id, 1.0)
    assert router.feedback(decisions[-1].id, 1.0)
    router.save(str(tmp_path / "s.json"))
    smaller = us.Router.load(str(tmp_path / "s.json"), max_pending=10)
    assert len(smaller.pending) == 10 and smaller.pending.max_pending == 10
    assert smaller.feedback(decisions[-2].id, 1.0)  # the newest are kept
    with pytest.raises(us.ConfigurationError, match="max_pending"):
        us.Router(arms, prices, max_pending=0)


def test_unanswered_decisions_stay_within_the_bounds(arms: us.ArmSpace,
                                                      prices: dict[str, us.Price],
                                                      tmp_path: Path) -> None:
    router = us.Router(arms, prices, featurizer=us.HashingFeaturizer(dim=64),
                       max_pending=1_000)
    router.pending.remember = 5_000
    x = np.full(64, 0.1)
    for _ in range(12_000):  # 1e5 in benchmarks/save_blocking.py
        router.decide(features=x)
    assert len(router.pending) == 1_000 and len(router.pending._done) == 5_000
    assert router.stats["evicted"] == 11_000
    path = tmp_path / "s.json"
    router.save(str(path))
    assert os.path.getsize(path) < 4 << 20


def test_decide_runs_while_a_save_writes(arms: us.ArmSpace, prices: dict[str, us.Price],
                                         tmp_path: Path) -> None:
    """A save writes outside the router lock: decide proceeds during the write."""
    router = us.Router(arms, prices, max_pending=5_000)
    for i in range(5_000):
        router.decide(f"q {i}")
    entered, release = threading.Event(), threading.Event()
    import uniscale.persist as persist

    real = persist.write_state

    def slow_write(*args: object) -> None:
        entered.set()
        release.wait(10)
        real(*args)  # type: ignore[arg-type]

    persist.write_state = slow_write  # type: ignore[assignment]
    try:
        saver = threading.Thread(target=router.save, args=(str(tmp_path / "s.json"),))
        saver.start()
        assert entered.wait(10)
        d = router.decide("during the write")  # would deadlock if save held the lock
        assert router.feedback(d.id, 1.0)
        release.set()
        saver.join(10)
    finally:
        persist.write_state = real
    loaded = us.Router.load(str(tmp_path / "s.json"))
    assert loaded.policy.updates == 0  # the snapshot was taken before that feedback


def test_save_writes_with_a_short_switch_interval_then_restores_it(
        router: us.Router, tmp_path: Path) -> None:
    """While a save encodes, other threads get the GIL back within 0.5 ms, not 5 ms."""
    import sys

    import uniscale.persist as persist

    real, seen = persist.write_state, []

    def spy(*args: object) -> None:
        seen.append(sys.getswitchinterval())
        real(*args)  # type: ignore[arg-type]

    def broken(*args: object) -> None:
        seen.append(sys.getswitchinterval())
        raise OSError("disk full")

    before = sys.getswitchinterval()
    persist.write_state = spy  # type: ignore[assignment]
    try:
        router.save(str(tmp_path / "s.json"))
        assert seen == [pytest.approx(0.0005, abs=2e-6)] and sys.getswitchinterval() == before
        persist.write_state = broken  # type: ignore[assignment]
        with pytest.raises(OSError, match="disk full"):
            router.save(str(tmp_path / "s.json"))
        assert sys.getswitchinterval() == before  # restored after a failed save too
        sys.setswitchinterval(0.0001)  # a shorter interval set by the application is kept
        persist.write_state = spy  # type: ignore[assignment]
        router.save(str(tmp_path / "s.json"))
        assert seen[-1] == pytest.approx(0.0001, abs=2e-6)
        assert sys.getswitchinterval() == pytest.approx(0.0001, abs=2e-6)
    finally:
        persist.write_state = real
        sys.setswitchinterval(before)
    assert [a.key for a in us.Router.load(str(tmp_path / "s.json")).arms] == \
        [a.key for a in router.arms]


def test_save_pauses_between_short_pieces(router: us.Router, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A long save sleeps now and then (so a deciding thread takes the interpreter
    within a piece), with the short switch interval, and writes the same bytes as a save
    that never pauses."""
    import itertools
    import sys
    import time
    import types

    import uniscale.store.file as file

    for i in range(3000):
        router.decide(features=np.full(router.featurizer.dim, 1e-3 * (i % 7)))
    before, naps, intervals = sys.getswitchinterval(), [], []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        intervals.append(sys.getswitchinterval())

    clock = itertools.count(time.perf_counter() + 1)  # 1 s per reading: every piece pauses
    monkeypatch.setattr(file, "time", types.SimpleNamespace(
        perf_counter=lambda: float(next(clock)), sleep=nap, time=time.time))
    router.save(str(tmp_path / "paused.json"))
    assert len(naps) > 30 and set(naps) == {file.PAUSE}
    assert set(intervals) == {min(before, 0.0005)}
    monkeypatch.setattr(file, "HOLD", 1e12)  # never pauses
    naps.clear()
    router.save(str(tmp_path / "straight.json"))
    assert naps == []
    assert (tmp_path / "paused.json").read_bytes() == (tmp_path / "straight.json").read_bytes()
    assert len(us.Router.load(str(tmp_path / "paused.json")).pending) == 3000


def test_save_removes_temporary_files_left_by_crashed_saves(router: us.Router,
                                                           tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    old = tmp_path / ".state.json.abc123.tmp"
    fresh = tmp_path / ".state.json.def456.tmp"  # maybe another process writing now
    other = tmp_path / ".other.json.abc123.tmp"
    for leftover in (old, fresh, other):
        leftover.write_bytes(b"partial")
    os.utime(old, (0, 0))
    os.utime(other, (0, 0))
    router.save(str(target))
    assert not old.exists() and fresh.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.json.abc123.tmp", ".state.json.def456.tmp", "state.json"]
