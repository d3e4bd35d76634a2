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
    """

    samples: tuple[Sample, ...]
    usage: Usage
    aggregate: Aggregate
    errors: tuple[BaseException, ...] = field(default=())

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


def _finish(
    strategy: Strategy, request: Request, n: int, outcomes: list[Completion | BaseException]
) -> StrategyRun:
    samples: list[Sample] = []
    usage = Usage()
    errors: list[BaseException] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            errors.append(outcome)
            usage = usage + getattr(outcome, "usage", Usage())
            continue
        samples.extend(outcome.samples)
        usage = usage + outcome.usage
    if not samples:
        first = errors[0] if errors else None
        raise AllSamplesFailedError(
            f"all {n} sample(s) failed; first error: {first!r}. Check the backend, or give "
            "the router a fallback arm", errors
        ) from first
    aggregate = strategy.aggregate(request, samples)
    return StrategyRun(tuple(samples), usage, aggregate, tuple(errors))


def run_strategy(strategy: Strategy, backend: Backend, base: Request, n: int) -> StrategyRun:
    """Draw ``n`` samples of ``base`` from ``backend`` and aggregate them.

    Calls are made concurrently in threads; a backend with ``max_samples_per_call > 1``
    is asked for several samples per call. Failed calls are dropped; the answer comes from
    the rest.

    Args:
        strategy: The arm's strategy.
        backend: A :class:`~uniscale.backends.Backend`.
        base: The user's request.
        n: Number of samples.

    Returns:
        The run's samples, usage and aggregate.

    Raises:
        AllSamplesFailedError: When no sample succeeded.
    """
    sizes = _chunks(n, getattr(backend, "max_samples_per_call", 1))
    requests = [strategy.request(base, size) for size in sizes]
    outcomes: list[Completion | BaseException] = []
    if len(requests) == 1:
        outcomes.append(_call(backend, requests[0]))
    else:
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            outcomes.extend(pool.map(lambda r: _call(backend, r), requests))
    return _finish(strategy, requests[0], n, outcomes)


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
    """Async form of :func:`run_strategy`; samples run as concurrent tasks."""
    sizes = _chunks(n, getattr(backend, "max_samples_per_call", 1))
    requests = [strategy.request(base, size) for size in sizes]
    outcomes = list(await asyncio.gather(*(_acall(backend, r) for r in requests)))
    if isinstance(strategy, BestOfN):  # a scorer may block: keep it off the event loop
        return await asyncio.to_thread(_finish, strategy, requests[0], n, outcomes)
    return _finish(strategy, requests[0], n, outcomes)
