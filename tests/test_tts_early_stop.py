"""Adaptive self-consistency: waves, stopping rules, exact cost of what was drawn."""

from __future__ import annotations

import asyncio
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import uniscale as us
from uniscale.sampling import arun_strategy, run_strategy
from uniscale.stopping import (
    beta_confidence,
    dirichlet_confidence,
    predictive_confidence,
    vote_is_decided,
)
from uniscale.types import Message, Request

ANSWERS = st.lists(st.sampled_from(["a", "b", "c", None]), min_size=0, max_size=7)


def _completions(prefix: list[str | None], remaining: int) -> list[list[str | None]]:
    """Every way the remaining samples can vote: seen answers, one new answer, no answer."""
    seen = sorted({a for a in prefix if a is not None})
    alphabet: list[str | None] = [*seen, "new", None]
    return [prefix + list(rest) for rest in itertools.product(alphabet, repeat=remaining)]


@settings(max_examples=300, deadline=None)
@given(prefix=ANSWERS, remaining=st.integers(min_value=0, max_value=4))
def test_decided_exactly_when_no_completion_changes_the_answer(
        prefix: list[str | None], remaining: int) -> None:
    answers_now = {_answer(c) for c in _completions(prefix, remaining)}
    assert vote_is_decided(prefix, remaining) == (len(answers_now) == 1)


def _answer(answers: list[str | None]) -> str | None:
    index, share = us.majority_vote(answers)
    return answers[index] if share > 0 else None


def _run(texts: list[str], n: int, early_stop: object, per_call: int = 1,
         **kwargs: object) -> tuple[us.Result, us.FakeBackend]:
    backend = us.FakeBackend(texts, max_samples_per_call=per_call, **kwargs)  # type: ignore[arg-type]
    arm = us.Arm("m", us.SelfConsistency(early_stop=early_stop), n)
    router = us.Router([arm], {"m": us.Price(1.0, 2.0)}, backends={"m": backend})
    return router.invoke("q"), backend


@settings(max_examples=150, deadline=None)
@given(votes=st.lists(st.sampled_from(["1", "2", "3", "none"]), min_size=1, max_size=12),
       first=st.integers(min_value=2, max_value=4), wave=st.integers(min_value=1, max_value=3))
def test_decided_rule_never_changes_the_full_run_answer(
        votes: list[str], first: int, wave: int) -> None:
    # one call per wave keeps the draw order fixed (concurrent calls of a wave may return
    # their samples in any order, which moves the tie-break of a tied vote)
    n, per_call = len(votes), 16
    texts = [v if v != "none" else "" for v in votes]
    full, _ = _run(texts, n, None, per_call)
    rule = us.EarlyStop(rule="decided", first_wave=first, wave=wave)
    early, backend = _run(texts, n, rule, per_call)
    assert early.answer == full.answer
    drawn = sum(r.n for r in backend.calls)
    assert drawn == len(early.samples) <= n
    # it stopped at the first wave boundary where the vote was decided
    bounds = list(itertools.accumulate(rule.waves(n)))
    extracted = [us.extract_answer(t) for t in texts]
    first_decided = next(b for b in bounds if vote_is_decided(extracted[:b], n - b))
    assert drawn == first_decided


def test_beta_rule_stops_after_four_unanimous_votes() -> None:
    result, backend = _run(["42"], 40, "beta")
    assert len(backend.calls) == 4 and len(result.samples) == 4
    assert result.answer == "42" and result.agreement == 1.0
    assert result.usage.calls == 4


def test_without_early_stop_all_samples_are_drawn() -> None:
    result, backend = _run(["42"], 10, None)
    assert len(backend.calls) == 10 and len(result.samples) == 10


def test_disagreement_keeps_sampling_up_to_n() -> None:
    result, backend = _run(["1", "2"], 9, "beta")
    assert sum(r.n for r in backend.calls) == 9
    assert result.answer == "1" and result.agreement == pytest.approx(5 / 9)


def test_cost_of_partial_waves_is_exactly_what_the_calls_billed() -> None:
    # waves of 3, 3, 1 (the last one cut at n=7); native n of 2 splits each wave in calls
    rule = us.EarlyStop(rule="decided", first_wave=3, wave=3)
    assert rule.waves(7) == [3, 3, 1]
    texts = ["1", "2", "1", "2", "1", "2", "1"]  # 3 vs 3 after six: undecided
    result, backend = _run(texts, 7, rule, per_call=2)
    assert [r.n for r in backend.calls] == [2, 1, 2, 1, 1]
    per_call_input = 4 + 1  # "q" plus the message overhead of the fake backend
    assert result.usage.input_tokens == 5 * per_call_input
    assert result.answer == "1" and len(result.samples) == 7
    assert result.usage.output_tokens == 7 and result.usage.calls == 5
    assert result.cost == pytest.approx((5 * per_call_input * 1.0 + 7 * 2.0) / 1e6, rel=1e-12)


def test_cost_of_a_wave_with_failed_calls_counts_only_billed_calls() -> None:
    rule = us.EarlyStop(rule="decided", first_wave=4, wave=2)
    # call 1 of the first wave fails; the other three agree; n=5 -> 3 votes > 0 + 1 left
    result, backend = _run(["7"], 5, rule, fail=lambda req, i: i == 1)
    assert len(backend.calls) == 4 and len(result.samples) == 3 and len(result.errors) == 1
    assert result.usage.calls == 3 and result.usage.output_tokens == 3
    assert result.cost == pytest.approx((3 * 5 * 1.0 + 3 * 2.0) / 1e6, rel=1e-12)


