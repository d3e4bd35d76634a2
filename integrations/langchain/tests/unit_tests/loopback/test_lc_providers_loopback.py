"""ChatOpenAI and ChatAnthropic, pointed at the loopback server, as children of ChatUniScale.

The real provider SDKs under LangChain talk HTTP to a server on 127.0.0.1; sockets to
any other host stay disabled.
"""

from __future__ import annotations

import pytest
from langchain_uniscale import ChatUniScale

import uniscale as us
from uniscale.testing.loopback import LoopbackServer

langchain_openai = pytest.importorskip("langchain_openai")
langchain_anthropic = pytest.importorskip("langchain_anthropic")


def _billed(server: LoopbackServer) -> tuple[int, int]:
    inputs = outputs = 0
    for u in server.usages:
        if "prompt_tokens" in u:
            inputs += u["prompt_tokens"]
            outputs += u["completion_tokens"]
        else:
            inputs += (u["input_tokens"] + u["cache_read_input_tokens"]
                       + u["cache_creation_input_tokens"])
            outputs += u["output_tokens"]
    return inputs, outputs


def _chat(server: LoopbackServer, strategies: list[us.Strategy], n: list[int]) -> ChatUniScale:
    return ChatUniScale(
        models={
            "gpt": langchain_openai.ChatOpenAI(model="gpt-loop", api_key="test-key",
                                               base_url=server.openai_url, max_retries=0),
            "claude": langchain_anthropic.ChatAnthropic(
                model="claude-loop", api_key="test-key", base_url=server.anthropic_url,
                max_retries=0),
        },
        prices={"gpt": us.Price(2.5, 10.0), "claude": us.Price(3.0, 15.0)},
        strategies=strategies,
        n=n,
    )


def test_chat_openai_and_chat_anthropic_as_children(server: LoopbackServer) -> None:
    chat = _chat(server, [us.Single()], [1])
    for model, api in (("gpt", "openai"), ("claude", "anthropic")):
        server.reset()
        reply = chat.invoke("What is 6 * 7?", model=model)
        assert reply.content == "The answer is 42."
        assert reply.response_metadata["model_name"] == f"{model}-loop"  # the child's model
        assert reply.response_metadata["uniscale"]["model"] == model
        assert {r.api for r in server.requests} == {api}
        arm = reply.response_metadata["uniscale"]["arm"]
        assert len(server.usages) >= 1
        inputs, outputs = _billed(server)
        assert reply.usage_metadata is not None
        assert (reply.usage_metadata["input_tokens"],
                reply.usage_metadata["output_tokens"]) == (inputs, outputs), arm
        assert chat.feedback(reply, score=1.0)

        server.reset()
        text = "".join(str(chunk.content) for chunk in chat.stream("What is 6 * 7?",
                                                                    model=model))
        assert text == "The answer is 42."
        assert {r.api for r in server.requests} == {api}


def test_multi_sample_arms_over_the_children(server: LoopbackServer) -> None:
    chat = _chat(server, [us.SelfConsistency()], [3])
    for model, api in (("gpt", "openai"), ("claude", "anthropic")):
        server.reset()
        reply = chat.invoke("What is 6 * 7?", model=model)
        assert reply.content == "The answer is 42."
        assert reply.response_metadata["uniscale"]["arm"] == f"{model}/sc/3"
        if api == "openai":  # ChatOpenAI's n: one request, the input paid once
            assert [(r.api, r.body.get("n")) for r in server.requests] == [(api, 3)]
        else:  # Anthropic has no n: one request per sample
            assert [r.api for r in server.requests] == [api] * 3
        assert reply.usage_metadata is not None
        assert (reply.usage_metadata["input_tokens"],
                reply.usage_metadata["output_tokens"]) == _billed(server)
