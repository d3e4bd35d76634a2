"""What a routed call returns, which arms it may use, streaming, tools and state."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel
from pydantic import BaseModel

import uniscale as us

MakeChat = Callable[..., ChatUniScale]


class NoStreamChild(BaseChatModel):
    """A child that implements only ``_generate`` and reports no usage."""

    @property
    def _llm_type(self) -> str:
        return "no-stream"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        reply = AIMessage("a plain reply", id="child-message-id")
        return ChatResult(generations=[ChatGeneration(message=reply)])


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Answer(BaseModel):
    """An answer with its justification."""

    answer: str
    justification: str


def test_reply_carries_routing_metadata_and_a_fresh_id(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single()])
    run_id = uuid.uuid4()
    reply = chat.invoke("hello", model="large", config={"run_id": run_id})
    meta = reply.response_metadata
    assert meta["model_name"] == "large-v1"  # the child's own model
    assert meta["model_provider"] == "openai"  # kept from the child
    info = meta["uniscale"]
    assert info["model"] == "large"  # the alias
    assert info["arm"] == "large/single/1"
    assert info["child_model_name"] == "large-v1"
    assert info["predicted_cost"] > 0 and info["observed_cost"] > 0
    assert info["score"] == pytest.approx(info["ucb"] - info["cost_weight"]
                                          * info["predicted_cost"])
    assert info["ucb"] == pytest.approx(info["quality"] + chat.router.policy.alpha
                                        * info["width"])
    assert info["propensity"] == 1.0
    assert len(info["decision_id"]) == 32
    assert reply.id == f"lc_run--{run_id}-0"


def test_tools_route_only_to_arms_that_support_tools(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3, 5])
    bound = chat.bind_tools([multiply], tool_choice="any")
    for _ in range(12):
        reply = bound.invoke("What is 6 times 7?")
        assert reply.tool_calls[0]["name"] == "multiply"
        assert reply.tool_calls[0]["args"] == {"a": 6, "b": 7}
        assert reply.response_metadata["uniscale"]["strategy"] == "single"
    only_voting = make_chat(strategies=[us.SelfConsistency()], n=[3])
    with pytest.raises(us.ConfigurationError, match="can take tools"):
        only_voting.bind_tools([multiply])  # detected when the tools are bound


def test_model_keyword_pins_the_model(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3])
    for _ in range(6):
        meta = chat.invoke("hi", model="small").response_metadata
        assert (meta["model_name"], meta["uniscale"]["model"]) == ("small-v1", "small")
    with pytest.raises(us.ConfigurationError, match="not one of this router's models"):
        chat.invoke("hi", model="gpt-unknown")


def test_stop_sequences_reach_the_child() -> None:
    child = ScriptedChatModel(responses=["alpha beta STOP gamma"])
    chat = ChatUniScale(models={"m": child}, prices={"m": us.Price(1, 1)})
    assert chat.invoke("go", stop=["STOP"]).content == "alpha beta "
    assert ChatUniScale(models={"m": child}, prices={"m": us.Price(1, 1)},
                        stop=["beta"]).invoke("go").content == "alpha "


def test_streaming_a_single_sample_arm_passes_the_child_tokens(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single()])
    chunks = list(chat.stream("hello", model="large"))
    assert len(chunks) > 2
    assert [c.chunk_position for c in chunks] == [None] * (len(chunks) - 1) + ["last"]
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.text == "The answer is 42, surely."
    assert full.response_metadata["model_name"] == "large-v1"  # set once, not concatenated
    assert full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0
    assert full.response_metadata["uniscale"]["observed_cost"] > 0


def test_streaming_a_multi_sample_arm_emits_the_aggregate(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.SelfConsistency()], n=[3])
    chunks = list(chat.stream("What is 6 * 7?"))
    assert len(chunks) == 1
    assert chunks[0].chunk_position == "last"
    assert chunks[0].response_metadata["uniscale"]["n"] == 3
    assert chunks[0].response_metadata["uniscale"]["vote_share"] == 1.0


async def test_async_stream_with_tools_streams_the_tool_call(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3])
    bound = chat.bind_tools([multiply])
    full: Any = None
    async for chunk in bound.astream("Use multiply on 3 and 4"):
        full = chunk if full is None else full + chunk
    assert full.tool_calls[0]["args"] == {"a": 3, "b": 4}


def test_child_without_streaming_or_usage() -> None:
    chat = ChatUniScale(models={"plain": NoStreamChild()}, prices={"plain": us.Price(1, 1)})
    chunks = list(chat.stream("hello"))
    assert [c.text for c in chunks] == ["a plain reply"]
    reply = chat.invoke("hello")
    assert reply.id != "child-message-id"
    assert reply.response_metadata["uniscale"]["usage_estimated"] is True
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0


def test_streaming_flag_makes_invoke_stream_inside(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single()], streaming=True)
    run_id = uuid.uuid4()
    reply = chat.invoke("hello", model="small", config={"run_id": run_id})
    assert reply.text == "The answer is 42."
    assert reply.response_metadata["model_name"] == "small-v1"
    decision = reply.response_metadata["uniscale"]["decision_id"]
    assert chat.feedback_decisions(run_id, 1.0) == [decision]


def test_batch_makes_one_decision_per_input(make_chat: MakeChat) -> None:
    chat = make_chat()
    replies = chat.batch(["one", "two", "three"])
    ids = {r.response_metadata["uniscale"]["decision_id"] for r in replies}
    assert len(ids) == 3


def test_structured_output(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3])
    structured = chat.with_structured_output(Answer)
    for _ in range(5):
        assert isinstance(structured.invoke("Why is the sky blue?"), Answer)
    raw = chat.with_structured_output(Answer, include_raw=True).invoke("Why?")
    assert raw["parsed"] is not None
    assert raw["raw"].response_metadata["uniscale"]["strategy"] == "single"


def test_tracing_params_name_the_router_honestly(make_chat: MakeChat) -> None:
    chat = make_chat(temperature=0.2, max_tokens=50)
    params = chat._get_ls_params(stop=["x"])
    assert params["ls_provider"] == "uniscale"
    assert params["ls_model_name"] == "uniscale[small,large]"
    assert params["ls_temperature"] == 0.2 and params["ls_max_tokens"] == 50
    assert params["ls_stop"] == ["x"]
    assert chat._get_ls_params(model="large")["ls_model_name"] == "large-v1"  # the child's


def test_a_ready_router_can_be_passed() -> None:
    arms = us.ArmSpace.product(["a", "b"])
    router = us.Router(arms, {"a": us.Price(1, 1), "b": us.Price(2, 2)}, seed=3)
    children = {"a": ScriptedChatModel(model="a"), "b": ScriptedChatModel(model="b")}
    chat = ChatUniScale(models=children, router=router)
    assert chat.invoke("hi").response_metadata["model_name"] in {"a", "b"}
    assert chat.router is router
    with pytest.raises(us.MissingBackendError):
        ChatUniScale(models={"a": children["a"]}, router=router)


def test_missing_price_is_a_clear_error() -> None:
    with pytest.raises(us.ConfigurationError, match="needs prices="):
        ChatUniScale(models={"m": ScriptedChatModel()})
    with pytest.raises(us.MissingPriceError):
        ChatUniScale(models={"m": ScriptedChatModel(), "n": ScriptedChatModel()},
                     prices={"m": us.Price(1, 1)})


def test_learned_state_persists_across_instances(make_chat: MakeChat, tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    chat = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3], state_path=path)
    for i in range(20):
        chat.feedback(chat.invoke(f"question {i}"), 1.0 if i % 2 else 0.0)
    pending = chat.invoke("answered after a restart")
    chat.save()
    again = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3], state_path=path)
    assert again.router.stats["feedback"] == 20
    assert again.router.policy.state()[0] == chat.router.policy.state()[0]
    decision = pending.response_metadata["uniscale"]["decision_id"]
    assert again.feedback_decisions(pending, 1.0) == [decision]
    with pytest.raises(us.ConfigurationError, match="needs a path"):
        make_chat().save()


async def test_stream_events_come_from_the_router_only(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single()])
    events = [(e["event"], e["name"]) async for e in chat.astream_events("hello",
                                                                         version="v2")]
    streamed = [name for kind, name in events if kind == "on_chat_model_stream"]
    assert streamed and set(streamed) == {"ChatUniScale"}  # the children's runs add none
    assert [e for e in events if e[0] == "on_chat_model_start"] == [
        ("on_chat_model_start", "ChatUniScale")]


def test_a_child_without_tool_support_is_left_out_of_tool_calls() -> None:
    scripted = ScriptedChatModel(model="tools-1")
    chat = ChatUniScale(models={"plain": NoStreamChild(), "tools": scripted},
                        prices={"plain": us.Price(0.01, 0.01), "tools": us.Price(5.0, 5.0)})
    assert chat.tool_models() == ["tools"]
    bound = chat.bind_tools([multiply])
    for _ in range(4):  # the cheaper child cannot take tools: never chosen for them
        reply = bound.invoke("What is 6 times 7?")
        assert reply.response_metadata["uniscale"]["model"] == "tools"
    with pytest.raises(us.ConfigurationError, match="can take tools"):
        ChatUniScale(models={"plain": NoStreamChild()},
                     prices={"plain": us.Price(1, 1)}).bind_tools([multiply])
