"""LangChain's standard unit suite for ChatUniScale, on scripted offline children."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel
from syrupy.assertion import SnapshotAssertion

import uniscale as us


def _params() -> dict[str, Any]:
    return {
        "models": {
            "small": ScriptedChatModel(model="small-1", responses=["The answer is 42."]),
            "large": ScriptedChatModel(model="large-1", model_provider="openai"),
        },
        "prices": {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)},
        "strategies": ["single", "self-consistency"],
        "n": [1, 3],
    }


class TestChatUniScaleUnit(ChatModelUnitTests):
    """Standard unit tests (``test_serdes``: see its override)."""

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
        return _params()

    @property
    def model_override_value(self) -> str:
        return "large"

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        path = "/nonexistent/uniscale-state.json"
        return {"UNISCALE_STATE_PATH": path}, _params(), {"state_path": path}

    @pytest.mark.xfail(
        reason="dumpd matches the snapshot, but load(allowed_objects='all') admits only "
        "the classes in langchain-core's own mapping, never a partner package's; "
        "ChatUniScale round-trips with allowed_objects=[ChatUniScale, ...] "
        "(test_lc_serde.py)", raises=ValueError, strict=True)
    def test_serdes(self, model: BaseChatModel, snapshot: SnapshotAssertion) -> None:
        super().test_serdes(model, snapshot)
