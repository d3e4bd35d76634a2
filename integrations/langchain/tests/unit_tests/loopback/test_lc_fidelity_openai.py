"""A child ChatOpenAI behaves as configured: limiter, callbacks, n, model name, errors.

The real ``ChatOpenAI`` (and the ``openai`` SDK under it) talks HTTP to the loopback
server on 127.0.0.1; LangChain's real ``InMemoryRateLimiter``, usage callback and
``with_retry`` are used as a user would.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.messages import HumanMessage
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_uniscale import ChatUniScale

import uniscale as us
from uniscale.testing.loopback import LoopbackServer, error

langchain_openai = pytest.importorskip("langchain_openai")
openai = pytest.importorskip("openai")


class GatedLimiter(InMemoryRateLimiter):
    """LangChain's limiter, noting how many HTTP requests had arrived at each acquire."""

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(requests_per_second=200, check_every_n_seconds=0.001,
                         max_bucket_size=1)
        self.server = server
        self.seen: list[int] = []

    def acquire(self, *, blocking: bool = True) -> bool:
        granted = super().acquire(blocking=blocking)
        self.seen.append(len(self.server.requests))
        return granted


class ChildRuns(BaseCallbackHandler):
    """Parents of the chat-model runs it sees, and how many ended."""

    def __init__(self) -> None:
        self.parents: list[Any] = []
        self.ended = 0

    def on_chat_model_start(self, *args: Any, parent_run_id: Any = None, **kwargs: Any
                            ) -> None:
        self.parents.append(parent_run_id)

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self.ended += 1


def _openai(server: LoopbackServer, model: str = "gpt-4o-mini", **settings: Any) -> Any:
    return langchain_openai.ChatOpenAI(model=model, api_key="test-key",
                                       base_url=server.openai_url, max_retries=0, **settings)


def _billed(server: LoopbackServer) -> dict[str, int]:
    inputs = sum(u["prompt_tokens"] for u in server.usages)
    outputs = sum(u["completion_tokens"] for u in server.usages)
    return {"input_tokens": inputs, "output_tokens": outputs, "total_tokens": inputs + outputs}


def test_a_five_sample_arm_is_one_request_paced_traced_and_counted_once(
        server: LoopbackServer) -> None:
    limiter, runs = GatedLimiter(server), ChildRuns()
    child = _openai(server, rate_limiter=limiter, callbacks=[runs])
    chat = ChatUniScale(models={"mini": child}, prices={"mini": us.Price(0.15, 0.6)},
                        strategies=["self-consistency"], n=[5])
    roots = [uuid.uuid4() for _ in range(3)]
    with get_usage_metadata_callback() as usage:
        replies = [chat.invoke(f"What is 6 * {7 + i}?", config={"run_id": root})
                   for i, root in enumerate(roots)]
    assert [(r.api, r.body.get("n")) for r in server.requests] == [("openai", 5)] * 3
    assert limiter.seen == [0, 1, 2]  # every request waited for the child's limiter
    assert runs.parents == roots and runs.ended == 3  # the child's callbacks, nested
    billed = _billed(server)
    assert {k: usage.usage_metadata["gpt-4o-mini"][k] for k in billed} == billed  # once
    assert set(usage.usage_metadata) == {"gpt-4o-mini"}
    for reply in replies:
        assert reply.response_metadata["model_name"] == "gpt-4o-mini"
        info = reply.response_metadata["uniscale"]
        assert (info["model"], info["arm"], info["samples"]) == ("mini", "mini/sc/5", 5)
    total = sum(r.usage_metadata["total_tokens"] for r in replies if r.usage_metadata)
    assert total == billed["total_tokens"]


def test_the_cost_model_knows_the_input_is_paid_once(server: LoopbackServer) -> None:
    chat = ChatUniScale(models={"mini": _openai(server)}, prices={"mini": us.Price(1.0, 0.0)},
                        strategies=["self-consistency"], n=[5])
    decision = chat.router.decide("What is 6 * 7?")
    assert chat.router.costs.calls(decision.arm) == 1
    expected = decision.input_tokens * 1.0 / 1e6  # output is free: input once, not 5x
    assert decision.predicted_cost == pytest.approx(expected)


def test_a_server_refusing_n_gets_single_requests_from_then_on() -> None:
    with LoopbackServer(accept_n=False) as server:
        chat = ChatUniScale(models={"mini": _openai(server)},
                            prices={"mini": us.Price(0.15, 0.6)},
                            strategies=["self-consistency"], n=[3])
        reply = chat.invoke("What is 6 * 7?")
        assert reply.response_metadata["uniscale"]["samples"] == 3
        assert [r.body.get("n") for r in server.requests] == [3, None, None, None]
        server.reset()
        chat.invoke("What is 6 * 8?")
        assert [r.body.get("n") for r in server.requests] == [None, None, None]
        arm = us.Arm("mini", us.SelfConsistency(), 3)
        assert chat.router.costs.calls(arm) == 3


