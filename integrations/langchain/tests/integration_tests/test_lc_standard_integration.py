"""LangChain's standard integration suite for ChatUniScale, offline on scripted children.

The children are :class:`~langchain_uniscale.testing.ScriptedChatModel`: they emit real
tool calls (``magic_function(input=3)``, structured-output schemas, ...), stream word by
word and report usage, so every routed path is exercised without a network.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib
from typing import Any

import httpx
import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def _media(url: str, **kwargs: Any) -> httpx.Response:
    """Small valid files for the media the suite would download (it never goes online)."""
    if url.endswith(".pdf"):
        body = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages"
                b"/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    elif url.endswith(".wav"):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\x00\x00" * 80)
        body = buffer.getvalue()
    else:  # a 1x1 PNG
        header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
        body = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
                + _png_chunk(b"IEND", b""))
    return httpx.Response(200, content=body, request=httpx.Request("GET", url))


@pytest.fixture(autouse=True)
def _offline_media(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx, "get", _media)


class TestChatUniScaleIntegration(ChatModelIntegrationTests):
    """Standard integration tests.

    The image, PDF and audio tests run: content blocks reach the chosen child unchanged
    (the scripted children take every input). The files those tests download are served
    by :func:`_media` instead, so that nothing goes online.
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
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        # Nothing goes over HTTP: the cassette stays empty and the stream runs offline.
        return True
