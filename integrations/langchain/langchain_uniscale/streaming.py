"""Streaming a routed call: the chosen child's tokens, or a multi-sample answer as one chunk.

LangChain's public ``stream`` / ``astream`` call ``_stream`` without the run manager of
the router's run. :class:`~langchain_uniscale.ChatUniScale` therefore fixes the run id
of the stream beforehand (``config["run_id"]``) and leaves it with the call's config in a
context variable for the first step of the stream, so that the children's runs nest
under the router's run and feedback finds the decision by run id.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.utils.utils import LC_ID_PREFIX

from uniscale import AllSamplesFailedError, Decision, Result, Usage

from .backend import ChatModelBackend, PreparedCall
from .calls import CallPlan
from .convert import estimate_usage, message_to_chunk, usage_from_metadata
from .failures import provider_error
from .replies import StreamTally, clean_chunk, last_chunk
from .runs import parse_run_id

if TYPE_CHECKING:
    from .chat_models import ChatUniScale

__all__ = ["RoutedStream", "StreamRun", "StreamRunMixin", "astreamed_result", "stream_run",
           "stream_run_manager", "streamed_result"]


@dataclass(frozen=True)
class StreamRun:
    """The run id and config of a stream that ``ChatUniScale.stream`` started."""

    run_id: uuid.UUID
    config: RunnableConfig


_STREAM_RUN: ContextVar[StreamRun | None] = ContextVar("uniscale_stream_run", default=None)


def stream_run(config: RunnableConfig | None) -> tuple[StreamRun, RunnableConfig]:
    """The stream's run (its id fixed now) and the config to start it with."""
    full = ensure_config(config)
    run_id = full.get("run_id") or uuid.uuid4()
    full["run_id"] = run_id
    rest = cast("RunnableConfig", {k: v for k, v in full.items() if k != "run_id"})
    return StreamRun(run_id, rest), full


class started:
    """Within the block, ``_stream`` finds ``run`` (set for one step of the stream)."""

    def __init__(self, run: StreamRun) -> None:
        self.run = run
        self.token: Any = None

    def __enter__(self) -> None:
        self.token = _STREAM_RUN.set(self.run)

    def __exit__(self, *exc: object) -> None:
        _STREAM_RUN.reset(self.token)


def stream_run_manager() -> CallbackManagerForLLMRun | None:
    """A run manager standing for the router's run of the current stream (if any).

    It carries the stream's run id and the handlers, tags and metadata of its config;
    it only parents the children's runs (LangChain reports the router's run itself).
    """
    run = _STREAM_RUN.get()
    if run is None:
        return None
    config = run.config
    manager = CallbackManager.configure(config.get("callbacks"), None, False,
                                        config.get("tags"), None, config.get("metadata"))
    return CallbackManagerForLLMRun(
        run_id=run.run_id, handlers=manager.handlers,
        inheritable_handlers=manager.inheritable_handlers,
        parent_run_id=manager.parent_run_id, tags=manager.tags,
        inheritable_tags=manager.inheritable_tags, metadata=manager.metadata,
        inheritable_metadata=manager.inheritable_metadata)


