"""UniScale on OpenAI directly: route between two models and n=1/n=5, learn from feedback.

Run: python examples/openai_direct.py [--requests N]

With ``OPENAI_API_KEY`` set this makes real calls (``UNISCALE_OPENAI_SMALL`` /
``UNISCALE_OPENAI_LARGE`` pick the models; any OpenAI-compatible server works with
``OPENAI_BASE_URL``). Without a key it starts the loopback test server on 127.0.0.1 and
runs against it, offline. A self-consistency arm with n=5 is one HTTP request (``n=5``);
the cost printed is the provider's reported usage times the prices below.
"""

from __future__ import annotations

import argparse
import os
import random
import re

import uniscale as us
from uniscale.backends import OpenAIBackend
from uniscale.testing.loopback import LoopbackServer


def offline_reply(prompt: str, index: int) -> str:
    """The loopback server's "model": right three times out of four."""
    a, b = (int(x) for x in re.findall(r"\d+", prompt)[:2])
    return f"{a} times {b}: the answer is {a * b + (1 if index % 4 == 3 else 0)}."


def main(requests: int = 12) -> None:
    """Serve ``requests`` multiplication questions, feed back correctness, print the cost."""
    server = None
    small = os.environ.get("UNISCALE_OPENAI_SMALL", "gpt-4o-mini")
    large = os.environ.get("UNISCALE_OPENAI_LARGE", "gpt-4o")
    options: dict[str, object] = {"max_retries": 3}
    if not os.environ.get("OPENAI_API_KEY"):
        server = LoopbackServer(offline_reply).start()
        options.update(api_key="offline", base_url=server.openai_url)
        print(f"no OPENAI_API_KEY: running against the loopback server at {server.url}")
    backends = {"small": OpenAIBackend(small, **options),
                "large": OpenAIBackend(large, **options)}
    router = us.Router(
        us.ArmSpace.product(models=["small", "large"],
                            strategies=[us.Single(), us.SelfConsistency()], n=[1, 5]),
        prices={"small": us.Price(input=0.15, output=0.60, cached_input=0.075),
                "large": us.Price(input=2.5, output=10.0, cached_input=1.25)},
        objective=us.Tradeoff(willingness_to_pay=0.01),
        backends=backends,
        fallback=[us.Arm("small", us.Single())],  # serves the request if an arm fails
        seed=0,
    )
    rng = random.Random(0)
    total = 0.0
    try:
        for _ in range(requests):
            a, b = rng.randint(12, 99), rng.randint(12, 99)
            result = router.invoke(f"What is {a} * {b}? End with 'the answer is N'.",
                                   max_tokens=300)
            right = us.extract_answer(result.text) == str(a * b)
            router.feedback(result.decision.id, score=float(right))
            total += result.cost
            print(f"{result.decision.arm.key:<16} {len(result.samples)} sample(s) "
                  f"{result.usage.input_tokens:>4} in {result.usage.output_tokens:>4} out "
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
