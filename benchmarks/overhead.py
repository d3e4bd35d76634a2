"""Per-request overhead of the router's bandit, next to other contextual-bandit routers.

For each shape (K arms × d context length) this times one ``decide`` and one
``feedback`` of :class:`uniscale.Router` and, in the same run on the same contexts and
rewards, the same work done by MABWiser's LinUCB (``predict`` one context, ``partial_fit``
one observation), ParetoBandit's ``BanditRouter`` (``route`` one vector,
``process_feedback``) and, when installed, ``contextualbandits``' LinUCB and Vowpal
Wabbit. Ratios are theirs / ours, taken on the medians of the same run.

Router rows: ``uniscale`` is ``decide(features=x)`` (x a unit vector of length d) then
``feedback``; ``hybrid=False`` the per-arm model only (what the other LinUCBs fit);
``prompt`` decides from a prompt through the default :class:`HashingFeaturizer`;
``float64`` keeps the per-arm inverses that decide reads in float64 (the reference path;
the router keeps them in float32 by default, its sums in float64).

BLAS runs on one thread for everybody (``--blas-threads``). Every call is timed on its
own, wall clock and thread CPU time, with the garbage collector paused; the contestants
take turns round by round, so machine noise falls on all alike. Each figure is the
median over ≥ 5 rounds of the round's median. The machine's load average is printed:
on a shared machine read the ratios, not the microseconds.

Usage::

    python benchmarks/overhead.py            # full run (a few minutes)
    python benchmarks/overhead.py --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from overhead_peers import (
    Contestant,
    ContextualBanditsContestant,
    MabwiserContestant,
    ParetoBanditContestant,
    UniScaleContestant,
    VowpalWabbitContestant,
    array_bytes,
    make_arms,
    make_workload,
    policy_bytes,
)
from overhead_report import Row, print_linear, print_memory, print_table, print_targets

import uniscale

PEERS = ("mabwiser", "pareto_bandit", "contextualbandits", "vowpalwabbit")
PIP_NAMES = {"pareto_bandit": "paretobandit"}


@dataclass(frozen=True)
class Shape:
    """One configuration: K, d, which router rows, calls per round."""

    arms: int
    dim: int
    calls: int
    variants: tuple[str, ...] = ("uniscale", "float64")
    peers: bool = True


@dataclass
class Timings:
    """Per-call nanoseconds of one contestant, round by round."""

    decide: list[list[int]] = field(default_factory=list)
    pair: list[list[int]] = field(default_factory=list)
    cpu: list[list[int]] = field(default_factory=list)

    @staticmethod
    def _median(rounds: list[list[int]]) -> float:
        if not rounds:
            return math.nan
        return float(np.median([np.median(r) for r in rounds])) / 1000.0

    def figures(self) -> tuple[float, float, float, float]:
        """µs medians: decide, feedback, decide + feedback (wall), decide + feedback (CPU)."""
        feedback = [[p - d for p, d in zip(pr, dr, strict=True)]
                    for pr, dr in zip(self.pair, self.decide, strict=True)]
        return (self._median(self.decide), self._median(feedback), self._median(self.pair),
                self._median(self.cpu))


def run_rows(contestant: Contestant, workload: Any, rows: range, timings: Timings | None
             ) -> None:
    """Decide and feed back each row, timing each call when ``timings`` is given."""
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    decide, pair, spent = [], [], []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for t in rows:
            c0, t0 = cpu(), wall()
            handle = contestant.decide(workload, t)
            t1 = wall()
            contestant.feedback(workload, t, handle)
            t2, c2 = wall(), cpu()
            decide.append(t1 - t0)
            pair.append(t2 - t0)
            spent.append(c2 - c0)
    finally:
        if enabled:
            gc.enable()
    if timings is not None:
        timings.decide.append(decide)
        timings.pair.append(pair)
        timings.cpu.append(spent)


def time_featurizer(featurizer: uniscale.HashingFeaturizer, prompts: Iterable[str]) -> float:
    """Median µs of ``featurizer.transform`` on each prompt."""
    times = []
    for prompt in prompts:
        messages = [uniscale.Message("user", prompt)]
        t0 = time.perf_counter_ns()
        featurizer.transform(messages)
        times.append(time.perf_counter_ns() - t0)
    return float(np.median(times)) / 1000.0


def available_peers() -> dict[str, str | None]:
    """Each peer's import name mapped to None when importable, else why it is skipped."""
    status: dict[str, str | None] = {}
    for module in PEERS:
        if importlib.util.find_spec(module) is None:
            status[module] = f"not installed (pip install {PIP_NAMES.get(module, module)})"
            continue
        try:
            __import__(module)
            status[module] = None
        except Exception as exc:  # a broken install is reported, not fatal
            status[module] = f"import failed ({exc!r}); skipped"
    return status


def build(shape: Shape, seed: int, peers: dict[str, str | None]) -> list[Contestant]:
    """Ours first (the reference of the ratios), then every available peer."""
    arms, d = make_arms(shape.arms), shape.dim
    variants = {"uniscale": lambda: UniScaleContestant(arms, d),
                "hybrid=False": lambda: UniScaleContestant(arms, d, hybrid=False),
                "prompt": lambda: UniScaleContestant(arms, d, prompts=True),
                "float64": lambda: UniScaleContestant(arms, d, precision="float64")}
    out: list[Contestant] = [variants[v]() for v in shape.variants]
    if not shape.peers:
        return out
    makers: dict[str, Callable[[], Contestant]] = {
        "mabwiser": lambda: MabwiserContestant(shape.arms, seed),
        "pareto_bandit": lambda: ParetoBanditContestant(shape.arms, d, seed),
        "contextualbandits": lambda: ContextualBanditsContestant(shape.arms, seed),
        "vowpalwabbit": lambda: VowpalWabbitContestant(shape.arms, seed),
    }
    out += [makers[m]() for m in PEERS if peers.get(m) is None]
    return out


