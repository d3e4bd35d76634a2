"""Cost prediction error per request: context-aware token model vs a running mean.

For each replay table (read from ``../shared/data``; evaluation-only tables are never
copied) the router is warm-started with :meth:`Router.fit` on the train split — every
arm's recorded usage on every train prompt — and then predicts the cost of every arm on
every test prompt. The same is done on the synthetic topic workload, whose answer
lengths depend on the topic. Printed: mean absolute percentage error of the predicted
cost, with the context (``x``) and without it (the running mean per model/strategy).

Run: ``.venv/bin/python benchmarks/cost_prediction.py [TABLE ...]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import uniscale as us
from uniscale.bench.runner import Context
from uniscale.bench.table import load_table
from uniscale.testing.topics import TopicWorkload

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def replay(name: str, limit: int = 300) -> tuple[float, float]:
    """MAPE (%) without and with the context on ``name``'s test split."""
    table = load_table(name, DATA)
    ctx = Context(table, mc_samples=8)
    env = ctx.env
    router = us.Router(env.arms, table.prices, context_dim=0, seed=0)
    for model in table.models:
        router.costs.samples_per_call[model] = 10**6  # one call returns every sample
    records = []
    for p in np.flatnonzero(~table.is_test):
        for a in np.flatnonzero(env.allowed[p]):
            g, n = int(env.arm_pair[a]), int(env.arm_n[a])
            out = float(table.output_tokens[p, g, :int(table.counts[p, g])].mean()) * n
            records.append(us.Outcome(request=str(table.prompts[p]), arm=env.arms[a],
                                      score=0.0, usage=us.Usage(int(table.input_tokens[p, g]),
                                                                round(out), calls=1)))
    router.fit(records)
    return _errors(router, [(str(table.prompts[p]), env.arms_where(env.allowed[p]),
                             ctx.expected.cost[p, env.allowed[p]])
                            for p in np.flatnonzero(table.is_test)[:limit]])


def topics(steps: int = 1500) -> tuple[float, float]:
    """MAPE (%) on the topic workload after ``steps`` served requests."""
    wl = TopicWorkload(seed=0)
    arms = list(wl.arms())
    router = us.Router(arms, wl.prices, us.Tradeoff(0.01), wl.backends(), seed=0)
    for _ in range(steps):
        prompt, _ = wl.prompt()
        result = router.invoke(prompt)
        router.feedback(result.decision.id, wl.score(result.text))
    cases = []
    for _ in range(300):
        prompt, topic = wl.prompt()
        tokens = us.cost.estimate_tokens(us.types.as_messages(prompt))
        cases.append((prompt, arms, np.array([wl.expected_cost(topic, a, tokens)
                                              for a in arms])))
    return _errors(router, cases)


def _errors(router: us.Router, cases: list[tuple[str, list[us.Arm], np.ndarray]]
            ) -> tuple[float, float]:
    flat, aware = [], []
    for prompt, arms, true in cases:
        x, tokens = router.context_vector(prompt)
        for out, use_x in ((flat, None), (aware, x)):
            pred = router.costs.predict_all(arms, tokens, use_x)
            out.append(float(np.mean(np.abs(pred - true) / true)))
    return 100 * float(np.mean(flat)), 100 * float(np.mean(aware))


def main(argv: list[str]) -> None:
    tables = argv or ["date_mot", "routerbench", "faithful_cot", "aqua_pot", "game24_tot"]
    print(f"{'workload':<16} {'running mean':>14} {'context-aware':>14}")
    for name in tables:
        if not (DATA / f"{name}.jsonl.gz").exists():
            print(f"{name:<16} {'(no data)':>14}")
            continue
        flat, aware = replay(name)
        print(f"{name:<16} {flat:>13.1f}% {aware:>13.1f}%", flush=True)
    flat, aware = topics()
    print(f"{'topics (synth)':<16} {flat:>13.1f}% {aware:>13.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
