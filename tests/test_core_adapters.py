"""uniscale.adapters: the settings every framework adapter shares, and building its router."""

from __future__ import annotations

import json
import logging

import pytest

import uniscale as us
from uniscale.adapters import (
    RouterSettings,
    as_strategy,
    build_router,
    check_arguments,
    context_kwargs,
)

PRICES = {"a": us.Price(1.0, 2.0), "b": us.Price(3.0, 6.0)}


def test_strategy_names() -> None:
    assert as_strategy("single") == us.Single()
    assert as_strategy("Self_Consistency") == as_strategy("sc") == us.SelfConsistency()
    with pytest.raises(us.ConfigurationError, match="needs a scorer"):
        as_strategy("best-of-n")
    with pytest.raises(us.ConfigurationError, match="unknown strategy 'vote'"):
        as_strategy("vote")
    with pytest.raises(us.ConfigurationError, match="takes uniscale strategies"):
        as_strategy(3)  # type: ignore[arg-type]


def test_check_arguments_hints_the_closest_name() -> None:
    check_arguments(["alpha", "verbose"], {"verbose"}, "X", "its fields")
    with pytest.raises(us.ConfigurationError, match=r"'alpah' \(did you mean 'alpha'\?\)"):
        check_arguments(["alpah"], set(), "X", "its fields")


def test_new_router_gets_backends_settings_and_fallback() -> None:
    backends = {m: us.FakeBackend(["The answer is 4."]) for m in PRICES}
    settings = RouterSettings(prices=PRICES, strategies=["single", "self-consistency"],
                              n=[1, 3], alpha=0.4, seed=3, fallback=["b"])
    router = build_router(settings, list(PRICES), None, backends)
    assert router.policy.alpha == 0.4 and router.seed == 3
    assert router.fallback == (us.Arm("b", us.Single()),)
    assert router.invoke("2+2?").text == "The answer is 4."


def test_arms_of_unknown_models_and_missing_prices_are_clear() -> None:
    with pytest.raises(us.MissingBackendError, match="not in models="):
        build_router(RouterSettings(prices=PRICES, arms=[us.Arm("c", us.Single())]),
                     ["a"], None)
    with pytest.raises(us.ConfigurationError, match="needs prices="):
        build_router(RouterSettings(), ["a"], None)


def test_load_lets_code_win_and_attaches_the_log(tmp_path, caplog) -> None:
    path = str(tmp_path / "state.json")
    first = build_router(RouterSettings(prices=PRICES), list(PRICES), path)
    first.feedback(first.decide("hi").id, 1.0)
    first.save(path)
    log_path = tmp_path / "decisions.jsonl"
    with caplog.at_level(logging.WARNING, logger="uniscale"):
        again = build_router(RouterSettings(prices={**PRICES, "a": us.Price(0.5, 1.0)},
                                            seed=9, log=str(log_path)), list(PRICES), path)
    assert again.costs.price("a") == us.Price(0.5, 1.0)
    assert again.stats["feedback"] == 1
    assert any("keeps its own" in r.getMessage() for r in caplog.records)  # seed
    again.decide("hello")
    assert json.loads(log_path.read_text().splitlines()[0])["type"] == "decision"


def test_context_kwargs() -> None:
    router = build_router(RouterSettings(prices=PRICES), list(PRICES), None)
    assert context_kwargs(router, None) == {}
    assert context_kwargs(router, {"tier": 2}) == {"context": {"tier": 2}}
