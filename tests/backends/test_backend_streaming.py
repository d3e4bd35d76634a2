"""Streaming (n = 1) on both providers, sync and async, with usage at the end."""

from __future__ import annotations

import asyncio

import pytest

import uniscale as us
from uniscale.backends import ProviderError, StreamInterruptedError
from uniscale.testing.loopback import error

REQUEST = us.Request((us.Message("system", "Be brief."), us.Message("user", "What is 6 * 7?")))


@pytest.fixture(params=["openai", "anthropic"])
def backend(request, make_openai, make_anthropic):
    return make_openai() if request.param == "openai" else make_anthropic()


def _api(backend):
    return backend.provider


def test_stream_yields_deltas_then_usage(server, backend, billed):
    seen = []
    stream = backend.stream(REQUEST, on_complete=seen.append)
    assert server.requests == []  # nothing is sent before the first step
    deltas = list(stream)
    assert len(deltas) > 1
    assert "".join(deltas) == stream.text == "The answer is 42."
    assert stream.completion is not None and seen == [stream.completion]
    assert stream.completion.samples[0].text == "The answer is 42."
    assert stream.usage == billed(_api(backend))
    assert stream.usage.output_tokens > 0 and stream.usage.calls == 1
    assert server.requests[0].body["stream"] is True
    if _api(backend) == "openai":
        assert server.requests[0].body["stream_options"] == {"include_usage": True}


def test_astream_yields_deltas_then_usage(server, backend, billed):
    async def run():
        stream = backend.astream(REQUEST)
        deltas = [d async for d in stream]
        return deltas, stream

    deltas, stream = asyncio.run(run())
    assert "".join(deltas) == "The answer is 42."
    assert stream.usage == billed(_api(backend))


def test_stream_dropped_midway_raises_interrupted(server, backend):
    server.script("drop")
    stream = backend.stream(REQUEST)
    with pytest.raises(StreamInterruptedError) as caught:
        for _ in stream:
            pass
    assert stream.completion is None  # never a half-finished completion
    assert caught.value.text == stream.text
    assert "The answer is 42.".startswith(stream.text)
    assert stream.text  # text arrived, so the call was billed: its usage is reported
    assert caught.value.usage.output_tokens > 0 and caught.value.usage.input_tokens > 0


def test_astream_dropped_midway_raises_interrupted(server, backend):
    server.script("drop")

    async def run():
        async for _ in backend.astream(REQUEST):
            pass

    with pytest.raises(StreamInterruptedError):
        asyncio.run(run())


def test_stream_that_cannot_start_raises_provider_error(server, backend):
    server.default = error(500, retry_after=0.01)
    with pytest.raises(ProviderError, match="HTTP 500") as caught:
        list(backend.stream(REQUEST))
    assert not isinstance(caught.value, StreamInterruptedError)
    assert len(server.requests) == 2  # the SDK retried once


def test_stream_is_for_one_sample(backend):
    with pytest.raises(us.ConfigurationError, match="one sample"):
        backend.stream(us.Request(REQUEST.messages, n=3))


def test_stream_can_be_closed_early(server, backend):
    with backend.stream(REQUEST) as stream:
        first = next(stream)
    assert first and stream.completion is None


def test_streamed_arm_is_accounted_by_the_router(server, backend, prices, billed):
    model = "gpt" if _api(backend) == "openai" else "claude"
    router = us.Router([us.Arm(model, us.Single()), us.Arm(model, us.SelfConsistency(), 3)],
                       prices, backends={model: backend})
    decision = router.decide("What is 6 * 7?", allowed=lambda arm: arm.n == 1)
    stream = backend.stream(us.Request((us.Message("user", "What is 6 * 7?"),)))
    assert "".join(stream) == "The answer is 42."
    cost = router.observe(decision.id, stream.usage)
    assert cost == pytest.approx(prices[model].cost(billed(_api(backend))))
    assert router.feedback(decision.id, score=1.0)
