"""A 5-sample self-consistency arm through Router.invoke / ainvoke on both providers.

OpenAI: one HTTP request with ``n=5``. Anthropic: five concurrent requests. In both the
reported cost equals the usage the server billed times the configured prices.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import uniscale as us

VOTES = ["The answer is 42.", "The answer is 41.", "The answer is 42.",
         "I think 43.", "So the answer is 42."]


def _invoke(router: us.Router, mode: str, prompt: str) -> us.Result:
    if mode == "sync":
        return router.invoke(prompt)
    return asyncio.run(router.ainvoke(prompt))


def _expected_cost(price: us.Price, usage: us.Usage) -> float:
    plain = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens
    cached = price.input if price.cached_input is None else price.cached_input
    written = price.input if price.cache_write is None else price.cache_write
    return (plain * price.input + usage.cached_input_tokens * cached
            + usage.cache_write_tokens * written + usage.output_tokens * price.output) / 1e6


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_openai_five_samples_are_one_request_with_n(server, make_openai, prices, billed, mode):
    server.reply = lambda prompt, i: VOTES[i % 5]
    server.cached_tokens = 8
    server.reasoning_tokens = 3
    arm = us.Arm("gpt", us.SelfConsistency(), 5)
    router = us.Router([arm], prices, backends={"gpt": make_openai()})

    result = _invoke(router, mode, "What is 6 * 7? Think it through and give the number. " * 4)

    calls = server.calls("openai")
    assert len(calls) == 1
    assert calls[0].body["n"] == 5
    assert calls[0].body["temperature"] == 0.7
    assert len(result.samples) == 5
    assert result.answer == "42"
    usage = billed("openai")
    assert usage.calls == 1 and usage.cached_input_tokens == 8 and usage.reasoning_tokens == 15
    assert result.usage == usage
    assert sum((s.usage for s in result.samples), us.Usage()) == usage
    assert result.cost == pytest.approx(_expected_cost(prices["gpt"], usage), rel=1e-12)
    assert result.cost > 0
    assert router.costs.samples_per_call["gpt"] == 128  # the cost model pays input once


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_anthropic_five_samples_are_five_concurrent_requests(
        server, make_anthropic, prices, billed, mode):
    server.reply = lambda prompt, i: VOTES[i % 5]
    server.gate = threading.Barrier(5, timeout=10)  # answers only once all 5 are in flight
    arm = us.Arm("claude", us.SelfConsistency(), 5)
    router = us.Router([arm], prices, backends={"claude": make_anthropic()})

    result = _invoke(router, mode, "What is 6 * 7? Give the number.")

    calls = server.calls("anthropic")
    assert len(calls) == 5
    assert server.max_in_flight == 5
    assert not server.gate.broken
    assert all("temperature" not in c.body for c in calls)  # rejected by 2026-10-21
    assert len(result.samples) == 5
    assert result.answer == "42"
    usage = billed("anthropic")
    assert usage.calls == 5
    assert result.usage == usage
    assert result.cost == pytest.approx(_expected_cost(prices["claude"], usage), rel=1e-12)
    assert router.costs.samples_per_call["claude"] == 1  # every sample pays the input


def test_anthropic_prompt_cache_writes_once_and_reads_four_times(
        server, make_anthropic, prices, billed):
    server.cache_min_tokens = 100
    backend = make_anthropic(prompt_cache=True, min_cache_tokens=100)
    arm = us.Arm("claude", us.SelfConsistency(), 5)
    router = us.Router([arm], prices, backends={"claude": backend})
    prompt = "Here is a long shared context. " * 60 + "What is 6 * 7?"

    result = router.invoke(prompt)

    usage = billed("anthropic")
    writes = [u for u in server.usages if u["cache_creation_input_tokens"]]
    reads = [u for u in server.usages if u["cache_read_input_tokens"]]
    assert len(writes) == 1 and len(reads) == 4
    assert all("cache_control" in c.body["messages"][-1]["content"][-1]
               for c in server.calls("anthropic"))
    assert result.usage == usage
    assert result.cost == pytest.approx(_expected_cost(prices["claude"], usage), rel=1e-12)
    uncached = prices["claude"].cost(us.Usage(usage.input_tokens, usage.output_tokens))
    assert result.cost < 0.5 * uncached


def test_short_prompts_are_not_marked_for_caching(server, make_anthropic):
    backend = make_anthropic(prompt_cache=True)  # default min_cache_tokens=1024
    backend.complete(us.Request((us.Message("system", "Be brief."), us.Message("user", "Hi"))))
    body = server.calls("anthropic")[0].body
    assert "cache_control" not in body["system"][-1]
    assert "cache_control" not in body["messages"][-1]["content"][-1]