class RoutedStream:
    """One streamed call: decide, stream the child (or run the arm), report usage.

    Args:
        chat: The router chat model.
        plan: The call's plan.
        run_manager: The router's run (or the one standing for it).
        async_api: Whether the stream is consumed with ``astream``.
    """

    def __init__(self, chat: ChatUniScale, plan: CallPlan, run_manager: Any, *,
                 async_api: bool) -> None:
        self.chat = chat
        self.router = chat._router
        self.plan = plan
        self.run_id: Any = getattr(run_manager, "run_id", None)
        self.parent_run_id: Any = getattr(run_manager, "parent_run_id", None)
        self.decision: Decision = plan.decide(self.router)
        self.backend: ChatModelBackend = chat._backends[self.decision.arm.model]
        self.streams = self.decision.arm.n == 1 and self.backend.streams(async_api=async_api)
        self.call: PreparedCall | None = None
        self.tally = StreamTally()
        self.held: ChatGenerationChunk | None = None
        self.sent = False

    # -- pieces shared by the sync and async paths --------------------------------------
    def _prepared(self) -> PreparedCall:
        strategy = self.decision.arm.strategy
        self.call = self.backend.prepare(strategy.request(self.plan.request, 1))
        return self.call

    def _take(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk | None:
        """Hold ``chunk`` back; return the one held before (the last chunk is rewritten)."""
        self.tally.add(chunk)
        out, self.held = self.held, clean_chunk(chunk)
        return out

    def _sent(self, chunk: ChatGenerationChunk) -> None:
        """After ``chunk`` was yielded (LangChain has given it the run's id)."""
        self.sent = True
        self.run_id = self.run_id or parse_run_id(chunk.message.id)

    def _usage(self) -> tuple[Usage, bool]:
        usage = usage_from_metadata(self.tally.usage)
        if usage is None:
            assert self.call is not None
            text = AIMessage(content="".join(self.tally.text))
            return estimate_usage(self.call.messages, text), True
        return usage, False

    def _broken(self) -> bool:
        """Report the failed child stream; True when a fallback arm serves the call."""
        usage = self._usage()[0] if self.tally.text or self.tally.usage else None
        nxt = self.router.report_failure(self.decision, usage=usage, fallback=not self.sent)
        if nxt is None:
            return False
        self.decision, self.streams = nxt, False
        return True

    def _last(self) -> ChatGenerationChunk:
        usage, estimated = self._usage()
        cost = self.router.observe(self.decision.id, usage, samples=1)
        reported = self.tally.child_model
        name = reported or self.chat._child_model_name(self.decision.arm.model)
        last = last_chunk(self.held, self.decision, cost, name, estimated,
                          self.chat.price_source(self.decision.arm.model))
        return self._recorded(last)

    def _whole(self, result: Result) -> ChatGenerationChunk:
        """A multi-sample (or fallback) answer as the single chunk of a stream."""
        return self._recorded(ChatGenerationChunk(message=message_to_chunk(
            self.chat._reply(result))))

    def _recorded(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        run_id = self.run_id or parse_run_id(chunk.message.id)
        self.chat._record(run_id, self.decision.id, self.parent_run_id)
        return chunk

    # -- sync -------------------------------------------------------------------------
    def run(self) -> Iterator[ChatGenerationChunk]:
        """The stream's chunks."""
        if self.streams:
            try:
                for chunk in self.backend.stream(self._prepared()):
                    out = self._take(chunk)
                    if out is not None:
                        yield out
                        self._sent(out)
            except Exception:
                if not self._broken():
                    raise
            else:
                yield self._last()
                return
        try:
            result = self.router.run(self.decision, self.plan.request)
        except AllSamplesFailedError as exc:
            raise provider_error(exc) from None
        yield self._whole(result)

    # -- async ------------------------------------------------------------------------
    async def arun(self) -> AsyncIterator[ChatGenerationChunk]:
        """The stream's chunks, asynchronously."""
        if self.streams:
            try:
                async for chunk in self.backend.astream(self._prepared()):
                    out = self._take(chunk)
                    if out is not None:
                        yield out
                        self._sent(out)
            except Exception:
                if not self._broken():
                    raise
            else:
                yield self._last()
                return
        try:
            result = await self.router.arun(self.decision, self.plan.request)
        except AllSamplesFailedError as exc:
            raise provider_error(exc) from None
        yield self._whole(result)


def _tagged(chunk: ChatGenerationChunk, run_id: Any) -> ChatGenerationChunk:
    if chunk.message.id is None:
        chunk.message.id = f"{LC_ID_PREFIX}-{run_id}"
    return chunk


def streamed_result(stream: RoutedStream, run_manager: CallbackManagerForLLMRun
                    ) -> ChatResult:
    """A streamed call as one result, each chunk reported as a new token of the run."""
    chunks = []
    for chunk in stream.run():
        run_manager.on_llm_new_token(str(chunk.message.content),
                                     chunk=_tagged(chunk, run_manager.run_id))
        chunks.append(chunk)
    return generate_from_stream(iter(chunks))


async def astreamed_result(stream: RoutedStream, run_manager: AsyncCallbackManagerForLLMRun
                           ) -> ChatResult:
    """Async form of :func:`streamed_result`."""
    chunks = []
    async for chunk in stream.arun():
        await run_manager.on_llm_new_token(str(chunk.message.content),
                                           chunk=_tagged(chunk, run_manager.run_id))
        chunks.append(chunk)
    return generate_from_stream(iter(chunks))


if TYPE_CHECKING:
    _Base = BaseChatModel
else:
    _Base = object


class StreamRunMixin(_Base):
    """LangChain's streaming entry points, keeping the router's run for the children.

    ``stream`` / ``astream`` fix the run id and leave the call's config for ``_stream``;
    inside ``invoke`` (``streaming=True``, ``astream_events``), ``_generate`` streams
    itself with its run manager instead of LangChain calling ``_stream`` without it.
    """

    def stream(self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
               stop: list[str] | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        """LangChain's ``stream``, with the run id fixed so that children nest under it."""
        run, full = stream_run(config)
        chunks = super().stream(input, full, stop=stop, **kwargs)
        with started(run):  # LangChain configures the run and calls _stream here
            first = next(chunks, None)
        if first is None:
            return
        yield first
        yield from chunks

    async def astream(self, input: LanguageModelInput, config: RunnableConfig | None = None,
                      *, stop: list[str] | None = None, **kwargs: Any
                      ) -> AsyncIterator[AIMessageChunk]:
        """LangChain's ``astream``, with the run id fixed so that children nest under it."""
        run, full = stream_run(config)
        chunks = super().astream(input, full, stop=stop, **kwargs).__aiter__()
        with started(run):
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                return
        yield first
        async for chunk in chunks:
            yield chunk

    def _should_stream(self, *, async_api: bool,
                       run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun
                       | None = None, **kwargs: Any) -> bool:
        """LangChain's choice, except inside a call: ``_generate`` then streams itself.

        LangChain calls ``_stream`` without the run manager; streaming from ``_generate``
        keeps it, so the children's runs nest under the router's run.
        """
        if run_manager is not None:
            return False
        return super()._should_stream(async_api=async_api, **kwargs)

    def _streams_inside(self, run_manager: Any, kwargs: dict[str, Any], *,
                        async_api: bool) -> bool:
        return run_manager is not None and super()._should_stream(
            async_api=async_api, run_manager=run_manager, **kwargs)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        chat = cast("ChatUniScale", self)
        manager = run_manager or stream_run_manager()
        plan = chat._plan(messages, stop, manager, kwargs)
        yield from RoutedStream(chat, plan, manager, async_api=False).run()

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        chat = cast("ChatUniScale", self)
        manager = run_manager or stream_run_manager()
        plan = chat._plan(messages, stop, manager, kwargs)
        async for chunk in RoutedStream(chat, plan, manager, async_api=True).arun():
            yield chunk
