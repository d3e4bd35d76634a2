"""LangChain's standard integration suite for ChatUniScale, offline on scripted children.

The children are :class:`~langchain_uniscale.testing.ScriptedChatModel`: they emit real
tool calls (``magic_function(input=3)``, structured-output schemas, ...), stream word by
word and report usage, so every routed path is exercised without a network.
"""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us


class TestChatUniScaleIntegration(ChatModelIntegrationTests):
    """Standard integration tests.

    Image, PDF and audio inputs are left unsupported (their tests skip): the router
    featurises text only, and those tests download files over HTTP.
    """

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # No api_key, timeout or max_retries: ChatUniScale makes no request of its own
        # (its children do, with theirs), and unknown arguments are refused.
        return {"temperature": 0, "max_tokens": 100, "stop": []}

    @property
    def chat_model_class(self) -> type[ChatUniScale]:
        return ChatUniScale

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "models": {
                "small": ScriptedChatModel(model="small-1", responses=["The answer is 42."]),
                "large": ScriptedChatModel(model="large-1", model_provider="openai"),
            },
            "prices": {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)},
            "strategies": [us.Single(), us.SelfConsistency()],
            "n": [1, 3],
        }

    @property
    def model_override_value(self) -> str:
        return "large"

    @property
    def supports_json_mode(self) -> bool:
        # ``with_structured_output(method="json_mode")`` is served through tool calling
        # (LangChain's base implementation), which every single-sample arm supports.
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        # Messages reach the chosen child unchanged, Anthropic content blocks included.
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        # Nothing goes over HTTP: the cassette stays empty and the stream runs offline.
        return True