def test_async_and_threads_draw_the_same_waves() -> None:
    strategy = us.SelfConsistency(early_stop=us.EarlyStop(first_wave=3, wave=2))
    base = Request((Message("user", "q"),))
    # the dissenting sample comes in the second wave: the order in which a wave's
    # concurrent calls arrive can then not change which answer was seen first (the
    # tie-break the stopping rule honours)
    texts = ["5", "5", "5", "6", "5", "5", "5", "5"]
    sync = run_strategy(strategy, us.FakeBackend(texts, latency=0.001), base, 8)
    backend = us.FakeBackend(texts, latency=0.001)
    asy = asyncio.run(arun_strategy(strategy, backend, base, 8))
    assert sync.drawn == asy.drawn == len(backend.calls) == 5
    assert (sync.aggregate.answer, sync.aggregate.agreement) == (
        asy.aggregate.answer, asy.aggregate.agreement)
    assert sync.aggregate.answer == "5"


def test_native_backend_is_asked_once_per_wave() -> None:
    rule = us.EarlyStop(first_wave=4, wave=4)
    # first wave 3 of 4 agree (posterior 0.81), after the second 7 of 8 (0.98)
    result, backend = _run(["9", "8", "9", "9", "9", "9", "9", "9"], 20, rule, per_call=8)
    assert [r.n for r in backend.calls] == [4, 4]
    assert result.usage.calls == 2


def test_beta_confidence_matches_the_beta_posterior() -> None:
    grid = np.linspace(0.0, 1.0, 200_001)
    for lead, second in [(0, 0), (3, 0), (4, 1), (7, 3), (12, 10)]:
        density = grid**lead * (1 - grid) ** second
        upper = np.trapezoid(np.where(grid > 0.5, density, 0.0), grid)
        assert beta_confidence(lead, second) == pytest.approx(
            upper / np.trapezoid(density, grid), abs=1e-4)


def test_predictive_confidence_is_the_beta_binomial_chance_the_leader_holds() -> None:
    # one vote of three: the rival takes both remaining samples with
    # P = B(2, 3) / B(2, 1) = 1/6 under Beta(2, 1)
    assert predictive_confidence(1, 0, 2) == pytest.approx(5 / 6)
    assert predictive_confidence(2, 0, 1) == 1.0 and predictive_confidence(3, 2, 0) == 1.0
    rng = np.random.default_rng(0)
    for lead, second, remaining, second_first in [(3, 1, 6, False), (2, 2, 5, True),
                                                  (4, 0, 30, False)]:
        p = rng.beta(lead + 1, second + 1, size=200_000)
        mine = rng.binomial(remaining, p)
        rival = second + remaining - mine
        lost = (rival > lead + mine) | (second_first & (rival == lead + mine))
        assert predictive_confidence(lead, second, remaining, second_first) == pytest.approx(
            1 - lost.mean(), abs=4e-3)


def test_predictive_rule_stops_sooner_when_few_samples_remain() -> None:
    assert us.EarlyStop(rule="predictive").key == "predictive0.95"
    rule = us.EarlyStop(rule="predictive", confidence=0.96)
    for n, want in ((10, 3), (40, 4)):  # unanimous votes it needs (the Beta rule: 4, 4)
        result, _ = _run(["42"], n, rule)
        assert len(result.samples) == want and result.answer == "42"
    # an even split: on until the vote is decided (one call per wave: a fixed order)
    split, _ = _run(["1", "2"], 10, rule, per_call=16)
    decided, _ = _run(["1", "2"], 10, "decided", per_call=16)
    assert len(split.samples) == len(decided.samples) == 9


def test_dirichlet_confidence_is_deterministic_and_ordered() -> None:
    assert dirichlet_confidence([5, 1, 1]) == dirichlet_confidence([5, 1, 1])
    assert dirichlet_confidence([9, 1]) > dirichlet_confidence([5, 4]) > 0.4
    assert dirichlet_confidence([4]) == pytest.approx(1 - 0.5**5)
    result, _ = _run(["3"], 30, "dirichlet")
    assert len(result.samples) == 4


def test_early_stop_arms_have_their_own_key_and_survive_save_load(tmp_path: Path) -> None:
    fixed = us.Arm("m", us.SelfConsistency(), 10)
    adaptive = us.Arm("m", us.SelfConsistency(early_stop=True), 10)
    exact = us.Arm("m", us.SelfConsistency(early_stop="decided"), 10)
    assert {fixed.key, adaptive.key, exact.key} == {"m/sc/10", "m/sc+beta0.95/10",
                                                   "m/sc+decided/10"}
    router = us.Router([fixed, adaptive, exact], {"m": us.Price(1, 1)})
    router.save(str(tmp_path / "s.json"))
    loaded = us.Router.load(str(tmp_path / "s.json"))
    assert [a.key for a in loaded.arms] == [a.key for a in router.arms]
    strategy = loaded.arms.find("m/sc+beta0.95/10").strategy
    assert isinstance(strategy, us.SelfConsistency) and strategy.early_stop == us.EarlyStop()


@pytest.mark.parametrize("kwargs, words", [
    ({"rule": "vibes"}, "rule must be one of"),
    ({"confidence": 1.0}, "confidence must be a probability"),
    ({"confidence": float("nan")}, "confidence must be a probability"),
    ({"first_wave": 1}, "first_wave must be a whole number >= 2"),
    ({"wave": 0}, "wave must be a whole number >= 1"),
])
def test_bad_early_stop_settings_say_what_to_do(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(us.ConfigurationError, match=words):
        us.EarlyStop(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(us.ConfigurationError, match="early_stop must be"):
        us.SelfConsistency(early_stop=3)  # type: ignore[arg-type]


def test_beta_confidence_stays_finite_for_long_runs() -> None:
    value = beta_confidence(300, 280)
    assert math.isfinite(value) and 0.5 < value < 1.0
