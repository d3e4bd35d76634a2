"""Off-policy evaluation on a replay table: estimate B from A's log, then run B for real.

A logs a run with softmax exploration (real propensities). Each B is a router trained on
its own stream of the train part and then frozen; its real reward is measured by
replaying the same stream through it. The doubly robust estimate should hold B's real
reward within its 95% interval; the direct method (the logging router's own estimates)
is biased.

Run: python benchmarks/ope.py [--seeds 3] [--prompts 400] [--steps 1000] [--temperature 0.2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.bench.policies import RouterSettings
from uniscale.bench.runner import Context
from uniscale.bench.table import load_table
from uniscale.ope import RouterTarget, evaluate
from uniscale.testing.replay import replay_frozen, replay_order, replay_router

W = 0.05
CONFIGS = {"W/2 (cheaper)": (1.0, W / 2), "alpha 0.3 (narrower)": (0.3, W)}


def main(seeds: int, prompts: int, steps: int, temperature: float) -> None:
    """Print, per seed and configuration, B's real reward and every estimate."""
    table = load_table(Path(us.__file__).parent / "data" / "faithful_cot.jsonl.gz")
    keep = np.sort(np.random.default_rng(0).permutation(table.n_prompts)[:prompts])
    ctx = Context(table.subset(keep), mc_samples=8)
    print(f"faithful_cot, {prompts} prompts, {ctx.env.n_arms} arms; A: W={W}, softmax "
          f"T={temperature}, {steps} requests")
    print(f"{'seed':>4} {'B':<22} {'real':>7} {'DR [95%]':>24} {'SNIPS':>7} {'IPS':>7} "
          f"{'DM':>7} {'ESS':>5} {'DR covers':>9}")
    covered = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            order = replay_order(ctx, seed, steps)
            log = Path(tmp) / f"a{seed}.jsonl"
            router_a, _ = replay_router(ctx, us.Tradeoff(W), seed, order=order, log=log,
                                        log_features=True, exploration="softmax",
                                        temperature=temperature)
            router_a.close()
            logged = list(us.read_log(log))
            train = np.flatnonzero(~ctx.table.is_test)
            for name, (alpha, wtp) in CONFIGS.items():
                b_order = np.random.default_rng(100 + seed).permutation(train)
                router_b, _ = replay_router(ctx, us.Tradeoff(wtp), 100 + seed, order=b_order,
                                            settings=RouterSettings(alpha=alpha))
                rep = evaluate(logged, RouterTarget(router_b))
                real = replay_frozen(ctx, router_b, order, seed)
                truth = float(np.mean(real.quality - real.cost / wtp))
                e = rep.estimates
                dr = e["dr"]
                ok = dr.low <= truth <= dr.high
                covered += ok
                print(f"{seed:>4} {name:<22} {truth:7.4f} "
                      f"{dr.value:7.4f} [{dr.low:7.4f},{dr.high:7.4f}] "
                      f"{e['snips'].value:7.4f} {e['ips'].value:7.4f} {e['dm'].value:7.4f} "
                      f"{rep.effective_size:5.0f} {'yes' if ok else 'NO':>9}")
    print(f"DR interval covers the real reward in {covered} of {seeds * len(CONFIGS)} runs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=400)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--temperature", type=float, default=0.2)
    args = parser.parse_args()
    main(args.seeds, args.prompts, args.steps, args.temperature)
