"""A child that fails: fallback before anything was sent, a clear error after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us


class BrokenChatModel(BaseChatModel):
    """Fails every call; its stream breaks after ``chunks_before_failure`` chunks."""

    chunks_before_failure: int = 0

    @property
    def _llm_type(self) -> str:
        return "broken"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        raise ConnectionError("provider down")

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for i in range(self.chunks_before_failure):
            yield ChatGenerationChunk(message=AIMessageChunk(content=f"part{i} "))
        raise ConnectionError("stream dropped")


def make(broken: BaseChatModel) -> ChatUniScale:
    return ChatUniScale(
        models={"flaky": broken, "steady": ScriptedChatModel(model="steady", responses=["ok"])},
        prices={"flaky": us.Price(0.1, 0.1), "steady": us.Price(5.0, 5.0)},
        fallback=["steady"],
    )


def test_invoke_falls_back_and_failure_is_not_learned() -> None:
    chat = make(BrokenChatModel())
    reply = chat.invoke("hi", model="flaky")
    assert isinstance(reply, AIMessage) and reply.text == "ok"
    assert reply.response_metadata["model_name"] == "steady"
    assert chat.router.stats["failures"] == {"flaky/single/1": 1}
    assert chat.router.policy.updates == 0
    chat.feedback(reply, 1.0)
    assert chat.router.policy.counts[chat.router.policy.slot("steady/single/1")] == 1


def test_stream_failing_before_output_is_served_by_fallback() -> None:
    chat = make(BrokenChatModel(chunks_before_failure=1))  # first chunk is held back
    chunks = list(chat.stream("hi", model="flaky"))
    assert "".join(c.text for c in chunks) == "ok"
    assert chunks[-1].response_metadata["model_name"] == "steady"
    assert chat.router.stats["failures"] == {"flaky/single/1": 1}


async def test_stream_failing_after_output_raises_and_is_counted() -> None:
    chat = make(BrokenChatModel(chunks_before_failure=3))
    seen: list[str] = []
    with pytest.raises(ConnectionError, match="stream dropped"):
        async for chunk in chat.astream("hi", model="flaky"):
            seen.append(chunk.text)
    assert seen == ["part0 ", "part1 "]  # one chunk behind: the last one carries usage
    assert chat.router.stats["failures"] == {"flaky/single/1": 1}
    assert len(chat.router.pending) == 0 and chat.router.policy.updates == 0
    assert chat.router.pacer.spent > 0  # the tokens streamed before the drop are charged
