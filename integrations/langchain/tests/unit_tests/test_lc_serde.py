"""LangChain serialisation of ChatUniScale: dumpd/load round trips, clear refusals, JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us

langchain_openai = pytest.importorskip("langchain_openai")

PRICES = {"mini": us.Price(0.15, 0.6), "big": us.Price(2.5, 10.0, cached_input=1.25)}


def _openai_chat(**settings: Any) -> ChatUniScale:
    models = {"mini": langchain_openai.ChatOpenAI(model="gpt-4o-mini", api_key="sk-test"),
              "big": langchain_openai.ChatOpenAI(model="gpt-4o", api_key="sk-test")}
    return ChatUniScale(models=models, **settings)


def _load(data: Any, *extra: type) -> Any:
    return load(data, valid_namespaces=["langchain_uniscale"],
                allowed_objects=[ChatUniScale, *extra],
                secrets_map={"OPENAI_API_KEY": "sk-test"})


def test_a_router_of_chat_openai_children_round_trips() -> None:
    chat = _openai_chat(prices=PRICES, strategies=["single", us.SelfConsistency()],
                        n=[1, 5], objective=us.Budget(0.002), fallback=["big"], alpha=0.4,
                        seed=3, temperature=0.1, max_tokens=64)
    data = dumpd(chat)
    assert data["type"] == "constructor"
    assert data["id"] == ["langchain_uniscale", "chat_models", "ChatUniScale"]
    assert "sk-test" not in json.dumps(data)  # the children's keys stay secrets
    again = _load(json.loads(dumps(chat)), langchain_openai.ChatOpenAI)
    assert isinstance(again, ChatUniScale)
    assert again.dict() == chat.dict()
    assert [a.key for a in again.router.arms] == [a.key for a in chat.router.arms]
    assert again.router.objective == us.Budget(0.002)
    assert again.router.costs.price("big") == PRICES["big"]
    assert again.router.policy.alpha == 0.4
    assert again.models["mini"].model_name == "gpt-4o-mini"


def test_scripted_children_round_trip_and_the_copy_routes() -> None:
    children = {"a": ScriptedChatModel(model="a-1", responses=["The answer is 1."])}
    chat = ChatUniScale(models=children, prices={"a": (1.0, 2.0)},
                        strategies=["self-consistency"], n=[3])
    again = _load(dumpd(chat), ScriptedChatModel)
    assert again.dict() == chat.dict()
    reply = again.invoke("What is 0 + 1?")
    assert reply.response_metadata["uniscale"]["arm"] == "a/sc/3"


@pytest.mark.parametrize(("settings", "reason"), [
    ({"router": us.Router(us.ArmSpace.product(["mini", "big"]), PRICES)}, "router="),
    ({"prices": PRICES, "strategies": [us.BestOfN(scorer=len)], "n": [2]}, "has no name"),
    ({"prices": PRICES, "featurizer": us.HashingFeaturizer(32)}, "featurizer="),
    ({"prices": PRICES, "arms": [us.Arm("mini", us.Single())]}, "arms="),
    ({"prices": PRICES, "log": print}, "log="),
])
def test_what_cannot_be_serialised_is_named(settings: dict[str, Any], reason: str) -> None:
    chat = _openai_chat(**settings)
    data = dumpd(chat)
    assert data["type"] == "not_implemented"
    assert reason in data["repr"]
    with pytest.raises(NotImplementedError, match="ChatUniScale cannot be serialised"):
        _load(data, langchain_openai.ChatOpenAI)


def test_a_child_that_cannot_be_serialised_is_named() -> None:
    child = ScriptedChatModel(responses=lambda messages: "made up")
    data = dumpd(ChatUniScale(models={"fn": child}, prices={"fn": (1.0, 1.0)}))
    assert data["repr"] == ("ChatUniScale cannot be serialised: child 'fn' "
                            "(ScriptedChatModel) is not LangChain-serialisable")
    chat = ChatUniScale(models={"fn": child}, prices={"fn": (1.0, 1.0)})
    assert chat.invoke("hi").text == "made up"  # tracing still works (its dumpd is used)


def test_model_dump_json_describes_every_setting() -> None:
    scorer = us.BestOfN(scorer=len)
    chat = _openai_chat(prices=PRICES, strategies=["single", scorer], n=[1, 2],
                        featurizer=us.HashingFeaturizer(32), fallback=[us.Arm("big", us.Single())],
                        objective=us.Tradeoff(0.05))
    dumped = json.loads(chat.model_dump_json())
    assert "router" not in dumped
    assert dumped["strategies"][0] == "single"
    assert dumped["strategies"][1]["name"] == "bon"
    assert dumped["fallback"] == ["big/single/1"]
    assert dumped["featurizer"]["dim"] == 32
    assert dumped["objective"] == {"willingness_to_pay": 0.05}
    assert dumped["prices"]["big"]["cached_input"] == 1.25
