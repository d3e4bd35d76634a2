"""Usage is the children's, summed over every sample, and reported once."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.messages import BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatResult
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
        self.starts = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.starts += 1


def _five_sample_chat() -> tuple[ChatUniScale, RecordingChild]:
    replies = ["The answer is 12.", "I think it is 12.", "The answer is 13.",
               "It is 12 for sure, after a long derivation.", "12"]
    child = RecordingChild(model="solver-v2", responses=replies)
    chat = ChatUniScale(models={"solver": child}, prices={"solver": us.Price(1.0, 2.0)},
                        strategies=[us.SelfConsistency()], n=[5])
    return chat, child


def test_callback_sees_the_children_summed_tokens_once() -> None:
    chat, child = _five_sample_chat()
    counter = StartCounter()
    with get_usage_metadata_callback() as callback:
        reply = chat.invoke("What is 5 + 7?", config={"callbacks": [counter]})
    assert len(child._usage) == 5
    assert child._temperatures == [0.7] * 5  # self-consistency samples at its temperature
    assert counter.starts == 1  # the children opened no run of their own
    assert callback.usage_metadata == {"solver": child.total()}
    assert reply.usage_metadata == child.total()
    assert reply.response_metadata["uniscale"]["samples"] == 5
    assert reply.response_metadata["uniscale"]["vote_share"] == 0.8
    assert extract(reply.text) == "12"


async def test_async_callback_sees_the_children_summed_tokens_once() -> None:
    chat, child = _five_sample_chat()
    with get_usage_metadata_callback() as callback:
        await chat.ainvoke("What is 5 + 7?")
    assert len(child._usage) == 5
    assert callback.usage_metadata == {"solver": child.total()}


def test_stream_of_a_multi_sample_arm_reports_usage_once() -> None:
    chat, child = _five_sample_chat()
    with get_usage_metadata_callback() as callback:
        chunks = list(chat.stream("What is 5 + 7?"))
    assert len(chunks) == 1
    assert chunks[0].chunk_position == "last"
    assert callback.usage_metadata == {"solver": child.total()}


def test_observed_cost_is_priced_from_the_children_usage() -> None:
    chat, child = _five_sample_chat()
    reply = chat.invoke("What is 5 + 7?")
    total = child.total()
    expected = (total["input_tokens"] * 1.0 + total["output_tokens"] * 2.0) / 1e6
    assert abs(reply.response_metadata["uniscale"]["observed_cost"] - expected) < 1e-12


def extract(text: str) -> str | None:
    return us.extract_answer(text)
