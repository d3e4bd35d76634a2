"""UniScale on Anthropic directly: route between two models and n=1/n=5, with prompt caching.

Run: python examples/anthropic_direct.py [--requests N]

With ``ANTHROPIC_API_KEY`` set this makes real calls (``UNISCALE_ANTHROPIC_SMALL`` /
``UNISCALE_ANTHROPIC_LARGE`` pick the models). Without a key it starts the loopback test
server on 127.0.0.1 and runs against it, offline. The Messages API returns one sample per
call, so a self-consistency arm with n=5 is five concurrent requests; with
``prompt_cache=True`` the long shared system prompt is written to the prompt cache once
and read by the other calls at the cached-input price. The cost printed is the reported
usage (cache reads and writes included) times the prices below.
"""

from __future__ import annotations

import argparse
import os
import random
import re

import uniscale as us
from uniscale.backends import AnthropicBackend
from uniscale.testing.loopback import LoopbackServer

# A long few-shot system prompt that every request shares (worth caching).
WORKED = "\n".join(f"Q: What is {a} * {b}? A: {a} times {b}: the answer is {a * b}."
                   for a in range(11, 31) for b in (13, 17, 19, 23))
SYSTEM = "You multiply numbers. Answer like these worked examples.\n" + WORKED


def offline_reply(prompt: str, index: int) -> str:
    """The loopback server's "model": right three times out of four."""
    a, b = (int(x) for x in re.findall(r"\d+", prompt)[:2])
    return f"{a} times {b}: the answer is {a * b + (1 if index % 4 == 3 else 0)}."


def main(requests: int = 12) -> None:
    """Serve ``requests`` multiplication questions, feed back correctness, print the cost."""
    server = None
    small = os.environ.get("UNISCALE_ANTHROPIC_SMALL", "claude-haiku-4-5")
    large = os.environ.get("UNISCALE_ANTHROPIC_LARGE", "claude-sonnet-4-5")
    options: dict[str, object] = {"max_retries": 3, "max_tokens": 300, "prompt_cache": True}
    if not os.environ.get("ANTHROPIC_API_KEY"):
        server = LoopbackServer(offline_reply, cache_min_tokens=1024).start()
        options.update(api_key="offline", base_url=server.anthropic_url)
        print(f"no ANTHROPIC_API_KEY: running against the loopback server at {server.url}")
    backends = {"small": AnthropicBackend(small, **options),
                "large": AnthropicBackend(large, **options)}
    router = us.Router(
        us.ArmSpace.product(models=["small", "large"],
                            strategies=[us.Single(), us.SelfConsistency()], n=[1, 5]),
        prices={"small": us.Price(input=1.0, output=5.0, cached_input=0.1, cache_write=1.25),
                "large": us.Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)},
        objective=us.Tradeoff(willingness_to_pay=0.05),
        backends=backends,
        fallback=[us.Arm("small", us.Single())],  # serves the request if an arm fails
        seed=0,
    )
    rng = random.Random(0)
    total = 0.0
    try:
        for _ in range(requests):
            a, b = rng.randint(12, 99), rng.randint(12, 99)
            result = router.invoke([{"role": "system", "content": SYSTEM},
                                    {"role": "user", "content": f"What is {a} * {b}?"}])
            right = us.extract_answer(result.text) == str(a * b)
            router.feedback(result.decision.id, score=float(right))
            total += result.cost
            u = result.usage
            print(f"{result.decision.arm.key:<16} {len(result.samples)} sample(s) "
                  f"{u.input_tokens:>5} in ({u.cached_input_tokens} cached, "
                  f"{u.cache_write_tokens} written) {u.output_tokens:>4} out "
                  f"${result.cost:.6f} {'right' if right else 'wrong'}")
        print(f"total cost ${total:.6f}; failures {router.stats['failures']}")
        request = us.Request((us.Message("user", "What is 12 * 12? Be brief."),))
        stream = backends["small"].stream(request)
        print("streamed:", "".join(stream), "| usage:", stream.usage)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=12)
    main(parser.parse_args().requests)
