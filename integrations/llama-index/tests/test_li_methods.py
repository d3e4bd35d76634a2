"""Every LLM method of UniScaleLLM on MockLLM-style children."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uniscale as us
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.llms.mock import MockFunctionCallingLLM, MockLLM

from llama_index.llms.uniscale import UniScaleLLM

PRICES = {"a": us.Price(input=1.0, output=1.0), "b": us.Price(input=3.0, output=3.0)}
METHODS = ["chat", "complete", "stream_chat", "stream_complete",
           "achat", "acomplete", "astream_chat", "astream_complete"]


async def call(llm: UniScaleLLM, method: str, text: str = "What is 2+2?") -> list[Any]:
    """Run one method and return its responses (every chunk of a stream)."""
    fn = getattr(llm, method)
    arg: Any = [ChatMessage(role="user", content=text)] if "chat" in method else text
    out = fn(arg)
    if method.startswith("a"):
        out = await out
    if "stream" not in method:
        return [out]
    if method.startswith("a"):
        return [chunk async for chunk in out]
    return list(out)


def text_of(response: ChatResponse | CompletionResponse) -> str:
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    return response.text


@pytest.mark.parametrize("method", METHODS)
async def test_every_method_routes_and_reports_decision_and_usage(scripted, method) -> None:
    children = {"a": scripted(answers=["four is the answer"]), "b": scripted(answers=["it is 4"])}
    llm = UniScaleLLM(models=children, prices=PRICES, seed=1)
    responses = await call(llm, method)
    final = responses[-1]
    info = final.additional_kwargs["uniscale"]
    assert info["arm"] in {"a/single/1", "b/single/1"}
    assert text_of(final) == children[info["model"]].answers[0]
    assert (final.additional_kwargs["prompt_tokens"], final.additional_kwargs["completion_tokens"],
            final.additional_kwargs["total_tokens"]) == (10, 5, 15)
    assert final.raw["usage"]["total_tokens"] == 15
    assert info["cost"] == pytest.approx(PRICES[info["model"]].cost(us.Usage(10, 5)))
    assert info["predicted_cost"] > 0 and info["vote_share"] == 1.0 and info["samples"] == 1
    assert info["score"] == pytest.approx(info["ucb"] - info["cost_weight"]
                                          * info["predicted_cost"])
    assert info["ucb"] == pytest.approx(info["quality"] + llm.router.policy.alpha
                                        * info["width"])
    assert info["span_id"].startswith(f"UniScaleLLM.{method}")
    assert llm.router.pending.get(info["decision_id"]).observed_cost == pytest.approx(info["cost"])
    assert len(children[info["model"]].prompts) == 1
    assert all(r.additional_kwargs["uniscale"]["decision_id"] == info["decision_id"]
               for r in responses)
    if "stream" in method:  # word by word; only the last chunk carries the usage
        assert len(responses) == len(text_of(final).split(" ")) > 1
        assert "".join(r.delta for r in responses) == text_of(final)
        assert all("total_tokens" not in r.additional_kwargs for r in responses[:-1])
    assert llm.feedback(final, 1.0) is True


@pytest.mark.parametrize("method", METHODS)
async def test_self_consistency_sums_samples_and_reports_vote_share(scripted, method) -> None:
    child = scripted(answers=["The answer is 4", "The answer is 5", "The answer is 4"])
    llm = UniScaleLLM(models={"a": child}, prices=PRICES,
                      arms=[us.Arm("a", us.SelfConsistency(temperature=0.9), 3)])
    responses = await call(llm, method)
    assert len(responses) == 1  # a multi-sample arm streams its one answer as one chunk
    final = responses[0]
    info = final.additional_kwargs["uniscale"]
    assert info["arm"] == "a/sc/3" and info["samples"] == 3 and info["answer"] == "4"
    assert info["vote_share"] == pytest.approx(2 / 3)
    assert text_of(final) == "The answer is 4"
    assert (final.additional_kwargs["prompt_tokens"],
            final.additional_kwargs["completion_tokens"]) == (30, 15)
    assert info["cost"] == pytest.approx(45 / 1e6)
    assert len(child.prompts) == 3
    assert all(kw.get("temperature") == 0.9 for kw in child.kwargs_seen)
    if "stream" in method:
        assert final.delta == "The answer is 4"


async def test_mock_llm_children_without_usage_are_counted_by_tokenizer() -> None:
    llm = UniScaleLLM(models={"a": MockLLM(), "b": MockLLM()}, prices=PRICES)
    out = llm.complete("hello world")
    assert out.text == "hello world"  # MockLLM echoes
    assert out.additional_kwargs["prompt_tokens"] == 2
    assert out.additional_kwargs["completion_tokens"] == 2
    chat = await llm.achat([ChatMessage(role="user", content="hello world")])
    assert chat.additional_kwargs["prompt_tokens"] > 0
    assert chat.additional_kwargs["total_tokens"] == (
        chat.additional_kwargs["prompt_tokens"] + chat.additional_kwargs["completion_tokens"])


def test_child_messages_pass_through_unchanged(scripted) -> None:
    child = scripted()
    llm = UniScaleLLM(models={"a": child}, prices=PRICES)
    llm.chat([ChatMessage(role="system", content="Be brief."),
              ChatMessage(role="user", content="Hi")], top_k=3)
    assert "Be brief." in child.prompts[0] and "Hi" in child.prompts[0]
    assert child.kwargs_seen[0] == {"top_k": 3}


def test_strategy_instruction_reaches_the_child(scripted) -> None:
    child = scripted()
    arm = us.Arm("a", us.Single(variant="cot", instruction="Think step by step."), 1)
    llm = UniScaleLLM(models={"a": child}, prices=PRICES, arms=[arm])
    llm.complete("What is 3*3?")
    list(llm.stream_complete("What is 4*4?"))
    assert all(p.startswith("Think step by step.") for p in child.prompts)
    assert child.prompts[1].endswith("What is 4*4?")


def test_metadata_describes_the_pool(scripted, tool_llm) -> None:
    llm = UniScaleLLM(models={"a": scripted(window=8000), "b": scripted(window=2000)},
                      prices=PRICES)
    meta = llm.metadata
    assert meta.context_window == 2000
    assert meta.is_function_calling_model is False
    assert meta.model_name == "uniscale:a,b"
    tools = UniScaleLLM(models={"a": tool_llm(), "b": tool_llm()}, prices=PRICES)
    assert tools.metadata.is_function_calling_model is True
    mixed = UniScaleLLM(models={"a": tool_llm(), "b": scripted()}, prices=PRICES)
    assert mixed.metadata.is_function_calling_model is False
    no_single = UniScaleLLM(models={"a": tool_llm()}, prices=PRICES,
                            arms=[us.Arm("a", us.SelfConsistency(), 3)])
    assert no_single.metadata.is_function_calling_model is False


def test_constructor_checks_its_settings(scripted) -> None:
    with pytest.raises(us.ConfigurationError, match="prices"):
        UniScaleLLM(models={"a": scripted()})
    with pytest.raises(us.ConfigurationError, match="models"):
        UniScaleLLM(models={}, prices=PRICES)
    with pytest.raises(us.MissingPriceError):
        UniScaleLLM(models={"a": scripted(), "c": scripted()}, prices=PRICES)
    router = us.Router([us.Arm("a", us.Single()), us.Arm("b", us.Single())], PRICES)
    with pytest.raises(us.ConfigurationError, match="not both"):
        UniScaleLLM(models={"a": scripted(), "b": scripted()}, router=router, prices=PRICES)
    with pytest.raises(us.MissingBackendError, match="'b'"):
        UniScaleLLM(models={"a": scripted()}, router=router)


def test_ready_router_is_used_and_gets_the_children(scripted) -> None:
    router = us.Router(us.ArmSpace.product(["a", "b"], [us.Single(), us.SelfConsistency()], [1, 3]),
                       PRICES, us.Tradeoff(willingness_to_pay=0.5), seed=3)
    llm = UniScaleLLM(models={"a": scripted(), "b": scripted()}, router=router)
    assert llm.router is router
    out = llm.complete("hi")
    assert router.stats["decisions"] == 1
    assert out.additional_kwargs["uniscale"]["arm"] in {a.key for a in router.arms}


def test_concurrent_async_calls_each_get_their_decision(scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted(), "b": scripted()}, prices=PRICES)

    async def many() -> list[CompletionResponse]:
        return list(await asyncio.gather(*(llm.acomplete(f"q{i}") for i in range(8))))

    outs = asyncio.run(many())
    ids = {o.additional_kwargs["uniscale"]["decision_id"] for o in outs}
    assert len(ids) == 8
    assert sum(llm.feedback(o, 0.5) for o in outs) == 8


def test_default_mock_function_calling_child_answers_plain_chat() -> None:
    llm = UniScaleLLM(models={"a": MockFunctionCallingLLM()}, prices=PRICES)
    out = llm.chat([ChatMessage(role="user", content="echo me")])
    assert out.message.content == "echo me"
