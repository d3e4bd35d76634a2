"""ChatUniScale over a rate-limited ChatOpenAI child: native n against one request a sample.

Three calls of a 5-sample self-consistency arm, the child ``ChatOpenAI(model=
"gpt-4o-mini", rate_limiter=InMemoryRateLimiter(requests_per_second=RPS))`` talking HTTP
to the loopback server. The baseline in the same run is the same router with the child's
``n`` turned off (every sample its own request, as the adapter did before). Printed per
variant: HTTP requests, rate-limiter acquisitions, billed input tokens, whether
``get_usage_metadata_callback`` totals equal the billed usage, and the wall time; then
the ratios baseline / native.

    python benchmarks/langchain_children.py [--rps 5] [--calls 3] [--n 5]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_openai import ChatOpenAI
from langchain_uniscale import ChatUniScale

import uniscale as us
from uniscale.testing.loopback import LoopbackServer


class CountingLimiter(InMemoryRateLimiter):
    """LangChain's limiter, counting its acquisitions."""

    acquired = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.acquired += 1
        return super().acquire(blocking=blocking)


def run(server: LoopbackServer, *, native: bool, rps: float, calls: int, n: int
        ) -> dict[str, Any]:
    """One variant: ``calls`` invokes of an ``n``-sample arm."""
    server.reset()
    limiter = CountingLimiter(requests_per_second=rps, check_every_n_seconds=0.01,
                              max_bucket_size=1)
    child = ChatOpenAI(model="gpt-4o-mini", api_key="test-key", base_url=server.openai_url,
                       max_retries=0, rate_limiter=limiter)
    chat = ChatUniScale(models={"mini": child}, prices={"mini": us.Price(0.15, 0.6)},
                        strategies=["self-consistency"], n=[n])
    if not native:
        chat._backends["mini"].max_samples_per_call = 1
    start = time.perf_counter()
    with get_usage_metadata_callback() as usage:
        for i in range(calls):
            chat.invoke(f"What is 6 * {7 + i}?")
    seconds = time.perf_counter() - start
    billed_in = sum(u["prompt_tokens"] for u in server.usages)
    billed_out = sum(u["completion_tokens"] for u in server.usages)
    counted = usage.usage_metadata.get("gpt-4o-mini", {})
    return {"requests": len(server.requests), "acquired": limiter.acquired,
            "input": billed_in, "seconds": seconds,
            "counted_once": (counted.get("input_tokens"), counted.get("output_tokens"))
            == (billed_in, billed_out)}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", type=float, default=5.0)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--n", type=int, default=5)
    args = parser.parse_args()
    with LoopbackServer() as server:
        rows = {name: run(server, native=name == "native n", rps=args.rps, calls=args.calls,
                          n=args.n) for name in ("one request a sample", "native n")}
    print(f"{args.calls} calls of a {args.n}-sample arm, child limiter {args.rps} req/s")
    print(f"{'variant':<22}{'requests':>9}{'acquired':>9}{'input tok':>10}"
          f"{'usage once':>11}{'seconds':>9}")
    for name, row in rows.items():
        print(f"{name:<22}{row['requests']:>9}{row['acquired']:>9}{row['input']:>10}"
              f"{row['counted_once']!s:>11}{row['seconds']:>9.2f}")
    base, native = rows["one request a sample"], rows["native n"]
    print(f"ratios baseline/native: requests {base['requests'] / native['requests']:.1f}x, "
          f"input tokens {base['input'] / native['input']:.1f}x, "
          f"wall time {base['seconds'] / native['seconds']:.1f}x")


if __name__ == "__main__":
    main()
