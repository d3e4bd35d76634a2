"""UniScaleRouterMiddleware in a ``create_agent`` loop with tools: one model per thread.

The two children are priced so that the router would switch models within a turn: the
"short" model is cheap on short inputs (cheap output), the "long" one on long inputs
(cheap input), and the tool returns a long report. Without affinity the call after the
tool result goes to the other model; with the middleware the thread stays put.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langchain_uniscale import ChatUniScale
from langchain_uniscale.agents import UniScaleRouterMiddleware
from langchain_uniscale.testing import ScriptedChatModel
from langgraph.checkpoint.memory import InMemorySaver

import uniscale as us


@tool
def get_report(city: str) -> str:
    """Get the long weather report of a city."""
    return f"Report for {city}: " + "mild, dry and calm. " * 80


def _chat() -> ChatUniScale:
    return ChatUniScale(
        models={"short": ScriptedChatModel(model="short-1"),
                "long": ScriptedChatModel(model="long-1")},
        prices={"short": us.Price(10.0, 0.1), "long": us.Price(0.1, 10.0)},
    )


def _models(messages: list[Any]) -> list[str]:
    return [m.response_metadata["uniscale"]["model"] for m in messages
            if isinstance(m, AIMessage)]


def _ask(agent: Any, text: str, thread: str) -> dict[str, Any]:
    state: dict[str, Any] = agent.invoke({"messages": [HumanMessage(text)]},
                                         {"configurable": {"thread_id": thread}})
    return state


def test_without_affinity_the_router_switches_models_mid_turn() -> None:
    agent = create_agent(_chat(), tools=[get_report])
    state = agent.invoke({"messages": [HumanMessage("What is the report for 'Oslo'?")]})
    assert _models(state["messages"]) == ["short", "long"]  # the control


def test_a_thread_stays_on_one_model_and_feedback_credits_every_decision() -> None:
    chat = _chat()
    router = UniScaleRouterMiddleware(chat)
    agent = create_agent(chat, tools=[get_report], middleware=[router],
                         checkpointer=InMemorySaver())
    _ask(agent, "What is the report for 'Oslo'?", "t1")
    state = _ask(agent, "And the report for 'Bergen'?", "t1")
    messages = state["messages"]
    assert [type(m).__name__ for m in messages].count("ToolMessage") == 2
    assert _models(messages) == ["short"] * 4  # two turns, each a tool call and an answer
    decisions = [m.response_metadata["uniscale"]["decision_id"] for m in messages
                 if isinstance(m, AIMessage)]
    assert state["uniscale_decisions"] == decisions
    assert router.decisions("t1") == decisions
    other = _ask(agent, "What is the report for 'Rome'?", "t2")
    assert set(router.decisions("t2")).isdisjoint(decisions)  # threads are apart
    assert router.feedback("t1", 1.0) is True
    assert chat.router.stats["feedback"] == 4
    with pytest.raises(us.DuplicateFeedbackError):
        router.feedback("t1", 1.0)  # once per thread
    assert router.feedback(other, 0.0) is True  # the returned state works too
    assert chat.router.stats["feedback"] == 6


async def test_turn_affinity_pins_while_tool_calls_are_in_flight() -> None:
    chat = _chat()
    router = UniScaleRouterMiddleware(chat, affinity="turn")
    agent = create_agent(chat, tools=[get_report], middleware=[router],
                         checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "a"}}
    state = await agent.ainvoke({"messages": [HumanMessage("Report for 'Oslo'?")]}, config)
    assert _models(state["messages"]) == ["short", "short"]
    assert state["uniscale_model"] is None  # released when the turn ended


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(us.ConfigurationError, match="needs a ChatUniScale"):
        UniScaleRouterMiddleware(ScriptedChatModel())  # type: ignore[arg-type]
    with pytest.raises(us.ConfigurationError, match="affinity"):
        UniScaleRouterMiddleware(_chat(), affinity="forever")  # type: ignore[arg-type]
    with pytest.raises(us.UnknownDecisionError):
        UniScaleRouterMiddleware(_chat()).feedback("no-such-thread", 1.0)


def test_an_agent_streams_the_router_tokens_once() -> None:
    chat = _chat()
    agent = create_agent(chat, tools=[], middleware=[UniScaleRouterMiddleware(chat)])
    pieces = [m.text for m, _ in agent.stream({"messages": [HumanMessage("Say hi")]},
                                              stream_mode="messages")]
    final = agent.invoke({"messages": [HumanMessage("Say hi")]})["messages"][-1]
    assert "".join(pieces) == final.text  # each token once, not again from a child
