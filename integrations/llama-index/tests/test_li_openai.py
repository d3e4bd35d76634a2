"""UniScaleLLM over LlamaIndex's real OpenAI LLM, talking HTTP to the loopback server.

A multi-sample arm is one request with ``n``; token counters see the billed usage once;
responses name the real model; provider errors come out as the provider's own type.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import uniscale as us
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from uniscale.testing.loopback import LoopbackServer, error

from llama_index.llms.uniscale import UniScaleLLM

openai_llms = pytest.importorskip("llama_index.llms.openai")
openai = pytest.importorskip("openai")

PRICES = {"mini": us.Price(input=0.15, output=0.6), "big": us.Price(input=2.5, output=10.0)}
QUESTION = [ChatMessage(role="user", content="What is 2+2? End with 'The answer is N.'")]
VOTES = ["The answer is 4.", "The answer is 5.", "The answer is 4.", "The answer is 4.",
         "The answer is 5."]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(reply=lambda prompt, i: VOTES[i % len(VOTES)]) as running:
        yield running


def child(server: LoopbackServer, model: str = "gpt-4o-mini", **options: object) -> object:
    return openai_llms.OpenAI(model=model, api_key="test", api_base=server.openai_url,
                              max_retries=0, **options)


def billed(server: LoopbackServer) -> int:
    return sum(u["total_tokens"] for u in server.usages)


@pytest.mark.parametrize("method", ["chat", "achat", "complete", "stream_chat"])
async def test_five_sample_arm_is_one_request_with_n(server, limiter, method) -> None:
    counter, router_only = TokenCountingHandler(), TokenCountingHandler()
    pacer = limiter(requests_per_minute=6000)
    mini = child(server, callback_manager=CallbackManager([counter]), rate_limiter=pacer)
    llm = UniScaleLLM(models={"mini": mini}, prices=PRICES, strategies=["self-consistency"],
                      n=[5], callback_manager=CallbackManager([counter, router_only]))
    if method == "chat":
        response = llm.chat(QUESTION)
    elif method == "achat":
        response = await llm.achat(QUESTION)
    elif method == "complete":
        response = llm.complete(QUESTION[0].content)
    else:
        response = list(llm.stream_chat(QUESTION))[-1]
    requests = server.calls("openai")
    assert len(requests) == 1 and requests[0].body["n"] == 5
    assert len(pacer._acquired) == 1  # the child's own rate limiter paced its one call
    info = response.additional_kwargs["uniscale"]
    assert info["samples"] == 5 and info["answer"] == "4" and info["vote_share"] == 0.6
    assert "The answer is 4." in (response.text if method == "complete" else
                                  response.message.content)
    usage = server.usages[0]
    assert response.additional_kwargs["prompt_tokens"] == usage["prompt_tokens"]  # paid once
    assert response.additional_kwargs["total_tokens"] == usage["total_tokens"]
    # the child's handler saw its one real call; the router's own handler the routed call
    assert [e.total_token_count for e in counter.llm_token_counts] == [billed(server)]
    assert [e.total_token_count for e in router_only.llm_token_counts] == [billed(server)]
    assert info["cost"] == pytest.approx(PRICES["mini"].cost(
        us.Usage(usage["prompt_tokens"], usage["completion_tokens"])))
    # real model name next to the alias
    assert (info["model"], info["model_name"]) == ("mini", "gpt-4o-mini")
    assert response.raw["model"] == "gpt-4o-mini"


def test_cost_model_knows_the_input_is_paid_once(server) -> None:
    llm = UniScaleLLM(models={"mini": child(server)}, prices=PRICES,
                      strategies=["single", "self-consistency"], n=[1, 5])
    arm = us.Arm("mini", us.SelfConsistency(), 5)
    assert llm.router.costs.calls(arm) == 1
    singles = us.CostModel(PRICES, samples_per_call={"mini": 1})
    assert singles.calls(arm) == 5
    gap = singles.predict_all([arm], 1000)[0] - llm.router.costs.predict_all([arm], 1000)[0]
    assert gap == pytest.approx(4 * 1000 * PRICES["mini"].input / 1e6)


def test_instrumentation_sees_the_one_real_call(server, event_log) -> None:
    llm = UniScaleLLM(models={"mini": child(server)}, prices=PRICES,
                      strategies=["self-consistency"], n=[5])
    llm.chat(QUESTION)
    ends = event_log.of(LLMChatEndEvent)
    assert len(ends) == 1 and len(ends[0].response.raw.choices) == 5


def test_server_refusing_n_gets_one_request_per_sample(server) -> None:
    server.accept_n = False
    llm = UniScaleLLM(models={"mini": child(server)}, prices=PRICES,
                      strategies=["self-consistency"], n=[3])
    response = llm.chat(QUESTION)
    bodies = [r.body for r in server.calls("openai")]
    assert [b.get("n") for b in bodies] == [3, None, None, None]  # refused, then singles
    assert response.additional_kwargs["uniscale"]["samples"] == 3
    assert response.additional_kwargs["total_tokens"] == billed(server)
    llm.chat(QUESTION)  # the router now plans (and prices) one call per sample
    assert [r.body.get("n") for r in server.calls("openai")][4:] == [None] * 3
    assert llm.router.costs.calls(us.Arm("mini", us.SelfConsistency(), 3)) == 3


def test_single_sample_arm_sends_no_n(server) -> None:
    llm = UniScaleLLM(models={"mini": child(server)}, prices=PRICES)
    llm.chat(QUESTION)
    assert "n" not in server.calls("openai")[0].body


def test_child_pinning_n_is_refused(server) -> None:
    with pytest.raises(us.ConfigurationError, match="additional_kwargs"):
        UniScaleLLM(models={"mini": child(server, additional_kwargs={"n": 3})}, prices=PRICES)


@pytest.mark.parametrize("method", ["chat", "complete", "stream_chat", "achat"])
async def test_rate_limit_on_every_arm_raises_the_providers_error(server, method) -> None:
    server.default = error(429)
    llm = UniScaleLLM(models={"mini": child(server), "big": child(server, "gpt-4o")},
                      prices=PRICES, fallback=["mini", "big"])
    with llm.track() as turn, pytest.raises(openai.RateLimitError) as caught:
        if method == "chat":
            llm.chat(QUESTION)
        elif method == "achat":
            await llm.achat(QUESTION)
        elif method == "complete":
            llm.complete("hi")
        else:
            list(llm.stream_chat(QUESTION))
    assert caught.value.status_code == 429
    if method != "stream_chat":  # streams do not switch arms once the child was called
        assert len(server.calls("openai")) == 2  # the chosen arm, then the fallback
        assert any("uniscale" in n and "failed" in n for n in caught.value.__notes__)
    assert turn.decision_ids == ()
    assert llm.router.stats["feedback"] == 0 and len(llm.router.pending) == 0
