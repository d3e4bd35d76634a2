"""List prices from genai-prices for children without a given Price (offline database)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_uniscale import ChatUniScale
from langchain_uniscale.pricing import list_price
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us
from uniscale.testing.loopback import LoopbackServer

pytest.importorskip("genai_prices")
langchain_openai = pytest.importorskip("langchain_openai")
langchain_anthropic = pytest.importorskip("langchain_anthropic")


def _openai(server: LoopbackServer, model: str) -> Any:
    return langchain_openai.ChatOpenAI(model=model, api_key="test-key",
                                       base_url=server.openai_url, max_retries=0)


def test_a_known_model_gets_its_list_price_and_a_given_price_wins(
        server: LoopbackServer) -> None:
    given = us.Price(1.0, 2.0)
    claude = langchain_anthropic.ChatAnthropic(model="claude-3-5-haiku-latest",
                                               api_key="test-key", base_url=server.anthropic_url)
    chat = ChatUniScale(models={"mini": _openai(server, "gpt-4o-mini"), "haiku": claude,
                                "big": _openai(server, "gpt-4o")},
                        prices={"big": given})
    listed = chat.router.costs.price("mini")
    assert (listed.input, listed.output, listed.cached_input) == (0.15, 0.6, 0.075)
    assert chat.router.costs.price("haiku") == list_price("claude-3-5-haiku-latest",
                                                          "anthropic")
    assert chat.router.costs.price("big") == given  # not gpt-4o's list price
    reply = chat.invoke("hi", model="mini")
    info = reply.response_metadata["uniscale"]
    assert info["price_source"] == "genai-prices"
    billed = server.usages[0]
    expected = (billed["prompt_tokens"] * 0.15 + billed["completion_tokens"] * 0.6) / 1e6
    assert info["observed_cost"] == pytest.approx(expected)
    pinned = chat.invoke("hi", model="big")
    assert pinned.response_metadata["uniscale"]["price_source"] == "given"
    streamed = list(chat.stream("hi", model="mini"))
    assert streamed[-1].response_metadata["uniscale"]["price_source"] == "genai-prices"


def test_an_unknown_model_without_a_price_is_still_a_clear_error(
        server: LoopbackServer) -> None:
    with pytest.raises(us.MissingPriceError, match="'mystery' has no price"):
        ChatUniScale(models={"mini": _openai(server, "gpt-4o-mini"),
                             "mystery": ScriptedChatModel(model="house-model-7")})
    assert list_price("house-model-7") is None