def test_a_429_from_every_arm_is_the_provider_error(server: LoopbackServer) -> None:
    chat = ChatUniScale(models={"mini": _openai(server), "big": _openai(server, "gpt-4o")},
                        prices={"mini": us.Price(0.15, 0.6), "big": us.Price(2.5, 10.0)},
                        fallback=["big"])
    server.script(error(429), error(429))
    with pytest.raises(openai.RateLimitError) as caught:
        chat.invoke("hi", model="mini")
    assert [r.body["model"] for r in server.requests] == ["gpt-4o-mini", "gpt-4o"]
    notes = getattr(caught.value, "__notes__", [])
    assert any("uniscale: every arm failed" in note and "mini/single/1" in note
               for note in notes)
    assert isinstance(caught.value.uniscale_error, us.AllSamplesFailedError)
    assert chat.router.policy.updates == 0  # a failure is not learned as a score


def test_with_retry_on_rate_limit_errors_retries_the_router(server: LoopbackServer) -> None:
    chat = ChatUniScale(models={"mini": _openai(server)}, prices={"mini": us.Price(0.15, 0.6)})
    retrying = chat.with_retry(retry_if_exception_type=(openai.RateLimitError,),
                               stop_after_attempt=2, wait_exponential_jitter=False)
    server.script(error(429), "ok")
    reply = retrying.invoke("hi")
    assert reply.text == "The answer is 42."
    assert len(server.requests) == 2
    assert chat.router.stats["failures"] == {"mini/single/1": 1}


async def test_async_and_streamed_calls_keep_the_provider_error(
        server: LoopbackServer) -> None:
    chat = ChatUniScale(models={"mini": _openai(server)}, prices={"mini": us.Price(0.15, 0.6)},
                        strategies=["self-consistency"], n=[3])
    server.script(error(429))
    with pytest.raises(openai.RateLimitError):
        await chat.ainvoke("hi")
    server.script(error(429))
    with pytest.raises(openai.RateLimitError):
        async for _ in chat.astream("hi"):
            pass
    single = ChatUniScale(models={"mini": _openai(server)},
                          prices={"mini": us.Price(0.15, 0.6)})
    server.script(error(429))
    with pytest.raises(openai.RateLimitError):
        list(single.stream("hi"))


async def test_async_five_samples_are_one_request(server: LoopbackServer) -> None:
    chat = ChatUniScale(models={"mini": _openai(server)}, prices={"mini": us.Price(0.15, 0.6)},
                        strategies=["self-consistency"], n=[5])
    with get_usage_metadata_callback() as usage:
        reply = await chat.ainvoke("What is 6 * 7?")
    assert [r.body.get("n") for r in server.requests] == [5]
    assert reply.response_metadata["model_name"] == "gpt-4o-mini"
    billed = _billed(server)
    assert {k: usage.usage_metadata["gpt-4o-mini"][k] for k in billed} == billed


def test_streaming_a_single_arm_nests_the_child_and_counts_once(
        server: LoopbackServer) -> None:
    runs = ChildRuns()
    chat = ChatUniScale(models={"mini": _openai(server, callbacks=[runs],
                                                stream_usage=True)},
                        prices={"mini": us.Price(0.15, 0.6)})
    root = uuid.uuid4()
    with get_usage_metadata_callback() as usage:
        chunks = list(chat.stream("hi", config={"run_id": root}))
    assert "".join(c.text for c in chunks) == "The answer is 42."
    assert runs.parents == [root]
    assert chunks[-1].response_metadata["model_name"] == "gpt-4o-mini"
    billed = _billed(server)
    assert {k: usage.usage_metadata["gpt-4o-mini"][k] for k in billed} == billed
    assert chat.feedback(root, 1.0) is True


def test_an_image_reaches_chat_openai_and_audio_is_refused_by_its_profile(
        server: LoopbackServer) -> None:
    chat = ChatUniScale(models={"mini": _openai(server)}, prices={"mini": us.Price(0.15, 0.6)})
    image = {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}
    reply = chat.invoke([HumanMessage([{"type": "text", "text": "What is this?"}, image])])
    assert reply.text == "The answer is 42."
    (part,) = [p for p in server.requests[0].body["messages"][0]["content"]
               if p.get("type") == "image_url"]
    assert part["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    audio = {"type": "audio", "base64": "UklGRg==", "mime_type": "audio/wav"}
    with pytest.raises(us.NoArmAllowedError, match="'mini' takes no audio"):
        chat.invoke([HumanMessage([{"type": "text", "text": "Transcribe."}, audio])])
    assert len(server.requests) == 1
