"""Wall time of ``SelfConsistency`` with n samples against one call, over a slow backend.

A :class:`uniscale.FakeBackend` sleeps a fixed latency (200 ms by default) per call. For
each way of running — ``router.invoke`` (samples fanned out to threads) and
``await router.ainvoke`` (samples as asyncio tasks) — and for two backends — one sample
per call, and native multi-sampling (``max_samples_per_call=n``, like OpenAI's ``n``) —
this prints the wall time of one request on the ``Single`` arm and on the
``SelfConsistency`` n arm, and their ratio. The target is a ratio under 1.3×: n samples
should cost about one call's latency, not n.

Usage::

    python benchmarks/fanout.py            # full run
    python benchmarks/fanout.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass

import numpy as np

import uniscale

TARGET = 1.3
PROMPT = "What is 17 * 3? Give the answer on a line 'answer: N'."


def responder(request: uniscale.Request, rng: np.random.Generator) -> str:
    """A sample text whose extracted answer is mostly 51."""
    return f"Working it out... answer: {51 if rng.random() < 0.8 else 50}"


@dataclass(frozen=True)
class Measurement:
    """Wall times of the single call and of the n-sample call for one setting."""

    mode: str
    backend: str
    single: list[float]
    multi: list[float]
    calls_per_request: float
    samples: int

    @property
    def ratio(self) -> float:
        """Median multi-sample time over median single-call time."""
        return statistics.median(self.multi) / statistics.median(self.single)


def make_router(n: int, latency: float, per_call: int, seed: int
                ) -> tuple[uniscale.Router, uniscale.Arm, uniscale.Arm, uniscale.FakeBackend]:
    """A router over one model with a ``Single`` arm and a ``SelfConsistency`` n arm."""
    backend = uniscale.FakeBackend(responder, latency=latency, max_samples_per_call=per_call,
                                   rng=np.random.default_rng(seed))
    single = uniscale.Arm("model", uniscale.Single())
    multi = uniscale.Arm("model", uniscale.SelfConsistency(), n)
    router = uniscale.Router([single, multi], {"model": uniscale.Price(1.0, 4.0)},
                             backends={"model": backend}, seed=seed)
    return router, single, multi, backend


def time_sync(router: uniscale.Router, arm: uniscale.Arm) -> tuple[float, int]:
    """Wall seconds of one ``router.invoke`` forced onto ``arm``, and its sample count."""
    t0 = time.perf_counter()
    result = router.invoke(PROMPT, allowed=[arm])
    elapsed = time.perf_counter() - t0
    router.feedback(result.decision.id, 1.0)
    return elapsed, len(result.samples)


async def time_async(router: uniscale.Router, arm: uniscale.Arm) -> tuple[float, int]:
    """Wall seconds of one ``await router.ainvoke`` forced onto ``arm``."""
    t0 = time.perf_counter()
    result = await router.ainvoke(PROMPT, allowed=[arm])
    elapsed = time.perf_counter() - t0
    router.feedback(result.decision.id, 1.0)
    return elapsed, len(result.samples)


def measure(mode: str, n: int, latency: float, per_call: int, repeats: int, seed: int
            ) -> Measurement:
    """Alternate single and n-sample requests ``repeats`` times (after one warm-up each)."""
    router, single, multi, backend = make_router(n, latency, per_call, seed)
    single_times: list[float] = []
    multi_times: list[float] = []
    samples = 0

    async def run_async() -> None:
        nonlocal samples
        for i in range(repeats + 1):
            s, _ = await time_async(router, single)
            m, samples = await time_async(router, multi)
            if i:
                single_times.append(s)
                multi_times.append(m)

    if mode == "ainvoke":
        asyncio.run(run_async())
    else:
        for i in range(repeats + 1):
            s, _ = time_sync(router, single)
            m, samples = time_sync(router, multi)
            if i:
                single_times.append(s)
                multi_times.append(m)
    requests = repeats + 1
    multi_calls = (len(backend.calls) - requests) / requests  # one call per single
    name = "1 sample/call" if per_call == 1 else f"{per_call} samples/call (native)"
    return Measurement(mode, name, single_times, multi_times, multi_calls, samples)


def print_table(rows: list[Measurement], n: int, latency: float) -> None:
    """The fan-out table."""
    header = (f"{'mode':<8} {'backend':<26} {'single ms':>10} {f'SC n={n} ms':>12} "
              f"{'calls/req':>9} {'samples':>7} {'ratio':>7}  target < {TARGET}×")
    print(header)
    print("-" * len(header))
    for row in rows:
        verdict = "ok" if row.ratio < TARGET else "ABOVE TARGET"
        print(f"{row.mode:<8} {row.backend:<26} {statistics.median(row.single) * 1e3:10.1f} "
              f"{statistics.median(row.multi) * 1e3:12.1f} {row.calls_per_request:9.0f} "
              f"{row.samples:7d} {row.ratio:6.2f}×  {verdict}")
    print()
    print(f"ms = median wall time of one request (backend latency {latency * 1e3:.0f} ms per "
          "call); ratio = SC / single; sequential sampling would be "
          f"{n:.0f}× ({n * latency * 1e3:.0f} ms).")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one repeat")
    parser.add_argument("--n", type=int, default=8, help="samples of SelfConsistency")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per backend call")
    parser.add_argument("--repeats", type=int, help="timed requests per arm and setting")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 10)
    print(f"UniScale fan-out benchmark: SelfConsistency n={args.n} against a single call")
    print(f"uniscale {uniscale.__version__}; FakeBackend latency {args.latency * 1e3:.0f} ms; "
          f"{repeats} timed request(s) per arm and setting, after one warm-up")
    print()
    rows = [
        measure(mode, args.n, args.latency, per_call, repeats, args.seed)
        for per_call in (1, args.n)
        for mode in ("invoke", "ainvoke")
    ]
    print_table(rows, args.n, args.latency)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
