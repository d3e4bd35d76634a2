"""Content blocks reach the chosen child unchanged; children that refuse them are skipped."""

from __future__ import annotations

import base64

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_uniscale import ChatUniScale
from langchain_uniscale.modalities import needed_inputs
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us

PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
IMAGE = HumanMessage([{"type": "text", "text": "Describe this image."},
                      {"type": "image", "base64": PIXEL, "mime_type": "image/png"}])
PDF = HumanMessage([{"type": "text", "text": "Summarise."},
                    {"type": "file", "file": {"filename": "a.pdf",
                                              "file_data": "data:application/pdf;base64,JVBE"}}])


def _chat() -> tuple[ChatUniScale, ScriptedChatModel, ScriptedChatModel]:
    text = ScriptedChatModel(model="text-1", responses=["text"],
                             profile={"image_inputs": False, "pdf_inputs": False})
    vision = ScriptedChatModel(model="vision-1", responses=["a picture"],
                               profile={"image_inputs": True, "pdf_inputs": False})
    chat = ChatUniScale(models={"text": text, "vision": vision},
                        prices={"text": us.Price(0.01, 0.01), "vision": us.Price(5.0, 5.0)})
    return chat, text, vision


def test_the_inputs_a_call_needs() -> None:
    assert needed_inputs([IMAGE]) == {"image_inputs"}
    assert needed_inputs([PDF]) == {"pdf_inputs"}
    url = HumanMessage([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}])
    assert needed_inputs([url]) == {"image_inputs", "image_url_inputs"}
    tool = ToolMessage([{"type": "image", "base64": PIXEL, "mime_type": "image/png"}],
                       tool_call_id="1")
    assert needed_inputs([HumanMessage("hi"), AIMessage("x"), tool]) == {"image_tool_message"}
    assert needed_inputs([HumanMessage("plain text")]) == frozenset()


def test_images_go_only_to_a_child_that_takes_them_unchanged() -> None:
    chat, text, vision = _chat()
    for _ in range(6):  # the cheap text model would win without the image
        reply = chat.invoke([IMAGE])
        assert reply.response_metadata["uniscale"]["model"] == "vision"
    assert text.calls == []
    assert vision.calls[0][0].content == IMAGE.content  # the blocks as the user sent them
    assert chat.invoke("plain text").response_metadata["uniscale"]["model"] in {"text",
                                                                                "vision"}


def test_no_child_taking_the_input_is_a_clear_error() -> None:
    chat, _, _ = _chat()
    with pytest.raises(us.NoArmAllowedError, match="'text' takes no PDFs; 'vision' takes no"):
        chat.invoke([PDF])
    with pytest.raises(us.NoArmAllowedError, match="takes no images"):
        chat.invoke([IMAGE], model="text")


async def test_streams_and_async_calls_skip_refusing_children_too() -> None:
    chat, text, _ = _chat()
    chunks = [c async for c in chat.astream([IMAGE])]
    assert chunks[-1].response_metadata["uniscale"]["model"] == "vision"
    reply = await chat.ainvoke([IMAGE])
    assert reply.response_metadata["uniscale"]["model"] == "vision"
    assert text.calls == []
