"""Spend only what a request needs: early-stopping self-consistency and implicit rewards.

Offline (fake backends): an easy question gets the same answer from every sample, so
the vote is settled after a few; a hard one keeps sampling up to n. The router prices
the adaptive arm at the samples it really uses, and learns from the vote share when no
score comes back.

Run: python examples/adaptive_consistency.py
"""

from __future__ import annotations

import numpy as np

import uniscale as us


def answer(request: us.Request, rng: np.random.Generator) -> str:
    """Easy prompts are answered alike; hard ones scatter over three answers."""
    if "hard" in request.prompt:
        return f"The answer is {rng.choice(['7', '8', '9'], p=[0.45, 0.3, 0.25])}"
    return "The answer is 42"


def main() -> None:
    """Serve a few requests and print what each one spent."""
    backend = us.FakeBackend(answer, rng=np.random.default_rng(0), output_tokens=40)
    fixed = us.Arm("small", us.SelfConsistency(), 20)
    adaptive = us.Arm("small", us.SelfConsistency(early_stop=True), 20)
    router = us.Router(
        [fixed, adaptive], {"small": us.Price(input=0.15, output=0.60)},
        backends={"small": backend}, seed=0,
        implicit_reward=us.ImplicitRewards("agreement", weight=0.3, delay=None,
                                           delay_requests=1),
    )
    for prompt in ["easy: 6*7?", "hard: a tricky one", "easy: 40+2?", "hard: another"]:
        for arm in (fixed, adaptive):
            r = router.invoke(prompt, allowed=[arm])
            print(f"{arm.key:<22} {prompt:<20} answer {r.answer:>3}  vote share "
                  f"{r.agreement:4.2f}  samples {len(r.samples):>2}  cost ${r.cost:.6f}")
    print(f"\nexpected cost now: fixed ${router.costs.predict(fixed, 20):.6f}, "
          f"adaptive ${router.costs.predict(adaptive, 20):.6f}")
    assert router.implicit is not None
    print(f"implicit rewards learned: {router.implicit.stats['learned']}")


if __name__ == "__main__":
    main()
