"""Replay with late, sparse and noisy feedback, and with implicit rewards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench import Context, load_table
from uniscale.bench.feedback import FeedbackPlan, FeedbackQueue, run_with_feedback
from uniscale.bench.policies import RouterSettings
from uniscale.implicit import ImplicitRewards

SETTINGS = RouterSettings(dim=32)


@pytest.fixture
def ctx(toy_path: Path) -> Context:
    return Context(load_table(toy_path), mc_samples=32)


def test_scores_arrive_delay_requests_later() -> None:
    queue = FeedbackQueue(FeedbackPlan(delay=3), np.random.default_rng(0))
    arrived = []
    for t in range(10):
        assert queue.push(t, f"d{t}", 1.0, 0.0)
        arrived.append([d for d, _, _ in queue.due(t)])
    assert arrived[:3] == [[], [], []]
    assert arrived[3:] == [[f"d{t}"] for t in range(7)]
    assert len(queue) == 3


def test_rate_and_flip_follow_the_plan() -> None:
    queue = FeedbackQueue(FeedbackPlan(rate=0.1, flip=0.2), np.random.default_rng(1))
    kept = sum(queue.push(t, str(t), 1.0, 0.0) for t in range(5000))
    assert 0.08 < kept / 5000 < 0.12
    scores = [s for _, s, _ in queue.due(5000)]
    assert len(scores) == kept and 0.15 < scores.count(0.0) / kept < 0.25
    assert set(scores) == {0.0, 1.0}


@pytest.mark.parametrize("kwargs, words", [
    ({"delay": -1}, "delay must be a whole number"),
    ({"rate": 0.0}, "rate must be in"),
    ({"flip": 1.0}, "flip rate must be in"),
])
def test_bad_plans_are_refused(kwargs: dict[str, float], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        FeedbackPlan(**kwargs)  # type: ignore[arg-type]


def test_only_delivered_scores_are_learned(ctx: Context) -> None:
    order = np.arange(ctx.table.n_prompts)
    steps = len(order)
    trace, router = run_with_feedback(ctx, FeedbackPlan(delay=5), us.Tradeoff(0.01), order,
                                      seed=0, settings=SETTINGS)
    assert router.stats["feedback"] == steps - 5  # the last five arrive after the stream
    assert len(trace.quality) == steps and ctx.env.allowed[order, trace.arm].all()
    _, sparse = run_with_feedback(ctx, FeedbackPlan(rate=0.1), us.Tradeoff(0.01), order,
                                  seed=0, settings=SETTINGS)
    assert 0 < sparse.stats["feedback"] < steps // 4


def test_implicit_rewards_stand_in_for_missing_scores(ctx: Context) -> None:
    order = np.arange(ctx.table.n_prompts)
    sc = np.array([a.n > 1 for a in ctx.env.arms])  # vote shares only exist for n > 1
    implicit = ImplicitRewards(weight=0.3, delay=None, delay_requests=1)
    _, router = run_with_feedback(ctx, FeedbackPlan(rate=0.1), us.Tradeoff(1.0), order,
                                  seed=0, settings=SETTINGS, implicit=implicit,
                                  arm_mask=sc)
    explicit = router.stats["feedback"]
    assert implicit.stats["learned"] > 0
    assert implicit.stats["learned"] + explicit >= len(order) - 2


def test_warm_start_fits_every_arm_on_the_train_prompts(ctx: Context) -> None:
    train = np.flatnonzero(~ctx.table.is_test)
    test = np.flatnonzero(ctx.table.is_test)
    _, router = run_with_feedback(ctx, FeedbackPlan(), us.Tradeoff(0.01), test, seed=0,
                                  settings=SETTINGS, warm_start=train)
    assert router.stats["fitted"] == int(ctx.env.allowed[train].sum())
    assert router.stats["feedback"] == len(test)


def test_wave_backend_continues_one_draw_per_request(ctx: Context) -> None:
    from uniscale.bench.env import PROMPT_OPTION
    from uniscale.bench.waves import STEP_OPTION, WaveReplayBackend
    from uniscale.types import Message, Request

    env = ctx.env
    g = env.pair("tiny", "direct")
    p = int(np.flatnonzero(ctx.table.counts[:, g] == 5)[0])
    backend = WaveReplayBackend(env, "tiny", np.random.default_rng(0))

    def call(step: int, n: int) -> list[int]:
        request = Request((Message("user", "q"),), n=n, variant="direct",
                          options={PROMPT_OPTION: p, STEP_OPTION: step})
        done = backend.complete(request)
        assert done.usage.calls == 1
        return [s.payload[2] for s in done.samples]

    first = call(0, 2) + call(0, 2) + call(0, 1)
    assert sorted(first) == [0, 1, 2, 3, 4]  # no sample twice within a request
    with pytest.raises(ValueError, match="samples"):
        call(0, 1)
    assert len(call(1, 5)) == 5  # a new request draws afresh


def test_early_stopping_arms_replay_and_pay_what_they_drew(ctx: Context) -> None:
    order = np.arange(ctx.table.n_prompts)
    trace, router = run_with_feedback(ctx, FeedbackPlan(), us.Tradeoff(10.0), order,
                                      seed=0, settings=SETTINGS, early_stop=us.EarlyStop())
    keys = {a.key for a in router.arms}
    assert "tiny/sc:direct+beta0.95/5" in keys and "tiny/single:steps/1" in keys
    assert router.stats["feedback"] == len(order)
    assert (trace.cost > 0).all() and ctx.env.allowed[order, trace.arm].all()
    used = router.costs.sample_counts.state()["samples"]
    runs = router.costs.sample_counts.state()["runs"]
    assert used and all(used[k] <= runs[k] * int(k.rsplit("/", 1)[1]) for k in used)
