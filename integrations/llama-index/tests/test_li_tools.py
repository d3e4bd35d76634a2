"""Function calling through UniScaleLLM: the arm is chosen first, the child runs the tools."""

from __future__ import annotations

import pytest
import uniscale as us
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool

from llama_index.llms.uniscale import UniScaleLLM

PRICES = {"a": us.Price(input=1.0, output=1.0), "b": us.Price(input=3.0, output=3.0)}


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOL = FunctionTool.from_defaults(fn=multiply)


@pytest.fixture
def llm(tool_llm) -> UniScaleLLM:
    return UniScaleLLM(models={"a": tool_llm(), "b": tool_llm()}, prices=PRICES,
                       strategies=[us.Single(), us.SelfConsistency()], n=[1, 3, 5])


def check(llm: UniScaleLLM, response: ChatResponse) -> None:
    info = response.additional_kwargs["uniscale"]
    assert info["n"] == 1 and info["strategy"] == "single"
    calls = llm.get_tool_calls_from_response(response, error_on_no_tool_call=True)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("multiply", {"a": 6, "b": 7})]
    assert response.additional_kwargs["total_tokens"] > 0


def test_chat_with_tools_uses_single_arms_only(llm) -> None:
    for i in range(12):
        response = llm.chat_with_tools([TOOL], user_msg=f"What is 6 times 7? ({i})")
        check(llm, response)


async def test_async_and_streaming_tool_calls(llm) -> None:
    check(llm, await llm.achat_with_tools([TOOL], user_msg="6*7?"))
    chunks = list(llm.stream_chat_with_tools([TOOL], user_msg="6*7?"))
    check(llm, chunks[-1])
    chunks = [c async for c in await llm.astream_chat_with_tools(
        [TOOL], chat_history=[ChatMessage(role="user", content="6*7?")])]
    check(llm, chunks[-1])


def test_predict_and_call_runs_the_tool(llm) -> None:
    with llm.track() as turn:
        result = llm.predict_and_call([TOOL], user_msg="What is 6 times 7?")
    assert result.response == "42"
    assert len(turn.decision_ids) == 1


def test_tool_result_turn_is_routed_too(llm) -> None:
    history = [
        ChatMessage(role="user", content="6*7?"),
        ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "call-1"}),
    ]
    response = llm.chat_with_tools([TOOL], chat_history=history)
    assert response.message.content == "The answer is 42"
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


def test_tools_without_a_tool_capable_arm_raise(tool_llm, scripted) -> None:
    sc_only = UniScaleLLM(models={"a": tool_llm()}, prices=PRICES,
                          arms=[us.Arm("a", us.SelfConsistency(), 3)])
    with pytest.raises(us.NoArmAllowedError, match="no arm can call tools"):
        sc_only.chat_with_tools([TOOL], user_msg="6*7?")
    mixed = UniScaleLLM(models={"a": tool_llm(), "b": scripted()}, prices=PRICES)
    for _ in range(6):  # only the function-calling child is eligible
        assert mixed.chat_with_tools([TOOL], user_msg="6*7?").additional_kwargs[
            "uniscale"]["model"] == "a"


def test_tool_calls_of_a_foreign_response_raise(llm) -> None:
    with pytest.raises(us.UnknownDecisionError):
        llm.get_tool_calls_from_response(ChatResponse(message=ChatMessage(content="x")))
