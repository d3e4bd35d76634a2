"""Baselines chosen on train only; intervals and paired differences; gap closed."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import (
    Context,
    SeedRun,
    Trace,
    gap_closed,
    load_table,
    mean_interval,
    paired_difference,
    policy_mask,
    run_bench,
    run_seed,
    summarize,
)
from uniscale.bench.stats import t_quantile

# On train prompts "small/plain" is right and "big/steps" wrong; on test prompts the other
# way round. Every (model, strategy) pair has 3 samples, so n = 1 and n = 3 arms exist.
PRICES = {"small": (1.0, 1.0), "big": (2.0, 2.0)}


def _disagreeing_table(folder: Path, prompts: int = 30) -> Path:
    rows = []
    for p in range(prompts):
        split = "test" if p % 3 == 0 else "train"
        for model in PRICES:
            for strategy in ("plain", "steps"):
                good_on_train = (model, strategy) == ("small", "plain")
                good_on_test = (model, strategy) == ("big", "steps")
                right = good_on_test if split == "test" else good_on_train
                for s in range(3):
                    answer = "gold" if right else f"wrong{s}"
                    rows.append({
                        "dataset": "d", "split": split, "prompt_id": f"d/{p}",
                        "prompt": f"question {p}", "model": model, "strategy": strategy,
                        "sample": s, "answer": answer, "score": 1.0 if right else 0.0,
                        "input_tokens": 10, "output_tokens": 10,
                        "cost_usd": 20 * PRICES[model][0] / 1e6,
                    })
    path = folder / "disagree.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    models = {m: {"input_per_mtok": i, "output_per_mtok": o} for m, (i, o) in PRICES.items()}
    (folder / "disagree.models.json").write_text(json.dumps(models))
    return path


@pytest.fixture
def disagree(tmp_path: Path) -> Context:
    return Context(load_table(_disagreeing_table(tmp_path)), mc_samples=16)


def test_best_fixed_and_the_restricted_learners_follow_the_train_split(disagree: Context
                                                                       ) -> None:
    env = disagree.env
    run = run_seed(disagree, us.Tradeoff(100.0), seed=0,
                   policies=("tts-only", "routing-only", "best-fixed"))
    best, hindsight = env.arms[run.fixed_arm["train"]], env.arms[run.fixed_arm["test"]]
    assert (best.model, best.strategy.variant) == ("small", "plain")
    assert (hindsight.model, hindsight.strategy.variant) == ("big", "steps")
    assert best.n == 1  # the cheaper of the equally right train arms
    test = run.is_test
    assert (run.traces["best-fixed"].arm[test] == run.fixed_arm["train"]).all()
    assert run.traces["best-fixed"].quality[test].max() == 0.0  # wrong on every test prompt
    assert run.traces["best-fixed-hindsight"].quality[test].min() == 1.0
    assert set(env.arm_model[run.traces["tts-only"].arm]) == {"small"}
    routing = run.traces["routing-only"].arm
    assert set(env.arm_n[routing]) == {1}
    assert {env.arms[a].strategy.variant for a in routing} == {"plain"}


def test_routing_only_has_one_arm_per_model_at_n1(disagree: Context) -> None:
    env = disagree.env
    best = next(i for i, a in enumerate(env.arms)
                if (a.model, a.strategy.variant, a.n) == ("small", "plain", 1))
    ranking = np.arange(env.n_arms)
    mask = policy_mask(env, "routing-only", best, ranking)
    assert sorted(env.arms[i].key for i in np.flatnonzero(mask)) == [
        "big/sc:plain/1", "small/sc:plain/1"]
    tts = policy_mask(env, "tts-only", best, ranking)
    assert set(env.arm_model[tts]) == {"small"} and tts.sum() == 4  # 2 strategies x n 1, 3
    assert policy_mask(env, "uniscale", best, ranking).all()


def test_summary_reports_the_hindsight_arm_and_the_trained_router(disagree: Context) -> None:
    res = run_bench(disagree, us.Tradeoff(100.0), [0, 1],
                    policies=("uniscale", "trained-router", "best-fixed"))
    p = res.policies
    assert p["best-fixed"].test_quality == 0.0
    assert p["best-fixed-hindsight"].test_quality == 1.0
    # trained on train only, the ridge router also learns the train answer key
    assert p["trained-router"].test_quality == pytest.approx(0.0, abs=1e-9)
    assert res.fixed_arm == {"train": "small/sc:plain/1", "test": "big/sc:steps/1"}
    out = res.to_json()
    assert out["best_fixed_arm"] == {"train": "small/sc:plain/1",
                                     "test_hindsight": "big/sc:steps/1"}
    assert {"ci95", "paired_diff"} <= set(out["policies"]["best-fixed"])
    assert "paired_diff" not in out["policies"]["uniscale"]


def test_t_interval_maths() -> None:
    iv = mean_interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0
    assert iv.half_width == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    assert iv.as_list() == pytest.approx([2.0 - iv.half_width, 2.0 + iv.half_width])
    assert math.isnan(mean_interval([0.5]).half_width)
    assert mean_interval([0.5, 0.5, 0.5]).half_width == 0.0
    assert t_quantile(1) == 12.706 and t_quantile(30) == 2.042
    assert t_quantile(200) == pytest.approx(1.972, abs=1e-3)
    assert t_quantile(31) < t_quantile(30)


def test_paired_difference_cancels_what_the_seeds_share() -> None:
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 0.1, 8)  # seed-to-seed noise both policies see
    a, b = 0.5 + shared + 0.01, 0.5 + shared + rng.normal(0, 0.001, 8)
    unpaired = mean_interval(a).half_width
    paired = paired_difference(a, b)
    assert paired.mean == pytest.approx(np.mean(a - b))
    assert paired.half_width < unpaired / 10
    assert paired.excludes_zero()
    assert not paired_difference(a, a + rng.normal(0, 0.05, 8)).excludes_zero()
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([1.0, 2.0], [1.0])


def _run(seed: int, rewards: dict[str, list[float]]) -> SeedRun:
    steps = len(next(iter(rewards.values())))
    traces = {k: Trace(np.zeros(steps, dtype=np.int64), np.array(v), np.zeros(steps))
              for k, v in rewards.items()}
    return SeedRun(seed, np.arange(steps), np.array([False, True, True, True]),
                   np.zeros(steps), traces, {"train": 0, "test": 0})


def test_summarize_pairs_policies_seed_by_seed() -> None:
    runs = [_run(0, {"uniscale": [9, 0.5, 0.5, 0.5], "best-fixed": [0, 0.4, 0.4, 0.4],
                     "best-fixed-hindsight": [0, 1, 1, 1], "oracle": [1, 1, 1, 1],
                     "trained-router": [0, 0.6, 0.6, 0.6]}),
            _run(1, {"uniscale": [9, 0.7, 0.7, 0.7], "best-fixed": [0, 0.5, 0.5, 0.5],
                     "best-fixed-hindsight": [0, 1, 1, 1], "oracle": [1, 1, 1, 1],
                     "trained-router": [0, 0.8, 0.8, 0.8]})]
    s = summarize(runs, ["uniscale", "best-fixed", "trained-router", "oracle"])
    assert list(s) == ["uniscale", "best-fixed", "best-fixed-hindsight", "trained-router",
                       "oracle"]
    assert s["uniscale"].test_reward == pytest.approx(0.6)  # train step (9) not counted
    assert s["best-fixed"].paired is not None
    assert s["best-fixed"].paired.mean == pytest.approx(-0.15)
    sd = float(np.std([-0.1, -0.2], ddof=1))
    assert s["best-fixed"].paired.half_width == pytest.approx(12.706 * sd / math.sqrt(2))
    assert s["trained-router"].paired.half_width == pytest.approx(0.0)  # always +0.1
    assert s["trained-router"].verdict() == "ahead of uniscale"
    assert s["best-fixed"].verdict() == "tie"
    oracle = gap_closed(s)
    assert oracle["uniscale"] == pytest.approx((0.6 - 0.45) / (1 - 0.45))
    trained = gap_closed(s, top="trained-router")
    assert trained["uniscale"] == pytest.approx((0.6 - 0.45) / (0.7 - 0.45))
    assert trained["trained-router"] == pytest.approx(1.0)


def test_warm_start_learns_the_train_split_then_streams_the_test_part(disagree: Context
                                                                      ) -> None:
    env = disagree.env
    run = run_seed(disagree, us.Tradeoff(100.0), seed=0, warm_start=True,
                   policies=("uniscale", "routing-only", "tts-only", "paretobandit",
                             "best-fixed"))
    assert run.warm_start and run.is_test.all()
    assert sorted(run.order) == sorted(np.flatnonzero(disagree.table.is_test))
    # before any test feedback, every learner acts on what the eval set taught it
    for name in ("uniscale", "routing-only", "tts-only", "paretobandit"):
        first = env.arms[run.traces[name].arm[0]]
        assert (first.model, first.strategy.variant) == ("small", "plain"), name
    assert env.arms[run.fixed_arm["train"]].key == "small/sc:plain/1"
