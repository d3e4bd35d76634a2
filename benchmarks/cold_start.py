"""Cold start without a baseline: does the router beat the best fixed arm?

Three synthetic text workloads, each at two trade-offs: the topic workload
(:mod:`uniscale.testing.topics`, 9 arms, the best arm depends on words of the prompt),
the domain workload (:mod:`uniscale.testing.domains`, 30 arms, specialist models,
prompts of varying length: kept apart to confirm settings chosen on the others) and the
category workload (:mod:`uniscale.testing.synthetic`). A fresh router serves
``--steps`` requests online (invoke, score, feedback); the figures are the mean expected
reward of its choices over the last quarter and over the whole run, against the best
fixed arm (in hindsight, on the same kind of requests: the strongest fixed baseline).

With ``--baseline`` (topic and domain workloads) the router starts from
``baseline=`` the best single arm (by expected reward over the workload's topics) and
``conservative=0.05``; the figures are then the whole-run mean reward against that
arm's on the same requests, and the lowest ratio of their running sums (after the first
50 requests) over all seeds: the guard promises it stays at or above 0.95.

Run: python benchmarks/cold_start.py [--seeds N] [--steps N] [--variant alpha=A ...]
     [--baseline [--conservative 0.05] [--revised]]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

import uniscale as us
from uniscale.conservative import ConservativeGuard
from uniscale.testing.domains import DomainWorkload
from uniscale.testing.synthetic import SyntheticWorkload, run_online
from uniscale.testing.topics import TopicWorkload, best_single_arm, run_cold_start


def _topics(seed: int, steps: int, wtp: float, settings: dict[str, Any]
            ) -> tuple[np.ndarray, float]:
    return _worded(TopicWorkload(seed=seed), seed, steps, wtp, settings)


def _domains(seed: int, steps: int, wtp: float, settings: dict[str, Any]
             ) -> tuple[np.ndarray, float]:
    return _worded(DomainWorkload(seed=seed), seed, steps, wtp, settings)


def _worded(wl: TopicWorkload, seed: int, steps: int, wtp: float, settings: dict[str, Any]
            ) -> tuple[np.ndarray, float]:
    got, fixed, _ = run_cold_start(wl, us.Tradeoff(wtp), steps, seed, **settings)
    return got, max(float(np.mean(r)) for r in fixed.values())


def _categories(seed: int, steps: int, wtp: float, settings: dict[str, Any]
                ) -> tuple[np.ndarray, float]:
    wl = SyntheticWorkload(rng=np.random.default_rng(seed))
    arms = wl.arms()
    router = us.Router(arms, wl.prices, us.Tradeoff(wtp), wl.backends(), seed=seed, **settings)
    trace = run_online(wl, router, steps, wtp)
    best = max(float(np.mean([wl.expected_quality(c, a) - wl.expected_cost(a, 20) / wtp
                              for c in wl.categories])) for a in arms)
    return trace.reward, best


WORKLOADS = {"topics": (_topics, (0.005, 0.02)), "domains": (_domains, (0.005, 0.05)),
             "categories": (_categories, (0.01, 0.05))}


TYPICAL_TOKENS = {"topics": 17, "domains": 27}  # mean input tokens of their prompts


def guarded(seeds: int, steps: int, workloads: Sequence[str],
            variants: Sequence[dict[str, Any]], conservative: float, revised: bool) -> None:
    """Print, per workload, trade-off and setting, the router against its baseline."""
    print(f"{steps} requests per run, baseline= the best single arm, conservative="
          f"{conservative}{', revised guard' if revised else ''}; Δ = router − baseline "
          f"(paired over {seeds} seeds)")
    print(f"{'workload':<11} {'W':>6} {'settings':<24} {'whole':>7} {'base':>7} "
          f"{'Δ whole':>8} {'±95%':>6} {'above':>5} {'min run':>7} {'Δ tail':>8} "
          f"{'other':>6}")
    make = {"topics": TopicWorkload, "domains": DomainWorkload}
    for name in workloads:
        wtps = WORKLOADS[name][1]
        for wtp in wtps:
            for settings in variants:
                deltas, tails, wholes, bases, lows, others = [], [], [], [], [], []
                for seed in range(seeds):
                    wl = make[name](seed=seed)
                    base = best_single_arm(wl, wtp, TYPICAL_TOKENS[name])
                    def revise(router: us.Router, key: str = base.key) -> None:
                        router.guard = ConservativeGuard(key, conservative, revised=True)

                    got, fixed, served = run_cold_start(
                        wl, us.Tradeoff(wtp), steps, seed, revise if revised else None,
                        baseline=base, conservative=conservative, **settings)
                    ref = fixed[base.key]
                    run, total = np.cumsum(got), np.cumsum(ref)
                    lows.append(float(np.min(run[50:] / total[50:])))
                    wholes.append(float(np.mean(got)))
                    bases.append(float(np.mean(ref)))
                    deltas.append(wholes[-1] - bases[-1])
                    tails.append(float(np.mean(got[3 * steps // 4:] - ref[3 * steps // 4:])))
                    others.append(float(np.mean([k != base.key for k in served])))
                d = np.array(deltas)
                ci = 1.96 * d.std(ddof=1) / np.sqrt(seeds) if seeds > 1 else float("nan")
                label = ", ".join(f"{k}={getattr(v, 'dim', v)}" for k, v in settings.items()
                                  ) or "defaults"
                print(f"{name:<11} {wtp:>6} {label:<24} {np.mean(wholes):7.3f} "
                      f"{np.mean(bases):7.3f} {d.mean():+8.4f} {ci:6.4f} "
                      f"{int(np.sum(d > 0)):>2}/{seeds:<2} {min(lows):7.4f} "
                      f"{np.mean(tails):+8.4f} {np.mean(others):6.2f}", flush=True)


def main(seeds: int, steps: int, workloads: Sequence[str], variants: Sequence[dict[str, Any]]
         ) -> None:
    """Print, per workload, trade-off and setting, the router's reward against best-fixed."""
    print(f"{steps} requests per run; tail = last quarter; Δ = router − best fixed arm "
          f"(paired over {seeds} seeds)")
    print(f"{'workload':<11} {'W':>6} {'settings':<24} {'tail':>7} {'whole':>7} "
          f"{'fixed':>7} {'Δ tail':>8} {'±95%':>6} {'Δ whole':>8}")
    for name in workloads:
        run, wtps = WORKLOADS[name]
        for wtp in wtps:
            for settings in variants:
                tails, wholes, fixeds = [], [], []
                for seed in range(seeds):
                    reward, fixed = run(seed, steps, wtp, settings)
                    tails.append(float(np.mean(reward[3 * steps // 4:])))
                    wholes.append(float(np.mean(reward)))
                    fixeds.append(fixed)
                d_tail = np.array(tails) - np.array(fixeds)
                ci = 1.96 * d_tail.std(ddof=1) / np.sqrt(seeds) if seeds > 1 else float("nan")
                label = ", ".join(f"{k}={getattr(v, 'dim', v)}" for k, v in settings.items()
                                  ) or "defaults"
                print(f"{name:<11} {wtp:>6} {label:<24} {np.mean(tails):7.3f} "
                      f"{np.mean(wholes):7.3f} {np.mean(fixeds):7.3f} {d_tail.mean():+8.3f} "
                      f"{ci:6.3f} {np.mean(wholes) - np.mean(fixeds):+8.3f}", flush=True)


def _variant(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        if key == "dim":  # the hashing featurizer's width
            out["featurizer"] = us.HashingFeaturizer(int(value))
        else:
            out[key] = (value == "1" if key == "hybrid" else
                        None if value == "none" else float(value))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--workloads", default="topics,domains,categories")
    parser.add_argument("--variant", action="append", default=None,
                        help="router settings, e.g. alpha=0.3,ridge=3,dim=32,alpha_decay=none "
                             "(repeatable; default: the router's defaults)")
    parser.add_argument("--baseline", action="store_true",
                        help="start from baseline= the best single arm (topics, domains)")
    parser.add_argument("--conservative", type=float, default=0.05,
                        help="allowed shortfall against the baseline (with --baseline)")
    parser.add_argument("--revised", action="store_true",
                        help="with --baseline: a guard that re-estimates past picks from the "
                             "current model (ConservativeGuard(revised=True))")
    args = parser.parse_args()
    variants = [_variant(v) for v in (args.variant or [""])]
    if args.baseline:
        names = [w for w in args.workloads.split(",") if w in TYPICAL_TOKENS]
        if not names:
            parser.error("--baseline runs on the topics and domains workloads")
        guarded(args.seeds, args.steps, names, variants, args.conservative, args.revised)
    else:
        main(args.seeds, args.steps, args.workloads.split(","), variants)
