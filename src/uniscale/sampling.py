"""Running a strategy: concurrent sampling, partial failure, aggregation."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .backends.base import Backend
from .errors import AllSamplesFailedError
from .strategies import Aggregate, BestOfN, Strategy
from .types import Completion, Request, Sample, Usage

__all__ = ["StrategyRun", "arun_strategy", "run_strategy"]


@dataclass(frozen=True)
class StrategyRun:
    """Outcome of running one arm's strategy.

    Attributes:
        samples: The samples that succeeded, in order.
        usage: Usage of the model calls that answered (the scorer's is in ``aggregate``).
        aggregate: How the samples were combined.
        errors: The failures of samples that did not succeed.
        drawn: Samples asked of the backend (fewer than the arm's ``n`` when the run
            stopped early; failed samples included).
    """

    samples: tuple[Sample, ...]
    usage: Usage
    aggregate: Aggregate
    errors: tuple[BaseException, ...] = field(default=())
    drawn: int = 0

    @property
    def chosen(self) -> Sample:
        """The sample returned to the caller."""
        return self.samples[self.aggregate.index]


def _chunks(n: int, per_call: int) -> list[int]:
    per_call = max(1, int(per_call))
    sizes = [per_call] * (n // per_call)
    if n % per_call:
        sizes.append(n % per_call)
    return sizes


class _Run:
    """Book-keeping of one run: what every call returned, wave by wave."""

    def __init__(self, strategy: Strategy, backend: Backend, base: Request, n: int) -> None:
        self.n = n
        self.waves = strategy.waves(n)
        self.per_call = getattr(backend, "max_samples_per_call", 1)
        self.first = strategy.request(base, min(n, max(1, int(self.per_call))))
        self.tally = strategy.tally(self.first, n)
        self.usage = Usage()
        self.errors: list[BaseException] = []
        self.drawn = 0
        self._strategy = strategy
        self._base = base

    def requests(self, wave: int) -> list[Request]:
        """The backend calls of a wave of ``wave`` samples."""
        return [self._strategy.request(self._base, size)
                for size in _chunks(wave, self.per_call)]

    def take(self, requests: list[Request], outcomes: list[Completion | BaseException]
             ) -> list[Sample]:
        """Account a wave's calls; returns the samples that succeeded."""
        samples: list[Sample] = []
        self.drawn += sum(r.n for r in requests)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                self.errors.append(outcome)
                self.usage = self.usage + getattr(outcome, "usage", Usage())
                continue
            samples.extend(outcome.samples)
            self.usage = self.usage + outcome.usage
        return samples

    def finish(self) -> StrategyRun:
        samples = self.tally.samples
        if not samples:
            first = self.errors[0] if self.errors else None
            raise AllSamplesFailedError(
                f"all {self.drawn} sample(s) failed; first error: {first!r}. Check the "
                "backend, or give the router a fallback arm", self.errors) from first
        aggregate = self.tally.result()
        errors = (*self.errors, *self.tally.errors)
        return StrategyRun(tuple(samples), self.usage, aggregate, errors, self.drawn)


def run_strategy(strategy: Strategy, backend: Backend, base: Request, n: int) -> StrategyRun:
    """Draw up to ``n`` samples of ``base`` from ``backend`` and aggregate them.

    The samples are drawn in the strategy's waves (one wave of ``n`` unless it stops
    early). Within a wave, calls are made concurrently in threads; a backend with
    ``max_samples_per_call > 1`` is asked for several samples per call. Failed calls are
    dropped; the answer comes from the rest. A wave in which every call failed ends the
    run.

    Args:
        strategy: The arm's strategy.
        backend: A :class:`~uniscale.backends.Backend`.
        base: The user's request.
        n: Most samples to draw.

    Returns:
        The run's samples, usage (every call that was made) and aggregate.

    Raises:
        AllSamplesFailedError: When no sample succeeded.
    """
    run = _Run(strategy, backend, base, n)
    widest = max(len(_chunks(w, run.per_call)) for w in run.waves)
    pool = ThreadPoolExecutor(max_workers=widest) if widest > 1 else None
    try:
        for wave in run.waves:
            requests = run.requests(wave)
            if pool is None or len(requests) == 1:
                outcomes = [_call(backend, r) for r in requests]
            else:
                outcomes = list(pool.map(lambda r: _call(backend, r), requests))
            samples = run.take(requests, outcomes)
            if not samples:
                break
            run.tally.add(samples)
            if run.tally.done():
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return run.finish()


def _call(backend: Backend, request: Request) -> Completion | BaseException:
    try:
        return backend.complete(request)
    except Exception as exc:  # a failed sample is dropped, not fatal
        return exc


async def _acall(backend: Backend, request: Request) -> Completion | BaseException:
    try:
        acomplete = getattr(backend, "acomplete", None)
        if acomplete is None:
            return await asyncio.to_thread(backend.complete, request)
        completion: Completion = await acomplete(request)
        return completion
    except Exception as exc:
        return exc


async def arun_strategy(
    strategy: Strategy, backend: Backend, base: Request, n: int
) -> StrategyRun:
    """Async form of :func:`run_strategy`; a wave's calls run as concurrent tasks."""
    run = _Run(strategy, backend, base, n)
    blocking = isinstance(strategy, BestOfN)  # a scorer may block: keep it off the loop
    for wave in run.waves:
        requests = run.requests(wave)
        outcomes = list(await asyncio.gather(*(_acall(backend, r) for r in requests)))
        samples = run.take(requests, outcomes)
        if not samples:
            break
        if blocking:
            await asyncio.to_thread(run.tally.add, samples)
        else:
            run.tally.add(samples)
        if run.tally.done():
            break
    return run.finish()
