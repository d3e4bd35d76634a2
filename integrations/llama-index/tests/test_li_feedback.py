"""Feedback on UniScaleLLM: by response, decision id or span id, and with track()."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uniscale as us
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from llama_index.llms.uniscale import Tracker, UniScaleLLM

PRICES = {"a": us.Price(input=1.0, output=1.0), "b": us.Price(input=3.0, output=3.0)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(scripted, **options) -> UniScaleLLM:
    """Two children; router settings beyond the adapter's come through a ready router."""
    models = {"a": scripted(), "b": scripted()}
    if not options:
        return UniScaleLLM(models=models, prices=PRICES)
    router = us.Router(us.ArmSpace.product(list(models), [us.Single()]), PRICES, **options)
    return UniScaleLLM(models=models, router=router)


def test_feedback_by_response_decision_id_and_span_id(scripted) -> None:
    llm = make(scripted)
    first, second, third = (llm.complete(f"q{i}") for i in range(3))
    assert llm.feedback(first, 1.0)
    assert llm.feedback(second.additional_kwargs["uniscale"]["decision_id"], 0.0)
    span = third.additional_kwargs["uniscale"]["span_id"]
    assert llm.decision_id(span) == third.additional_kwargs["uniscale"]["decision_id"]
    assert llm.feedback(span, 0.5)
    assert llm.router.stats["feedback"] == 3


def test_feedback_learns_the_score(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted()}, prices=PRICES)
    out = llm.complete("What is 1+1?")
    before = llm.router.decide("What is 1+1?").quality
    llm.feedback(out, 1.0)
    after = llm.router.decide("What is 1+1?").quality
    assert after > before


def test_feedback_errors_are_clear(scripted) -> None:
    clock = Clock()
    llm = make(scripted, feedback_ttl=60.0, clock=clock)
    out = llm.complete("hi")
    llm.feedback(out, 1.0)
    with pytest.raises(us.DuplicateFeedbackError, match="already"):
        llm.feedback(out, 1.0)
    with pytest.raises(us.UnknownDecisionError, match="unknown decision id"):
        llm.feedback("no-such-id", 1.0)
    with pytest.raises(us.UnknownDecisionError, match="carries no UniScale decision"):
        llm.feedback(CompletionResponse(text="from elsewhere"), 1.0)
    with pytest.raises(us.UnknownDecisionError, match="carries no UniScale decision"):
        llm.feedback(42, 1.0)
    late = llm.complete("hello")
    with pytest.raises(us.InvalidScoreError):
        llm.feedback(late, 1.5)
    clock.now += 61.0
    with pytest.raises(us.ExpiredDecisionError, match="expired"):
        llm.feedback(late, 1.0)
    assert llm.router.stats["feedback"] == 1


def test_track_credits_every_routed_call_inside_the_block(scripted) -> None:
    llm = make(scripted)
    outside = llm.complete("before")
    with llm.track() as turn:
        llm.complete("one")
        llm.chat([ChatMessage(role="user", content="two")])
        list(llm.stream_complete("three"))
    llm.complete("after")
    assert isinstance(turn, Tracker)
    assert len(turn.decision_ids) == 3
    assert [c["decision_id"] for c in turn.calls] == list(turn.decision_ids)
    assert all(c["cost"] > 0 and c["model"] in {"a", "b"} for c in turn.calls)
    assert outside.additional_kwargs["uniscale"]["decision_id"] not in turn.decision_ids
    assert turn.feedback(1.0) == 3
    assert llm.router.stats["feedback"] == 3
    assert turn.feedback(1.0) == 0  # each call is credited once


async def test_track_follows_async_tasks_and_nests(scripted) -> None:
    llm = make(scripted)
    other = make(scripted)
    with llm.track() as outer:
        await llm.acomplete("a")
        with llm.track() as inner:
            await asyncio.gather(*(llm.acomplete(f"q{i}") for i in range(4)))
            await other.acomplete("not mine")
    assert len(inner.decision_ids) == 4
    assert len(outer.decision_ids) == 5
    assert inner.feedback(0.0) == 4
    assert outer.feedback(1.0) == 1  # the rest were credited by the inner block
    assert other.router.stats["feedback"] == 0


def test_track_without_calls_credits_nothing(scripted) -> None:
    llm = make(scripted)
    with llm.track() as turn:
        pass
    assert turn.feedback(1.0) == 0


def test_track_with_expired_decision_raises(scripted) -> None:
    clock = Clock()
    llm = make(scripted, feedback_ttl=10.0, clock=clock)
    with llm.track() as turn:
        llm.complete("x")
    clock.now += 11
    with pytest.raises(us.ExpiredDecisionError):
        turn.feedback(1.0)


def test_ignored_feedback_returns_false(scripted) -> None:
    llm = make(scripted, on_invalid_feedback="ignore")
    assert llm.feedback("unknown", 1.0) is False
    assert llm.router.stats["ignored_feedback"] == 1


class BrokenStreamLLM(CustomLLM):
    """Streams one chunk, then fails."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise RuntimeError("provider down")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text="partial", delta="partial")
            raise RuntimeError("connection lost")

        return gen()


@pytest.mark.parametrize("arms", [[us.Arm("a", us.Single())],
                                  [us.Arm("a", us.SelfConsistency(), 3)]], ids=["n1", "sc3"])
def test_failed_calls_take_no_feedback(arms) -> None:
    llm = UniScaleLLM(models={"a": BrokenStreamLLM()}, prices=PRICES, arms=arms)
    with llm.track() as turn:
        with pytest.raises(RuntimeError, match="provider down") as caught:
            llm.complete("x")  # the child's own exception, with what uniscale tried
        assert any(arms[0].key in note for note in caught.value.__notes__)
        with pytest.raises((RuntimeError, us.AllSamplesFailedError)):
            list(llm.stream_complete("y"))
        with pytest.raises((RuntimeError, us.AllSamplesFailedError)):
            list(llm.stream_chat([ChatMessage(role="user", content="z")]))
    assert turn.decision_ids == () and turn.feedback(1.0) == 0
    assert llm.router.stats["feedback"] == 0
    assert len(llm.router.pending) == 0  # failed decisions are closed, not left to expire
    assert llm.router.stats["failures"] == {arms[0].key: 3}  # counted, never learned
    assert llm.router.policy.updates == 0
    assert llm.router.pacer.spent < 1e-4  # charged only what the partial streams used
    if arms[0].n == 1:
        assert llm.router.pacer.spent > 0


def test_failed_tool_call_takes_no_feedback(tool_llm) -> None:
    child = tool_llm()
    child.response_generator = lambda messages, **kw: (_ for _ in ()).throw(RuntimeError("down"))
    llm = UniScaleLLM(models={"a": child}, prices=PRICES)
    with llm.track() as turn, pytest.raises(RuntimeError, match="down"):
        llm.chat_with_tools([], user_msg="hi")
    assert turn.decision_ids == ()
