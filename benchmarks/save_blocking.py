"""Memory of unanswered decisions, and how long a save blocks decide.

1e5 decisions are never fed back; the pending store keeps at most ``max_pending`` of
them (default 10,000). Then one thread saves in a loop while the main thread decides:
the save copies the state under the router's lock and writes it outside, pending
decisions as columns (two arrays, two lists of strings), in short pieces with a brief
sleep every 0.2 ms of work (``uniscale.store.file.breathe``) and the interpreter's
switch interval shortened to 0.5 ms meanwhile (``uniscale.saving.SWITCH_INTERVAL``, in
case a deciding thread wakes up too late to take over), so decide waits only for the
copy and for one short piece. Printed: memory growth, pending count, file size, the
time a save holds the lock (wall clock and thread CPU), the longest stretch a save holds
the interpreter between two hand-overs (thread CPU time, which the machine's load does
not inflate), and decide latency during back-to-back saves against as many decides
without a save in the same run (alone, during, alone again). Per decide, besides wall
time: its thread CPU time, and (Linux) the time it was off the CPU without being
runnable, i.e. asleep waiting for the interpreter lock or the router's lock -- what a
save can cause; time spent runnable but not running is the machine's load (on a loaded
machine some of it shows as asleep too: compare with the decides alone). The target
line: a decide waits at most 5 ms for a save.

    python benchmarks/save_blocking.py            # 1e5 decisions
    python benchmarks/save_blocking.py --quick
    python benchmarks/save_blocking.py --quick --format npz
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import tracemalloc
from typing import Any

import numpy as np

import uniscale as us
import uniscale.store.file
from uniscale.persist import snapshot_router

SCHEDSTAT = "/proc/thread-self/schedstat"


def _latencies(router: us.Router, n: int, x: np.ndarray) -> np.ndarray:
    """Per decide: wall seconds, thread CPU seconds, seconds asleep (not runnable)."""
    out = np.zeros((n, 3))
    fd = os.open(SCHEDSTAT, os.O_RDONLY) if os.path.exists(SCHEDSTAT) else None
    try:
        for i in range(n):
            start = time.perf_counter()
            queued = int(os.pread(fd, 64, 0).split()[1]) if fd is not None else 0
            cpu = time.thread_time()
            router.decide(features=x)
            cpu = time.thread_time() - cpu
            if fd is not None:
                queued = int(os.pread(fd, 64, 0).split()[1]) - queued
            wall = time.perf_counter() - start
            out[i] = wall, cpu, max(wall - cpu - queued * 1e-9, 0.0) if fd is not None \
                else np.nan
    finally:
        if fd is not None:
            os.close(fd)
    return out


class _Watch:
    """Stands in for the ``time`` or ``os`` module of :mod:`uniscale.store.file` during
    one save: notes the thread CPU time between two hand-overs of the interpreter (a
    sleep of :func:`uniscale.store.file.breathe`, an fsync, a rename) in ``marks``."""

    def __init__(self, module: Any, marks: list[float]) -> None:
        self.module = module
        self.marks = marks  # [since the last hand-over, longest stretch]

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.module, name)
        if name not in ("sleep", "fsync", "replace"):
            return value

        def handover(*args: Any) -> Any:
            self.marks[1] = max(self.marks[1], time.thread_time() - self.marks[0])
            try:
                return value(*args)
            finally:
                self.marks[0] = time.thread_time()
        return handover


def _longest_hold(router: us.Router, path: str) -> float:
    """The longest thread-CPU stretch of one save between two hand-overs.

    A decide that waits for the interpreter while a save holds it waits until the save
    sleeps (``uniscale.store.file.breathe``) or blocks on the disk, or until the switch
    interval (5 ms) forces a switch (a write or a hash also releases the interpreter, but
    returns before a waiting thread wakes up, so the saver takes it straight back); so
    this stretch bounds the wait, and in thread CPU time it does not depend on how loaded
    the machine is. The first stretch includes the copy under the lock.
    """
    file = uniscale.store.file
    marks = [time.thread_time(), 0.0]
    file.time, file.os = _Watch(time, marks), _Watch(os, marks)  # type: ignore[assignment]
    try:
        router.save(path)
    finally:
        file.time, file.os = time, os
    return max(marks[1], time.thread_time() - marks[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--max-pending", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=5,
                        help="saves the decide probe spans at least")
    parser.add_argument("--format", choices=["json", "npz"], default="json")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    total = 20_000 if args.quick else args.decisions
    arms = us.ArmSpace.product(["small", "large"], [us.Single(), us.SelfConsistency()],
                               [1, 3, 5])
    prices = {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)}
    router = us.Router(arms, prices, max_pending=args.max_pending)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(router.featurizer.dim)
    x /= np.linalg.norm(x)
    router.decide(features=x)  # one-time set-up (caches, compiled kernels) is not counted
    router.feedback(router.decide(features=x).id, 0.5)
    tracemalloc.start()
    for _ in range(total):
        router.decide(features=x)
    grown = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, f"state.{args.format}")
    start = time.perf_counter()
    router.save(path)
    save_s = time.perf_counter() - start
    holds, cpu = [], []
    for _ in range(5):
        with router._lock:
            t0, c0 = time.perf_counter(), time.thread_time()
            snapshot_router(router)
            holds.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
    step = max(_longest_hold(router, path) for _ in range(3))
    probe = 300 if args.quick else 2_000
    print(f"decisions never fed back   {total}")
    print(f"pending kept (bound)       {len(router.pending)} ({args.max_pending})")
    print(f"evicted                    {router.stats.get('evicted', 0)}")
    dim = len(x) + router.context.dim
    bound = args.max_pending * (8 * dim + 600) + 200 * router.pending.remember
    print(f"memory after them          {grown / 2**20:.1f} MiB (traced Python + numpy); "
          f"documented bound {bound / 2**20:.1f} MiB (PendingStore)")
    print(f"state file                 {os.path.getsize(path) / 2**20:.1f} MiB, "
          f"save {save_s * 1000:.0f} ms")
    print(f"lock held by a save        {np.median(holds) * 1000:.1f} ms median, "
          f"{max(holds) * 1000:.1f} ms max wall; {np.median(cpu) * 1000:.1f} ms median, "
          f"{max(cpu) * 1000:.1f} ms max thread CPU")
    print(f"longest hold of a save     {step * 1000:.2f} ms thread CPU between two hand-overs "
          "of the interpreter")
    worst = _probe(router, path, probe, args.saves, x)
    print(f"target: a decide waits at most 5 ms for a save: thread-CPU bound "
          f"{step * 1000:.1f} ms (longest hold, the copy under the lock included) "
          f"{'met' if step <= 0.005 else 'NOT met'}; wall clock, the machine's load "
          f"included: max {worst[0] * 1000:.1f} ms during saves vs {worst[1] * 1000:.1f} ms "
          f"alone, decides over 5 ms {worst[2]:.0f} during vs {worst[3]:.0f} alone")


def _probe(router: us.Router, path: str, probe: int, min_saves: int, x: np.ndarray
           ) -> tuple[float, float, float, float]:
    """Decide latency alone and during back-to-back saves; returns the longest wall time
    during saves and alone, and how many decides took over 5 ms during saves and alone."""
    alone = _latencies(router, probe, x)
    stop = threading.Event()
    saves = [0]

    def saver() -> None:
        while not stop.is_set():
            router.save(path)
            saves[0] += 1

    thread = threading.Thread(target=saver)
    thread.start()
    chunks: list[np.ndarray] = []
    while saves[0] < min_saves or len(chunks) * probe < len(alone):
        chunks.append(_latencies(router, probe, x))  # decide while saves run back to back
    stop.set()
    thread.join()
    during = np.concatenate(chunks)
    alone = np.concatenate([alone, _latencies(router, len(during) - len(alone), x)])
    print(f"{saves[0]} saves, {len(during)} decides each side (alone: before and after)")
    print("  decide (ms)              wall p50   p99    max | CPU p99   max | asleep p99   max")
    for label, lat in (("alone", alone), ("during saves", during)):
        wall, cpu, asleep = (np.percentile(c, [50, 99, 100]) * 1000 for c in lat.T)
        print(f"  {label:<22} {wall[0]:8.2f} {wall[1]:6.2f} {wall[2]:6.2f} | "
              f"{cpu[1]:6.2f} {cpu[2]:6.2f} | {asleep[1]:9.2f} {asleep[2]:6.2f}")
    print(f"  ratio during/alone     p50 {np.median(during[:, 0]) / np.median(alone[:, 0]):.2f}x,"
          f" p99 {np.percentile(during[:, 0], 99) / np.percentile(alone[:, 0], 99):.2f}x")
    return (float(np.max(during[:, 0])), float(np.max(alone[:, 0])),
            float(np.sum(during[:, 0] > 0.005)), float(np.sum(alone[:, 0] > 0.005)))


if __name__ == "__main__":
    main()
