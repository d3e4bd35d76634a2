"""Request mapping, usage mapping and client set-up of the provider backends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import anthropic
import openai
import pytest

import uniscale as us
from uniscale.backends import AnthropicBackend, OpenAIBackend

TOOL_CALL = {"id": "call_1", "type": "function",
             "function": {"name": "add", "arguments": '{"a": 6, "b": 7}'}}
CONVERSATION = (
    us.Message("system", "You add numbers."),
    us.Message("user", "What is 6 + 7?"),
    us.Message("assistant", "", {"tool_calls": [TOOL_CALL]}),
    us.Message("tool", "13", {"tool_call_id": "call_1"}),
    us.Message("user", "And now say it in words."),
)


def test_openai_request_mapping(server, make_openai):
    backend = make_openai(params={"seed": 1})
    request = us.Request(CONVERSATION, temperature=0.2, stop=("END",), max_tokens=50,
                         options={"seed": 7, "top_p": 0.9, "vendor_flag": True})
    backend.complete(request)
    body = server.requests[0].body
    assert body["model"] == "gpt-loop"
    assert body["messages"] == [
        {"role": "system", "content": "You add numbers."},
        {"role": "user", "content": "What is 6 + 7?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "content": "13", "tool_call_id": "call_1"},
        {"role": "user", "content": "And now say it in words."},
    ]
    assert body["temperature"] == 0.2 and body["stop"] == ["END"]
    assert body["max_tokens"] == 50  # compatible servers take max_tokens
    assert body["seed"] == 7 and body["top_p"] == 0.9
    assert body["vendor_flag"] is True  # unknown options travel in extra_body
    assert "n" not in body


def test_openai_max_completion_tokens_on_the_official_api():
    backend = OpenAIBackend("gpt-4o-mini", api_key="test-key")  # no request is made
    assert backend.max_tokens_param == "max_completion_tokens"


def test_openai_usage_and_payload(server, make_openai):
    server.cached_tokens = 4
    server.reasoning_tokens = 2
    completion = make_openai().complete(us.Request(CONVERSATION[:2], n=2))
    usage = server.usages[0]
    assert completion.usage == us.Usage(
        usage["prompt_tokens"], usage["completion_tokens"], 4, 0, 4, calls=1)
    assert sum((s.usage for s in completion.samples), us.Usage()) == completion.usage
    payload = completion.samples[1].payload
    assert isinstance(payload, openai.types.chat.ChatCompletion)
    assert [c.index for c in payload.choices] == [1]


def test_anthropic_request_mapping(server, make_anthropic):
    backend = make_anthropic(max_tokens=99, send_temperature=True)
    request = us.Request(CONVERSATION, temperature=0.2, stop=("END",),
                         options={"metadata": {"user_id": "u1"}, "vendor_flag": 5})
    completion = backend.complete(request)
    body = server.requests[0].body
    assert body["model"] == "claude-loop" and body["max_tokens"] == 99
    assert body["system"] == [{"type": "text", "text": "You add numbers."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is 6 + 7?"}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_1", "name": "add", "input": {"a": 6, "b": 7}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "13"},
            {"type": "text", "text": "And now say it in words."}]},
    ]
    assert body["stop_sequences"] == ["END"] and body["temperature"] == 0.2
    assert body["metadata"] == {"user_id": "u1"} and body["vendor_flag"] == 5
    assert isinstance(completion.samples[0].payload, anthropic.types.Message)
    usage = server.usages[0]
    assert completion.usage == us.Usage(usage["input_tokens"], usage["output_tokens"], calls=1)


def test_anthropic_leaves_temperature_out_by_default(server, make_anthropic):
    # API version 2026-10-21 answers 400 to any temperature
    make_anthropic().complete(
        us.Request(CONVERSATION[:2], temperature=0.7))
    assert "temperature" not in server.requests[0].body


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_ready_clients_sync_and_async(server, provider):
    if provider == "openai":
        sync = openai.OpenAI(api_key="k", base_url=server.openai_url, max_retries=0)
        aio = openai.AsyncOpenAI(api_key="k", base_url=server.openai_url, max_retries=0)
        kind = OpenAIBackend
    else:
        sync = anthropic.Anthropic(api_key="k", base_url=server.anthropic_url, max_retries=0)
        aio = anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_url,
                                       max_retries=0)
        kind = AnthropicBackend
    request = us.Request(CONVERSATION[:2])
    both = kind("m", sync, async_client=aio)
    sync_only = kind("m", sync)
    async_only = kind("m", aio)
    assert isinstance(both, us.AsyncBackend)
    assert both.complete(request).samples[0].text == "The answer is 42."

    async def run():  # an async client lives on one event loop
        texts = [(await b.acomplete(request)).samples[0].text
                 for b in (both, sync_only, async_only)]  # sync_only: in a thread
        await aio.close()
        return texts

    assert asyncio.run(run()) == ["The answer is 42."] * 3
    with pytest.raises(us.ConfigurationError, match="async client"):
        async_only.complete(request)
    assert len(server.requests) == 4


def test_own_async_client_follows_the_event_loop(server, make_openai, make_anthropic):
    request = us.Request(CONVERSATION[:2])
    for backend in (make_openai(), make_anthropic()):
        for _ in range(2):  # two asyncio.run calls, two loops
            assert asyncio.run(backend.acomplete(request)).usage.calls == 1


@pytest.mark.parametrize(("module", "name", "extra"), [
    ("openai", "OpenAIBackend", "openai"), ("anthropic", "AnthropicBackend", "anthropic")])
def test_missing_sdk_names_the_extra(module, name, extra):
    code = textwrap.dedent(f"""
        import sys
        sys.modules[{module!r}] = None
        import uniscale.backends
        try:
            uniscale.backends.{name}
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("no ImportError")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert f"pip install 'uniscale[{extra}]'" in out


def test_more_samples_than_one_call_takes(server, make_openai, billed):
    from uniscale.testing.loopback import error

    backend = make_openai(max_samples_per_call=2, max_retries=0)
    completion = backend.complete(us.Request(CONVERSATION[:2], n=5))
    assert [r.body.get("n") for r in server.requests] == [2, 2, None]
    assert len(completion.samples) == 5 and completion.usage == billed("openai")
    server.reset()
    server.script("ok", error(500))  # the second call fails: the first one's samples stay
    completion = backend.complete(us.Request(CONVERSATION[:2], n=5))
    assert len(completion.samples) == 2 and completion.usage == billed("openai")
