"""Fixtures of the provider backend tests: a loopback server and clients pointed at it.

The real ``openai`` and ``anthropic`` SDKs talk HTTP to a server on 127.0.0.1; nothing
reaches the internet and no SDK internals are patched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import uniscale as us
from uniscale.testing.loopback import LoopbackServer

pytest.importorskip("openai")
pytest.importorskip("anthropic")

from uniscale.backends import AnthropicBackend, OpenAIBackend

_PRICES = {
    "gpt": us.Price(input=2.5, output=10.0, cached_input=1.25),
    "claude": us.Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75),
    "backup": us.Price(input=0.15, output=0.6),
}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback server speaking the Chat Completions and Messages APIs."""
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def prices() -> dict[str, us.Price]:
    """Prices of the loopback models (with prompt-cache prices)."""
    return dict(_PRICES)


@pytest.fixture
def make_openai(server: LoopbackServer) -> Callable[..., OpenAIBackend]:
    """Factory of OpenAIBackends on the loopback server (short timeout, one SDK retry)."""

    def make(**options: Any) -> OpenAIBackend:
        options.setdefault("timeout", 2.0)
        options.setdefault("max_retries", 1)
        return OpenAIBackend("gpt-loop", api_key="test-key", base_url=server.openai_url,
                             **options)

    return make


@pytest.fixture
def make_anthropic(server: LoopbackServer) -> Callable[..., AnthropicBackend]:
    """Factory of AnthropicBackends on the loopback server (short timeout, one SDK retry)."""

    def make(**options: Any) -> AnthropicBackend:
        options.setdefault("timeout", 2.0)
        options.setdefault("max_retries", 1)
        return AnthropicBackend("claude-loop", api_key="test-key",
                                base_url=server.anthropic_url, **options)

    return make


@pytest.fixture
def billed(server: LoopbackServer) -> Callable[[str], us.Usage]:
    """What the server billed per API, as uniscale usage (from the JSON it sent)."""
    return lambda api: _billed(server, api)


def _billed(server: LoopbackServer, api: str) -> us.Usage:
    total = us.Usage()
    for u in server.usages:
        if api == "openai" and "prompt_tokens" in u:
            total = total + us.Usage(
                u["prompt_tokens"], u["completion_tokens"],
                u["prompt_tokens_details"]["cached_tokens"], 0,
                u["completion_tokens_details"]["reasoning_tokens"], 1)
        elif api == "anthropic" and "cache_read_input_tokens" in u:
            read, written = u["cache_read_input_tokens"], u["cache_creation_input_tokens"]
            total = total + us.Usage(u["input_tokens"] + read + written, u["output_tokens"],
                                     read, written, 0, 1)
    return total
