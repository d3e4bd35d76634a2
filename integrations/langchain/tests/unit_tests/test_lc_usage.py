"""Usage is the children's, summed over every sample, and reported once."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.callbacks import (
    BaseCallbackHandler,
    UsageMetadataCallbackHandler,
    get_usage_metadata_callback,
)
from langchain_core.messages import BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatResult
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel
from pydantic import PrivateAttr

import uniscale as us


class RecordingChild(ScriptedChatModel):
    """A scripted child that keeps the usage of every reply it generated."""

    _usage: list[UsageMetadata] = PrivateAttr(default_factory=list)
    _temperatures: list[float | None] = PrivateAttr(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        result = super()._generate(messages, stop, run_manager, **kwargs)
        usage = result.generations[0].message.usage_metadata
        assert usage is not None
        self._usage.append(usage)
        self._temperatures.append(self.temperature)
        return result

    def total(self) -> UsageMetadata:
        out: UsageMetadata | None = None
        for usage in self._usage:
            out = add_usage(out, usage)
        assert out is not None
        return out


class StartCounter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[tuple[Any, Any]] = []

    def on_chat_model_start(self, *args: Any, run_id: Any = None, parent_run_id: Any = None,
                            **kwargs: Any) -> None:
        self.starts.append((run_id, parent_run_id))


def _five_sample_chat() -> tuple[ChatUniScale, RecordingChild]:
    replies = ["The answer is 12.", "I think it is 12.", "The answer is 13.",
               "It is 12 for sure, after a long derivation.", "12"]
    child = RecordingChild(model="solver-v2", responses=replies)
    chat = ChatUniScale(models={"solver": child}, prices={"solver": us.Price(1.0, 2.0)},
                        strategies=[us.SelfConsistency()], n=[5])
    return chat, child


def test_callback_sees_the_children_summed_tokens_once() -> None:
    chat, child = _five_sample_chat()
    counter, collector = StartCounter(), RunCollectorCallbackHandler()
    root = uuid.uuid4()
    with get_usage_metadata_callback() as callback:
        reply = chat.invoke("What is 5 + 7?",
                            config={"callbacks": [counter, collector], "run_id": root})
    assert len(child._usage) == 5
    assert child._temperatures == [0.7] * 5  # self-consistency samples at its temperature
    assert counter.starts == [(root, None)]  # a user's handler sees one chat-model run
    # a tracer sees the children's runs (their public interface) nested in the router's
    (run,) = collector.traced_runs
    assert run.id == root and len(run.child_runs) == 5
    assert {r.extra["metadata"]["ls_model_name"] for r in run.child_runs} == {"solver-v2"}
    assert callback.usage_metadata == {"solver-v2": child.total()}  # once, real model name
    assert reply.usage_metadata == child.total()
    assert reply.response_metadata["uniscale"]["samples"] == 5
    assert reply.response_metadata["uniscale"]["vote_share"] == 0.8
    assert extract(reply.text) == "12"


def test_the_child_own_callbacks_see_each_child_run_nested() -> None:
    own = StartCounter()
    child = RecordingChild(model="solver-v2", responses=["The answer is 3."], callbacks=[own])
    chat = ChatUniScale(models={"solver": child}, prices={"solver": us.Price(1.0, 2.0)},
                        strategies=["self-consistency"], n=[3])
    root = uuid.uuid4()
    chat.invoke("What is 1 + 2?", config={"run_id": root})
    assert [parent for _, parent in own.starts] == [root] * 3


async def test_async_callback_sees_the_children_summed_tokens_once() -> None:
    chat, child = _five_sample_chat()
    with get_usage_metadata_callback() as callback:
        await chat.ainvoke("What is 5 + 7?")
    assert len(child._usage) == 5
    assert callback.usage_metadata == {"solver-v2": child.total()}


def test_stream_of_a_multi_sample_arm_reports_usage_once() -> None:
    chat, child = _five_sample_chat()
    with get_usage_metadata_callback() as callback:
        chunks = list(chat.stream("What is 5 + 7?"))
    assert len(chunks) == 1
    assert chunks[0].chunk_position == "last"
    assert callback.usage_metadata == {"solver-v2": child.total()}


def test_an_explicit_usage_handler_counts_once_too() -> None:
    chat, child = _five_sample_chat()
    handler = UsageMetadataCallbackHandler()
    chat.invoke("What is 5 + 7?", config={"callbacks": [handler]})
    for _ in chat.stream("What is 5 + 7?", config={"callbacks": [handler]}):
        pass
    assert len(child._usage) == 10  # two calls of a 5-sample arm
    assert handler.usage_metadata == {"solver-v2": child.total()}


def test_a_usage_handler_on_the_child_itself_sees_the_child_calls() -> None:
    own = UsageMetadataCallbackHandler()
    child = RecordingChild(model="solver-v2", responses=["The answer is 3."], callbacks=[own])
    chat = ChatUniScale(models={"solver": child}, prices={"solver": us.Price(1.0, 2.0)},
                        strategies=["self-consistency"], n=[3])
    with get_usage_metadata_callback() as callback:
        chat.invoke("What is 1 + 2?")
    assert own.usage_metadata == callback.usage_metadata == {"solver-v2": child.total()}


def test_observed_cost_is_priced_from_the_children_usage() -> None:
    chat, child = _five_sample_chat()
    reply = chat.invoke("What is 5 + 7?")
    total = child.total()
    expected = (total["input_tokens"] * 1.0 + total["output_tokens"] * 2.0) / 1e6
    assert abs(reply.response_metadata["uniscale"]["observed_cost"] - expected) < 1e-12


def extract(text: str) -> str | None:
    return us.extract_answer(text)
