"""Both framework adapters take the same core arguments and answer feedback the same way.

Parametrised over LangChain's ``ChatUniScale`` and LlamaIndex's ``UniScaleLLM`` (skipped
when the LlamaIndex integration is not installed), with the frameworks' own mock models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us
from uniscale.adapters import CORE_ARGUMENTS

PRICES = {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)}


def _langchain(**settings: Any) -> tuple[Any, Callable[[Any], Any]]:
    models = {m: ScriptedChatModel(model=f"{m}-v1", responses=["The answer is 4."])
              for m in PRICES}
    chat = ChatUniScale(models=models, **settings)
    return chat, lambda adapter: adapter.invoke("What is 2 + 2?")


def _llama_index(**settings: Any) -> tuple[Any, Callable[[Any], Any]]:
    pytest.importorskip("llama_index.llms.uniscale")
    from llama_index.core.llms import MockLLM
    from llama_index.llms.uniscale import UniScaleLLM

    llm = UniScaleLLM(models={m: MockLLM() for m in PRICES}, **settings)
    return llm, lambda adapter: adapter.complete("What is 2 + 2?")


ADAPTERS = pytest.mark.parametrize("make", [_langchain, _llama_index],
                                   ids=["langchain", "llama-index"])


def _everything(tmp_path: Path) -> dict[str, Any]:
    """A value for every core argument but ``models``, ``router`` and the pass-throughs."""
    return {
        "prices": PRICES,
        "strategies": ["single", "self-consistency"],
        "n": [1, 3],
        "objective": us.Tradeoff(0.02),
        "alpha": 0.3,
        "ridge": 2.0,
        "featurizer": us.HashingFeaturizer(64),
        "fallback": ["large"],
        "state_path": str(tmp_path / "state.json"),
        "seed": 5,
        "log": str(tmp_path / "decisions.jsonl"),
    }


def test_the_argument_list_is_the_agreed_one() -> None:
    assert CORE_ARGUMENTS == ("models", "prices", "strategies", "n", "arms", "objective",
                              "alpha", "ridge", "featurizer", "fallback", "state_path",
                              "seed", "router", "baseline", "conservative", "log")


@ADAPTERS
def test_the_same_core_arguments_reach_the_router(make: Any, tmp_path: Path) -> None:
    adapter, call = make(**_everything(tmp_path))
    router = adapter.router
    assert router.policy.alpha == 0.3 and router.seed == 5
    assert router.fallback == (us.Arm("large", us.Single(), 1),)
    assert router.objective == us.Tradeoff(0.02)
    assert router.featurizer.dim == 64
    assert sorted(a.key for a in router.arms) == ["large/sc/3", "large/single/1",
                                                  "small/sc/3", "small/single/1"]
    call(adapter)
    assert (tmp_path / "decisions.jsonl").read_text().strip()  # log= reached the router
    adapter.save()
    assert (tmp_path / "state.json").exists()
    explicit, _ = make(prices=PRICES, arms=[us.Arm("small", us.Single())])
    assert [a.key for a in explicit.router.arms] == ["small/single/1"]


@ADAPTERS
def test_feedback_returns_a_bool(make: Any, tmp_path: Path) -> None:
    adapter, call = make(prices=PRICES)
    reply = call(adapter)
    learned = adapter.feedback(reply, 1.0)
    assert learned is True
    with pytest.raises(us.DuplicateFeedbackError):
        adapter.feedback(reply, 1.0)


@ADAPTERS
def test_an_unknown_argument_is_refused(make: Any) -> None:
    with pytest.raises(us.ConfigurationError, match="unknown argument"):
        make(prices=PRICES, temprature=0.2)
    with pytest.raises(us.ConfigurationError, match="scorer"):
        make(prices=PRICES, strategies=["best-of-n"], n=[3])


@ADAPTERS
def test_a_reload_keeps_statistics_and_takes_the_code_settings(make: Any,
                                                                tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    first, call = make(prices=PRICES, state_path=path, alpha=1.0)
    for _ in range(4):
        first.feedback(call(first), 1.0)
    first.save()
    again, _ = make(prices={**PRICES, "small": us.Price(0.01, 0.01)}, state_path=path,
                    alpha=0.5)
    assert again.router.stats["feedback"] == 4
    assert again.router.policy.alpha == 0.5
    assert again.router.costs.price("small") == us.Price(0.01, 0.01)
