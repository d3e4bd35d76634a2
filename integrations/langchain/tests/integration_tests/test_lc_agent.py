"""An agent built with ``langchain.agents.create_agent`` runs on ChatUniScale, offline."""

from __future__ import annotations

import uuid
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us

CALLS: list[dict[str, Any]] = []


@tool
def get_weather(location: str) -> str:
    """Get the weather at a location."""
    CALLS.append({"location": location})
    return f"It is sunny in {location}."


def _chat() -> ChatUniScale:
    return ChatUniScale(
        models={"small": ScriptedChatModel(model="small-v1"),
                "large": ScriptedChatModel(model="large-v1")},
        prices={"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)},
        strategies=[us.Single(), us.SelfConsistency()],
        n=[1, 5],
    )


def test_agent_calls_the_tool_and_answers() -> None:
    CALLS.clear()
    chat = _chat()
    agent = create_agent(chat, tools=[get_weather], system_prompt="You report the weather.")
    root = uuid.uuid4()
    state = agent.invoke({"messages": [HumanMessage("What is the weather in 'Paris'?")]},
                         config={"run_id": root})
    messages = state["messages"]
    assert CALLS == [{"location": "Paris"}]
    assert isinstance(messages[1], AIMessage) and messages[1].tool_calls
    assert isinstance(messages[2], ToolMessage)
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert "It is sunny in Paris." in final.text
    routed = [m for m in messages if isinstance(m, AIMessage)]
    assert all(m.response_metadata["uniscale"]["strategy"] == "single" for m in routed)
    decisions = sorted(m.response_metadata["uniscale"]["decision_id"] for m in routed)
    # Feedback on the agent's root run credits both model calls of the loop.
    assert sorted(chat.feedback_decisions(root, 1.0)) == decisions


async def test_agent_runs_async() -> None:
    CALLS.clear()
    agent = create_agent(_chat(), tools=[get_weather])
    state = await agent.ainvoke({"messages": [HumanMessage("Weather in 'Oslo'?")]})
    assert CALLS == [{"location": "Oslo"}]
    assert "Oslo" in state["messages"][-1].text
