"""The router settings UniScaleLLM takes: the common adapter argument list, nothing else."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import uniscale as us
from llama_index.core.base.llms.types import ChatMessage
from uniscale.adapters import CORE_ARGUMENTS, RouterSettings, takes

from llama_index.llms.uniscale import UniScaleLLM

PRICES = {"a": us.Price(input=1.0, output=2.0), "b": us.Price(input=3.0, output=6.0)}
PASS_THROUGH = ("baseline", "conservative", "log")


def test_the_common_argument_list() -> None:
    assert CORE_ARGUMENTS == (
        "models", "prices", "strategies", "n", "arms", "objective", "alpha", "ridge",
        "featurizer", "fallback", "state_path", "seed", "router", "baseline",
        "conservative", "log")


def _value(name: str, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    """Constructor arguments that exercise ``name``, and a check of the built router."""
    single_a = us.Arm("a", us.Single())
    cases: dict[str, tuple[dict[str, Any], Any]] = {
        "models": ({}, lambda llm: set(llm.models) == {"a", "b"}),
        "prices": ({}, lambda llm: llm.router.costs.price("b") == PRICES["b"]),
        "strategies": ({"strategies": ["single", "self-consistency"], "n": [1, 3]},
                       lambda llm: {a.strategy.name for a in llm.router.arms} == {"single", "sc"}),
        "n": ({"strategies": ["self-consistency"], "n": [3, 5]},
              lambda llm: sorted({a.n for a in llm.router.arms}) == [3, 5]),
        "arms": ({"arms": [single_a]}, lambda llm: list(llm.router.arms) == [single_a]),
        "objective": ({"objective": us.Tradeoff(0.05)},
                      lambda llm: llm.router.objective == us.Tradeoff(0.05)),
        "alpha": ({"alpha": 0.3}, lambda llm: llm.router.policy.alpha == 0.3),
        "ridge": ({"ridge": 2.0}, lambda llm: llm.router.policy.ridge == 2.0),
        "featurizer": ({"featurizer": us.HashingFeaturizer(32)},
                       lambda llm: llm.router.featurizer.dim == 32),
        "fallback": ({"fallback": ["b"]},
                     lambda llm: llm.router.fallback == (us.Arm("b", us.Single()),)),
        "state_path": ({"state_path": str(tmp_path / "s.json")},
                       lambda llm: llm.state_path == str(tmp_path / "s.json")),
        "seed": ({"seed": 7}, lambda llm: llm.router.seed == 7),
    }
    return cases[name]


@pytest.mark.parametrize("name", [n for n in CORE_ARGUMENTS if n not in PASS_THROUGH
                                  and n != "router"])
def test_common_argument_is_accepted(scripted, tmp_path, name) -> None:
    extra, check = _value(name, tmp_path)
    llm = UniScaleLLM(models={"a": scripted(), "b": scripted()}, prices=PRICES, **extra)
    assert check(llm)
    assert llm.complete("hi").text == "ok"


def test_ready_router_argument_is_accepted(scripted) -> None:
    router = us.Router([us.Arm("a", us.Single())], PRICES, feedback_ttl=5.0)
    llm = UniScaleLLM(models={"a": scripted()}, router=router)
    assert llm.router is router and llm.complete("hi").text == "ok"
    with pytest.raises(us.ConfigurationError, match=r"either router= or.*'alpha'"):
        UniScaleLLM(models={"a": scripted()}, router=router, alpha=0.5)
    with pytest.raises(us.ConfigurationError, match=r"must be a uniscale\.Router"):
        UniScaleLLM(models={"a": scripted()}, router="not a router")


@pytest.mark.parametrize("name", PASS_THROUGH)
def test_pass_through_argument_reaches_the_router_or_is_refused(scripted, monkeypatch,
                                                                name) -> None:
    value = object()
    if not takes(us.Router, name):
        with pytest.raises(us.ConfigurationError, match=f"{name}= is not supported"):
            UniScaleLLM(models={"a": scripted()}, prices=PRICES, **{name: value})
        return
    seen: dict[str, Any] = {}

    class Built(Exception):
        pass

    def spy(self: us.Router, *args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise Built

    monkeypatch.setattr(us.Router, "__init__", spy)
    with pytest.raises(Built):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, **{name: value})
    assert seen[name] is value


def test_pass_through_follows_the_cores_signature() -> None:
    settings = RouterSettings(baseline="a/single/1")

    def knows(*, baseline: Any = None) -> None: ...

    def lacks(*, other: Any = None) -> None: ...

    assert settings.extras(knows, "knows") == {"baseline": "a/single/1"}
    with pytest.raises(us.ConfigurationError, match=r"baseline= is not supported.*upgrade"):
        settings.extras(lacks, "lacks")


def test_decision_log_passes_through(scripted, tmp_path) -> None:
    path = tmp_path / "decisions.jsonl"
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES, log=str(path))
    llm.feedback(llm.complete("hi"), 1.0)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["type"] for r in records if r["type"] != "cost"] == ["decision", "feedback"]


@pytest.mark.parametrize("unknown", [{"temprature": 0.2}, {"router_options": {"alpha": 1}},
                                     {"feedback_ttl": 60.0}])
def test_unknown_argument_is_refused(scripted, unknown) -> None:
    (name,) = unknown
    with pytest.raises(us.ConfigurationError, match=f"unknown argument.*{name}"):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, **unknown)


def test_unknown_argument_names_the_closest_one(scripted) -> None:
    with pytest.raises(us.ConfigurationError, match="did you mean 'strategies'"):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, stratgies=["single"])
    with pytest.raises(us.ConfigurationError, match="did you mean 'fallback'"):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, fallbacks=["a"])


def test_llamaindex_fields_are_still_accepted(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES, system_prompt="Be brief.")
    assert llm.system_prompt == "Be brief."


def test_strategies_by_name(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES,
                      strategies=["single", "Self-Consistency"], n=[1, 3])
    assert {a.key for a in llm.router.arms} == {"a/single/1", "a/sc/3"}
    mixed = UniScaleLLM(models={"a": scripted()}, prices=PRICES,
                        strategies=[us.SelfConsistency(temperature=0.2), "single"], n=[1, 3])
    assert {a.strategy for a in mixed.router.arms} == {us.SelfConsistency(temperature=0.2),
                                                       us.Single()}
    with pytest.raises(us.ConfigurationError, match="needs a scorer"):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, strategies=["best-of-n"])
    with pytest.raises(us.ConfigurationError, match="unknown strategy 'majority'"):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, strategies=["majority"])


def test_fallback_takes_arms_keys_and_models(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted(), "b": scripted()}, prices=PRICES,
                      fallback=[us.Arm("a", us.Single()), "b/single/1"])
    assert [a.key for a in llm.router.fallback] == ["a/single/1", "b/single/1"]
    with pytest.raises(us.ConfigurationError, match="fallback= item 'c'"):
        UniScaleLLM(models={"a": scripted()}, prices=PRICES, fallback=["c"])


def test_state_path_reload_keeps_statistics_and_code_settings_win(scripted, tmp_path,
                                                                  caplog) -> None:
    path = str(tmp_path / "state.json")
    models = {"a": scripted(), "b": scripted()}
    first = UniScaleLLM(models=models, prices=PRICES, state_path=path)
    for i in range(4):
        first.feedback(first.complete(f"q{i}"), 1.0)
    first.save()
    cheaper = {"a": us.Price(input=0.5, output=1.0), "b": PRICES["b"]}
    with caplog.at_level(logging.WARNING, logger="uniscale"):
        again = UniScaleLLM(models=models, prices=cheaper, alpha=0.4, state_path=path)
    assert again.router.costs.price("a") == cheaper["a"]  # the price cut in code is used
    assert again.router.policy.alpha == 0.4
    assert again.router.stats["feedback"] == 4  # learned statistics kept
    assert again.router.policy.updates == first.router.policy.updates
    warnings = [r for r in caplog.records if "Router.load" in r.getMessage()]
    assert len(warnings) == 1 and "prices" in warnings[0].getMessage()
    out = again.chat([ChatMessage(role="user", content="hi")])
    assert out.additional_kwargs["uniscale"]["cost"] > 0


def test_state_path_without_file_or_prices_is_a_clear_error(scripted, tmp_path) -> None:
    with pytest.raises(us.ConfigurationError, match="needs prices="):
        UniScaleLLM(models={"a": scripted()}, state_path=str(tmp_path / "none.json"))


def test_save_needs_a_path(scripted, tmp_path) -> None:
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES)
    with pytest.raises(us.ConfigurationError, match="save\\(\\) needs a path"):
        llm.save()
    llm.save(str(tmp_path / "x.json"))
    assert UniScaleLLM(models={"a": scripted()}, state_path=str(tmp_path / "x.json")
                       ).router.arms.models == ("a",)


def test_context_reaches_the_router_or_is_refused(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES)
    if not takes(llm.router.decide, "context"):
        with pytest.raises(us.ConfigurationError, match="context= is not supported"):
            llm.complete("hi", context={"tenant": "acme"})
        return
    seen: list[Any] = []
    decide = llm.router.decide

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("context"))
        return decide(*args, **kwargs)

    llm.router.decide = spy  # type: ignore[method-assign]
    llm.complete("hi", context={"tenant": "acme"})
    llm.chat([ChatMessage(role="user", content="hi")], context={"tier": 2})
    list(llm.stream_complete("hi"))
    assert seen == [{"tenant": "acme"}, {"tier": 2}, None]


def test_track_context_reaches_calls_made_inside_the_block(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES)
    seen: list[Any] = []
    decide = llm.router.decide

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("context"))
        return decide(*args, **kwargs)

    llm.router.decide = spy  # type: ignore[method-assign]
    with llm.track(context={"tenant": "acme"}) as outer:
        llm.complete("one")  # e.g. a query engine's call, which passes no context
        with llm.track(context={"tenant": "beta"}):
            llm.chat([ChatMessage(role="user", content="two")])
        llm.complete("three", context={"tier": 1})  # a call's own context wins
    llm.complete("four")
    assert seen == [{"tenant": "acme"}, {"tenant": "beta"}, {"tier": 1}, None]
    assert outer.context == {"tenant": "acme"} and len(outer.decision_ids) == 3
