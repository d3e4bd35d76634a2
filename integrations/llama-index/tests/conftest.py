"""Offline doubles for the LlamaIndex integration tests: MockLLM-style scripted children."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.generic_utils import (
    completion_response_to_chat_response,
    messages_to_prompt,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.rate_limiter import TokenBucketRateLimiter
from llama_index.core.settings import Settings


class ScriptedLLM(CustomLLM):
    """A MockLLM-style child: answers from a list in turn and reports fixed token usage.

    ``usage=None`` reports nothing (like ``MockLLM``), so counts come from a tokenizer.
    """

    answers: list[str] = Field(default_factory=lambda: ["ok"])
    usage: tuple[int, int] | None = (10, 5)
    window: int = 4096
    label: str = "scripted"
    prompts: list[str] = Field(default_factory=list)
    kwargs_seen: list[dict[str, Any]] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "ScriptedLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.window, num_output=64, model_name=self.label)

    def _next(self, prompt: str, kwargs: dict[str, Any]) -> CompletionResponse:
        with self._lock:
            text = self.answers[len(self.prompts) % len(self.answers)]
            self.prompts.append(prompt)
            self.kwargs_seen.append(kwargs)
        raw = None
        if self.usage is not None:
            raw = {"usage": {"prompt_tokens": self.usage[0], "completion_tokens": self.usage[1]}}
        return CompletionResponse(text=text, raw=raw)

    def _chunks(self, prompt: str, kwargs: dict[str, Any]) -> list[CompletionResponse]:
        full = self._next(prompt, kwargs)
        words, chunks, text = full.text.split(" "), [], ""
        for i, word in enumerate(words):
            delta = word if i == 0 else " " + word
            text += delta
            raw = full.raw if i == len(words) - 1 else None
            chunks.append(CompletionResponse(text=text, delta=delta, raw=raw))
        return chunks

    # Every method emits its own events once, like a provider's LLM (CustomLLM's chat and
    # async defaults would emit twice: once themselves, once from the complete they call).
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._next(prompt, kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return (chunk for chunk in self._chunks(prompt, kwargs))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return self._next(prompt, kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        chunks = self._chunks(prompt, kwargs)

        async def gen() -> CompletionResponseAsyncGen:
            for chunk in chunks:
                yield chunk

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return completion_response_to_chat_response(
            self._next(messages_to_prompt(messages), kwargs))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        chunks = self._chunks(messages_to_prompt(messages), kwargs)
        return (ChatResponse(message=ChatMessage(role="assistant", content=c.text),
                             delta=c.delta, raw=c.raw) for c in chunks)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return completion_response_to_chat_response(
            self._next(messages_to_prompt(messages), kwargs))

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        chunks = self._chunks(messages_to_prompt(messages), kwargs)

        async def gen() -> ChatResponseAsyncGen:
            for chunk in chunks:
                yield ChatResponse(message=ChatMessage(role="assistant", content=chunk.text),
                                   delta=chunk.delta, raw=chunk.raw)

        return gen()


class CountingLimiter(TokenBucketRateLimiter):
    """LlamaIndex's token-bucket limiter, counting the permits it hands out."""

    _acquired: list[int] = PrivateAttr(default_factory=list)

    def acquire(self, num_tokens: int = 0) -> None:
        self._acquired.append(num_tokens)
        super().acquire(num_tokens)

    async def async_acquire(self, num_tokens: int = 0) -> None:
        self._acquired.append(num_tokens)
        await super().async_acquire(num_tokens)


def tool_script(tool: str, args: dict[str, Any]) -> Callable[..., ChatMessage]:
    """A response generator: call ``tool(**args)`` first, then state the tool's result."""

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        if any(m.role == "tool" for m in messages):
            return ChatMessage(role="assistant", content=f"The answer is {messages[-1].content}")
        if not kwargs.get("tools"):
            return ChatMessage(role="assistant", content="no tools given")
        return ChatMessage(role="assistant", blocks=[
            ToolCallBlock(tool_call_id="call-1", tool_name=tool, tool_kwargs=args)])

    return respond


class EventLog(BaseEventHandler):
    """Records every instrumentation event."""

    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventLog"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        """The recorded events of one type."""
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def scripted() -> type[ScriptedLLM]:
    return ScriptedLLM


@pytest.fixture
def limiter() -> type[CountingLimiter]:
    return CountingLimiter


@pytest.fixture
def tool_llm() -> Callable[..., MockFunctionCallingLLM]:
    def make(tool: str = "multiply", args: dict[str, Any] | None = None) -> MockFunctionCallingLLM:
        script = tool_script(tool, args or {"a": 6, "b": 7})
        return MockFunctionCallingLLM(response_generator=script)

    return make


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    log = EventLog()
    root = get_dispatcher()
    root.add_event_handler(log)
    try:
        yield log
    finally:
        root.event_handlers = [h for h in root.event_handlers if h is not log]


@pytest.fixture
def clean_settings() -> Iterator[None]:
    saved = (Settings._llm, Settings._callback_manager, Settings._embed_model)
    try:
        yield
    finally:
        Settings._llm, Settings._callback_manager, Settings._embed_model = saved
