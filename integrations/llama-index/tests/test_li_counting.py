"""Token counters and instrumentation handlers see each routed call once, with right totals."""

from __future__ import annotations

import pytest
import uniscale as us
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)

from llama_index.llms.uniscale import UniScaleLLM

PRICES = {"a": us.Price(input=1.0, output=1.0)}
SINGLE = [us.Arm("a", us.Single(), 1)]
SC3 = [us.Arm("a", us.SelfConsistency(), 3)]
MSG = [ChatMessage(role="user", content="What is 2+2?")]


async def run(llm: UniScaleLLM, method: str) -> object:
    if method == "chat":
        return llm.chat(MSG)
    if method == "achat":
        return await llm.achat(MSG)
    if method == "complete":
        return llm.complete("What is 2+2?")
    if method == "acomplete":
        return await llm.acomplete("What is 2+2?")
    if method == "stream_chat":
        return list(llm.stream_chat(MSG))[-1]
    if method == "astream_chat":
        return [c async for c in await llm.astream_chat(MSG)][-1]
    if method == "stream_complete":
        return list(llm.stream_complete("What is 2+2?"))[-1]
    return [c async for c in await llm.astream_complete("What is 2+2?")][-1]


METHODS = ["chat", "achat", "complete", "acomplete", "stream_chat", "astream_chat",
           "stream_complete", "astream_complete"]


@pytest.mark.parametrize("arms", [SINGLE, SC3], ids=["n1", "sc3"])
@pytest.mark.parametrize("method", METHODS)
async def test_router_only_counter_sees_each_routed_call_once(scripted, method, arms) -> None:
    counter = TokenCountingHandler()
    child = scripted(answers=["The answer is 4"], usage=(10, 5))
    llm = UniScaleLLM(models={"a": child}, prices=PRICES, arms=arms,
                      callback_manager=CallbackManager([counter]))
    response = await run(llm, method)
    n = arms[0].n
    assert len(counter.llm_token_counts) == 1  # the child does not report to it
    event = counter.llm_token_counts[0]
    assert (event.prompt_token_count, event.completion_token_count) == (10 * n, 5 * n)
    assert counter.total_llm_token_count == response.additional_kwargs["total_tokens"] == 15 * n
    assert len(child.prompts) == n


@pytest.mark.parametrize("arms", [SINGLE, SC3], ids=["n1", "sc3"])
@pytest.mark.parametrize("method", METHODS)
async def test_shared_counter_sees_each_real_child_call_once(scripted, method, arms) -> None:
    counter, other = TokenCountingHandler(), TokenCountingHandler()
    child = scripted(answers=["The answer is 4"], usage=(10, 5),
                     callback_manager=CallbackManager([counter]))
    llm = UniScaleLLM(models={"a": child}, prices=PRICES, arms=arms,
                      callback_manager=CallbackManager([counter, other]))
    response = await run(llm, method)
    n = arms[0].n
    assert len(child.prompts) == n
    # the child's own handler fires once per real call, the router adds nothing to it...
    assert [(e.prompt_token_count, e.completion_token_count)
            for e in counter.llm_token_counts] == [(10, 5)] * n
    assert counter.total_llm_token_count == response.additional_kwargs["total_tokens"] == 15 * n
    # ...and the router's handler the child lacks sees the routed call once, summed
    assert [e.total_token_count for e in other.llm_token_counts] == [15 * n]


@pytest.mark.parametrize("method", METHODS)
async def test_instrumentation_sees_each_model_call_once(scripted, event_log, method) -> None:
    child = scripted(answers=["The answer is 4"], usage=(10, 5))
    llm = UniScaleLLM(models={"a": child}, prices=PRICES, arms=SINGLE)
    response = await run(llm, method)
    kind = LLMChatEndEvent if "chat" in method else LLMCompletionEndEvent
    starts = event_log.of(LLMChatStartEvent) + event_log.of(LLMCompletionStartEvent)
    assert starts and all(e.model_dict["class_name"] == "ScriptedLLM" for e in starts)
    ends = event_log.of(kind)
    assert len(ends) == 1
    usage = ends[0].response.raw["usage"]
    assert usage["prompt_tokens"] + usage["completion_tokens"] == (
        response.additional_kwargs["total_tokens"])


async def test_instrumentation_totals_of_a_multi_sample_arm(scripted, event_log) -> None:
    child = scripted(answers=["The answer is 4"], usage=(10, 5))
    llm = UniScaleLLM(models={"a": child}, prices=PRICES, arms=SC3)
    response = await llm.acomplete("What is 2+2?")
    ends = event_log.of(LLMCompletionEndEvent)
    assert len(ends) == 3  # one per real model call, none from the router itself
    total = sum(e.response.raw["usage"]["prompt_tokens"] + e.response.raw["usage"][
        "completion_tokens"] for e in ends)
    assert total == response.additional_kwargs["total_tokens"] == 45


def test_failed_call_is_reported_as_an_error(scripted) -> None:
    counter = TokenCountingHandler()
    llm = UniScaleLLM(models={"a": scripted(answers=[])}, prices=PRICES, arms=SINGLE,
                      callback_manager=CallbackManager([counter]))
    with pytest.raises(ZeroDivisionError) as caught:  # the child's own error
        llm.complete("boom")
    assert any("uniscale" in note and "a/single/1" in note for note in caught.value.__notes__)
    assert counter.total_llm_token_count == 0


@pytest.mark.parametrize("arms", [SINGLE, SC3], ids=["n1", "sc3"])
@pytest.mark.parametrize("method", METHODS)
async def test_child_and_router_rate_limiters_are_honoured(scripted, limiter, method,
                                                           arms) -> None:
    child_limit = limiter(requests_per_minute=6000)
    router_limit = limiter(requests_per_minute=6000)
    child = scripted(answers=["The answer is 4"], rate_limiter=child_limit)
    llm = UniScaleLLM(models={"a": child}, prices=PRICES, arms=arms, rate_limiter=router_limit)
    await run(llm, method)
    assert len(child_limit._acquired) == len(child.prompts) == arms[0].n  # per real call
    assert len(router_limit._acquired) == 1  # per routed call
