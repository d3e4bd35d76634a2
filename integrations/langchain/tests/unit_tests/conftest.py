"""Unit tests of langchain-uniscale run with sockets off (loopback stays allowed elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel
from pytest_socket import disable_socket, enable_socket

import uniscale as us


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        enable_socket()


PRICES = {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)}


def _chat(strategies: list[us.Strategy] | None = None, n: list[int] | None = None,
          models: dict[str, BaseChatModel] | None = None, **settings: Any) -> ChatUniScale:
    children = models or {
        "small": ScriptedChatModel(model="small-v1", responses=["The answer is 42."]),
        "large": ScriptedChatModel(model="large-v1", model_provider="openai",
                                   responses=["The answer is 42, surely."]),
    }
    return ChatUniScale(models=children, prices={k: PRICES.get(k, us.Price(1.0, 1.0))
                                                 for k in children},
                        strategies=strategies, n=n, **settings)


@pytest.fixture
def make_chat() -> Callable[..., ChatUniScale]:
    """Factory of ChatUniScale over two scripted children ("small", "large")."""
    return _chat
