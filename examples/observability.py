"""Decisions that explain themselves, a decision log, its report, a warm start from it and
an off-policy estimate of another setting — offline.

Run: python examples/observability.py [--requests N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.cli import main as uniscale_command
from uniscale.ope import TargetPolicy, evaluate
from uniscale.testing.synthetic import SyntheticWorkload


def main(requests: int, out: Path) -> None:
    """Serve ``requests`` requests with a logging router, then read the log back."""
    workload = SyntheticWorkload(rng=np.random.default_rng(0))
    log = out / "decisions.jsonl"
    router = us.Router(
        workload.arms(), prices=workload.prices,
        objective=us.Tradeoff(willingness_to_pay=0.05), backends=workload.backends(),
        log=log, log_features=True,        # one JSON line per decision and per feedback
        exploration="softmax", temperature=0.05,  # real propensities, for off-policy estimates
        seed=0,
    )
    for i in range(requests):
        prompt, _ = workload.prompt()
        result = router.invoke(prompt)
        router.feedback(result.decision.id, workload.score(result.text))
        if i == requests - 1:
            print("last decision:", result.decision.explain())
    router.close()

    print(f"\n$ uniscale report {log} --plot {out / 'report.png'}")
    uniscale_command(["report", str(log), "--plot", str(out / "report.png"), "--top", "5"])

    fresh = us.Router(workload.arms(), prices=workload.prices,
                      objective=us.Tradeoff(willingness_to_pay=0.05), seed=1)
    learned = fresh.fit(us.read_log(log))  # a new deployment starts where this one stopped
    print(f"\nwarm start: fitted {learned} logged decisions; arm counts equal: "
          f"{np.array_equal(fresh.policy.counts, router.policy.counts)}")

    cheaper = evaluate(us.read_log(log), TargetPolicy(willingness_to_pay=0.02))
    dr = cheaper.estimates["dr"]
    print(f"off-policy: W=0.02 would earn {dr.value:.3f} per request "
          f"[{dr.low:.3f}, {dr.high:.3f}] (reward at W=0.02; the logging policy: "
          f"{cheaper.logged:.3f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the log and the plot (default: a temporary one)")
    args = parser.parse_args()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        main(args.requests, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(args.requests, Path(tmp))
