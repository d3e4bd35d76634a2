"""Memory of unanswered decisions, and how long a save blocks decide.

1e5 decisions are never fed back; the pending store keeps at most ``max_pending`` of
them (default 10,000). Then one thread saves in a loop while the main thread decides:
the save copies the state under the router's lock and encodes and writes it outside,
in short pieces, with the interpreter's switch interval shortened to 0.5 ms meanwhile
(``uniscale.saving.SWITCH_INTERVAL``), so decide waits only for the copy and for one
short piece. Printed: memory growth, pending count, file size, the time a save holds
the lock (wall clock and thread CPU), the longest single bytecode step of a save (thread
CPU time, which the machine's load does not inflate), and decide latency during
back-to-back saves (the probe spans ``--saves`` of them) against as many decides without
a save, in the same run, twice: as saved before (5 ms switch interval, 256-item and
96 KiB pieces) and as saved now. The target line: a decide waits at most 5 ms for a save.

    python benchmarks/save_blocking.py            # 1e5 decisions
    python benchmarks/save_blocking.py --quick
    python benchmarks/save_blocking.py --quick --format npz
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import Any

import numpy as np

import uniscale as us
import uniscale.saving
import uniscale.store.file
from uniscale.persist import snapshot_router

NOW = (uniscale.saving.SWITCH_INTERVAL, uniscale.store.file.ITEMS, uniscale.store.file.CHUNK)
BEFORE = (sys.getswitchinterval(), 256, 3 << 15)


def _latencies(router: us.Router, n: int, x: np.ndarray) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        router.decide(features=x)
        out[i] = time.perf_counter() - start
    return out


def _longest_step(router: us.Router, path: str) -> tuple[float, str]:
    """The longest single bytecode step of one save (thread CPU time), and where.

    The interpreter hands over to another thread only between bytecode steps, so no
    decide waits on a save longer than this (plus the switch interval). Traced opcode by
    opcode, in thread CPU time: the figure does not depend on how loaded the machine is.
    """
    last, worst = [0.0], [0.0, ""]

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        gap = time.thread_time() - last[0]
        if last[0] and gap > worst[0]:
            where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
            worst[:] = [gap, where]
        last[0] = time.thread_time()
        return trace

    sys.settrace(trace)
    try:
        router.save(path)
    finally:
        sys.settrace(None)
    return worst[0], worst[1]


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
    steps = [_longest_step(router, path) for _ in range(2)]
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
    step, where = max(steps)
    print(f"longest save step          {step * 1000:.1f} ms thread CPU in one bytecode step "
          f"(ends at {where}; fsync and rename release the GIL)")
    worst = {}
    for name, setting in (("before", BEFORE), ("now", NOW)):
        _set(setting)
        worst[name] = _probe(router, path, probe, args.saves, x, name, setting)
    _set(NOW)
    bound = max(cpu) + max(NOW[0], step)
    print(f"target: max decide delay during saves <= 5 ms: thread-CPU bound "
          f"{bound * 1000:.1f} ms (lock hold + max(switch interval, longest step)) "
          f"{'met' if bound <= 0.005 else 'NOT met'}; wall-clock max excess over alone "
          f"{worst['now'] * 1000:.1f} ms now vs {worst['before'] * 1000:.1f} ms before "
          "(wall clock includes the machine's load)")


def _set(setting: tuple[float, int, int]) -> None:
    uniscale.saving.SWITCH_INTERVAL, uniscale.store.file.ITEMS, uniscale.store.file.CHUNK = \
        setting


def _probe(router: us.Router, path: str, probe: int, min_saves: int, x: np.ndarray,
           name: str, setting: tuple[float, int, int]) -> float:
    """Decide latency alone and during back-to-back saves; returns max(during) - p99(alone)."""
    alone = _latencies(router, probe, x)
    stop = threading.Event()
    saves = [0]

    def saver() -> None:
        while not stop.is_set():
            router.save(path)
            saves[0] += 1

    thread = threading.Thread(target=saver)
    thread.start()
    chunks = []
    while saves[0] < min_saves or len(chunks) * probe < len(alone):
        chunks.append(_latencies(router, probe, x))  # decide while saves run back to back
    stop.set()
    thread.join()
    during = np.concatenate(chunks)
    alone = np.concatenate([alone, _latencies(router, len(during) - len(alone), x)])
    print(f"[{name}] switch interval {setting[0] * 1000:g} ms, {setting[1]} items and "
          f"{setting[2] >> 10} KiB per piece; {saves[0]} saves, {len(during)} decides each side")
    print("  decide latency (ms)      p50     p99     max")
    for label, lat in (("alone", alone), ("during saves", during)):
        q = np.percentile(lat, [50, 99]) * 1000
        print(f"  {label:<22} {q[0]:6.2f}  {q[1]:6.2f}  {lat.max() * 1000:6.2f}")
    print(f"  ratio during/alone     p50 {np.median(during) / np.median(alone):.2f}x, "
          f"p99 {np.percentile(during, 99) / np.percentile(alone, 99):.2f}x")
    return float(during.max() - np.percentile(alone, 99))


if __name__ == "__main__":
    main()