def bench_shape(shape: Shape, rounds: int, seed: int, peers: dict[str, str | None],
                progress: Callable[[str], None]) -> tuple[list[Row], dict[str, int]]:
    """Time every contestant on one shape; returns the rows and the router's array sizes."""
    initial, warmup = max(200, 2 * shape.arms), 20
    rng = np.random.default_rng([seed, shape.arms, shape.dim])
    workload = make_workload(rng, initial + warmup + rounds * shape.calls, shape.arms,
                             shape.dim)
    contestants = build(shape, seed, peers)
    for c in contestants:
        progress(f"  K={shape.arms} d={shape.dim}: preparing {c.name}")
        if isinstance(c, VowpalWabbitContestant):
            c.prepare(workload)
        c.initial_fit(workload, range(initial))
        run_rows(c, workload, range(initial, initial + warmup), None)
    timings = {c.name: Timings() for c in contestants}
    start = initial + warmup
    for r in range(rounds):
        rows = range(start + r * shape.calls, start + (r + 1) * shape.calls)
        for c in contestants if r % 2 == 0 else contestants[::-1]:
            gc.collect()
            run_rows(c, workload, rows, timings[c.name])
    out = []
    for c in contestants:
        prompts = isinstance(c, UniScaleContestant) and c.prompts
        featurize = (time_featurizer(c.router.featurizer, workload.prompts[start:])
                     if prompts and isinstance(c, UniScaleContestant) else None)
        out.append(Row(shape.arms, shape.dim, c.name, *timings[c.name].figures(), featurize,
                       c.state_bytes()))
    reference = contestants[0]
    assert isinstance(reference, UniScaleContestant)
    sizes = policy_bytes(reference.router.policy)
    sizes["k"] = reference.router.policy.k
    sizes["router"] = array_bytes(reference.router)
    return out, sizes


def linear_in_k(dim: int, arms: tuple[int, ...], rounds: int, calls: int, seed: int,
                progress: Callable[[str], None]) -> list[tuple[int, float]]:
    """Median µs of the default router's decide for each K (d fixed)."""
    out = []
    for k in arms:
        progress(f"  decide vs K: K={k}")
        rows, _ = bench_shape(Shape(k, dim, calls, ("uniscale",), peers=False), rounds, seed,
                              {}, lambda _: None)
        out.append((k, rows[0].decide))
    return out


# -- running --------------------------------------------------------------------------------
def blas_limit(threads: int | None) -> tuple[contextlib.AbstractContextManager[Any], str]:
    """A context capping BLAS at ``threads`` (threadpoolctl) and a description of it."""
    import threadpoolctl

    context: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if threads is not None:
        context = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    pools = [f"{p['internal_api']} (default {p['num_threads']} threads)"
             for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    how = f"capped at {threads} for every library" if threads else "library default"
    return context, f"{', '.join(pools) or 'unknown'}, {how}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: K in {6, 24}, d = 64, few calls")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (>= 5)")
    parser.add_argument("--calls", type=int, help="timed calls per round at K=24 d=64")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for everybody (0: library default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rounds < 5 and not args.quick:
        parser.error("--rounds must be >= 5 (figures are medians over rounds)")
    return args


def shapes_of(args: argparse.Namespace) -> tuple[list[Shape], tuple[int, ...]]:
    """The shapes to time and the K values of the decide-vs-K sweep."""
    everything = ("uniscale", "hybrid=False", "prompt", "float64")
    if args.quick:
        calls = args.calls or 20
        return [Shape(6, 64, calls, everything), Shape(24, 64, calls, everything)], ()
    calls = args.calls or 300
    return ([Shape(24, 64, calls, everything), Shape(96, 256, max(calls // 6, 20)),
             Shape(384, 64, max(calls // 6, 20))], (24, 48, 96, 192, 384))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    args = parse_args(argv)
    shapes, sweep = shapes_of(args)
    rounds = max(args.rounds, 2) if args.quick else args.rounds
    peers = available_peers()
    limit, blas = blas_limit(args.blas_threads or None)
    print("UniScale overhead benchmark: µs per decide and per feedback (medians over rounds)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"uniscale {uniscale.__version__}, {platform.machine()}, seed {args.seed}")
    print(f"BLAS: {blas}; {os.cpu_count()} CPU(s), load average before "
          f"{', '.join(f'{v:.2f}' for v in _load())}")
    print(f"{rounds} rounds; calls per round: "
          + ", ".join(f"K={s.arms} d={s.dim}: {s.calls}" for s in shapes))
    for module, reason in peers.items():
        print(f"  {module}: {reason or 'installed ' + _version(PIP_NAMES.get(module, module))}")
    print()

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows: list[Row] = []
    memory: list[tuple[int, int, dict[str, int]]] = []
    gap = None
    with limit:
        for shape in shapes:
            shape_rows, sizes = bench_shape(shape, rounds, args.seed, peers, progress)
            rows.extend(shape_rows)
            memory.append((shape.arms, shape.dim, sizes))
        points = linear_in_k(64, sweep, rounds, 60, args.seed, progress) if sweep else []
    print_table(rows)
    print("d+f = one decide and its feedback; cpu = thread CPU time of the pair (excludes "
          "time the scheduler gave to other processes); ratio = theirs / ours on the "
          "medians against the shape's 'uniscale' row; stats = bytes of the learned arrays")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in _load())}")
    print()
    if points:
        gap = print_linear(64, points)
    print_memory(memory)
    print_targets(rows, memory, gap)
    return 0


def _load() -> tuple[float, ...]:
    try:
        return os.getloadavg()
    except OSError:
        return ()


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
