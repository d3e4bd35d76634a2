"""Real provider calls; skipped unless the API keys are set (never run offline)."""

from __future__ import annotations

import asyncio
import os

import pytest

import uniscale as us

pytestmark = pytest.mark.live

QUESTION = "What is 17 * 23? End with 'the answer is N'."


@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="needs OPENAI_API_KEY")
def test_openai_live_five_samples_and_stream():
    from uniscale.backends import OpenAIBackend

    model = os.environ.get("UNISCALE_OPENAI_SMALL", "gpt-4o-mini")
    backend = OpenAIBackend(model)
    price = us.Price(input=0.15, output=0.60, cached_input=0.075)
    router = us.Router([us.Arm("m", us.SelfConsistency(), 5)], {"m": price},
                       backends={"m": backend})
    result = router.invoke(QUESTION, max_tokens=200)
    assert len(result.samples) == 5 and result.usage.calls == 1
    assert result.cost == pytest.approx(price.cost(result.usage))
    stream = backend.stream(us.Request((us.Message("user", QUESTION),), max_tokens=200))
    assert "".join(stream) and stream.usage is not None and stream.usage.output_tokens > 0
    assert asyncio.run(router.ainvoke(QUESTION, max_tokens=200)).usage.calls == 1


@pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="needs ANTHROPIC_API_KEY")
def test_anthropic_live_five_samples_and_stream():
    from uniscale.backends import AnthropicBackend

    model = os.environ.get("UNISCALE_ANTHROPIC_SMALL", "claude-haiku-4-5")
    backend = AnthropicBackend(model, max_tokens=200)
    price = us.Price(input=1.0, output=5.0, cached_input=0.1, cache_write=1.25)
    router = us.Router([us.Arm("m", us.SelfConsistency(), 5)], {"m": price},
                       backends={"m": backend})
    result = router.invoke(QUESTION)
    assert len(result.samples) == 5 and result.usage.calls == 5
    assert result.cost == pytest.approx(price.cost(result.usage))
    stream = backend.stream(us.Request((us.Message("user", QUESTION),)))
    assert "".join(stream) and stream.usage is not None and stream.usage.output_tokens > 0
