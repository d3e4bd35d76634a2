"""A core :class:`uniscale.Backend` over one LangChain chat model.

The child is called through its public, traced interface (``generate`` / ``agenerate``
/ ``stream`` / ``astream``) as a run nested under the router's run: its rate limiter,
cache, own callbacks and LangSmith child run all work. Usage counters are withheld from
that run (see :mod:`langchain_uniscale.callbacks`): the router's reply reports the usage
of every sample once.

A child with a request-level ``n`` (``ChatOpenAI``) draws the samples of one arm in one
request, paying the input once. A server that refuses ``n`` (HTTP 400/422) or answers
with fewer choices is detected on the first such call: the missing samples are then
fetched as single requests and :attr:`ChatModelBackend.max_samples_per_call` drops to 1.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.callbacks import CallbackManager
from langchain_core.callbacks.manager import BaseRunManager
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.runnables import RunnableBinding

from uniscale import Completion, Request, Sample, Usage
from uniscale.backends.common import attempt, merge, split_usage, successes

from .callbacks import child_callbacks, usage_hooks_off
from .convert import estimate_usage, to_langchain_messages, usage_from_metadata, usage_to_metadata

__all__ = ["ChatModelBackend", "PreparedCall", "child_model_name", "native_samples"]

TOOLS = "tools"
TOOL_CHOICE = "tool_choice"
CHILD_KWARGS = "child_kwargs"
PARENT_RUN = "langchain_parent_run"
"""Key of :attr:`uniscale.Request.options` holding the router's run manager."""

NATIVE_N_LIMIT = 128
"""Largest ``n`` asked in one request of a child that has an ``n`` field (OpenAI's cap)."""


def native_samples(model: BaseChatModel) -> int:
    """How many samples one request of ``model`` can return.

    A chat model with a request-level ``n`` field (``ChatOpenAI``, ``AzureChatOpenAI``)
    returns up to :data:`NATIVE_N_LIMIT` choices per request, unless it streams
    internally (``streaming=True``), where LangChain keeps only the first choice.
    """
    if "n" not in type(model).model_fields or getattr(model, "streaming", False):
        return 1
    return NATIVE_N_LIMIT


def child_model_name(model: BaseChatModel) -> str | None:
    """The model name the child reports for tracing (``ls_model_name``), if any."""
    try:
        name = model._get_ls_params().get("ls_model_name")
    except Exception:  # a child whose tracing params need a call's arguments
        name = None
    if isinstance(name, str) and name:
        return name
    for field in ("model_name", "model"):
        value = getattr(model, field, None)
        if isinstance(value, str) and value:
            return value
    return None


def takes_tools(model: BaseChatModel) -> bool:
    """Whether ``model`` implements ``bind_tools`` (LangChain's base raises)."""
    return type(model).bind_tools is not BaseChatModel.bind_tools


class PreparedCall:
    """What one child call needs: the configured model, messages, stop and kwargs.

    Attributes:
        model: The child (a copy when the strategy set temperature or max_tokens).
        messages: LangChain messages to send.
        stop: Stop sequences.
        kwargs: Keyword arguments of the call (tools in the child's own format).
        callbacks: Callbacks of the child's run, nested under the router's run.
    """

    def __init__(self, model: BaseChatModel, messages: list[BaseMessage],
                 stop: list[str] | None, kwargs: dict[str, Any],
                 callbacks: CallbackManager | None = None) -> None:
        self.model = model
        self.messages = messages
        self.stop = stop
        self.kwargs = kwargs
        self.callbacks = callbacks


class ChatModelBackend:
    """Lets the router call a LangChain chat model.

    The child's ``AIMessage`` of each sample is kept in :attr:`uniscale.Sample.payload`,
    its ``usage_metadata`` becomes the sample's usage (estimated from characters when the
    child reports none; split across the samples of a multi-sample request).

    Args:
        name: The model's key in ``ChatUniScale.models``.
        model: The child chat model.
    """

    def __init__(self, name: str, model: BaseChatModel) -> None:
        self.name = name
        self.model = model
        self.max_samples_per_call = native_samples(model)
        self.model_name = child_model_name(model)
        self.takes_tools = takes_tools(model)
        self._copies: dict[tuple[Any, Any], BaseChatModel] = {}
        self._lock = threading.Lock()

    # -- preparing a call -------------------------------------------------------------
    def _configured(self, temperature: float | None, max_tokens: int | None) -> BaseChatModel:
        """The child with the strategy's temperature and the token cap, where it has them.

        The copy shares the child's rate limiter, cache and callbacks.
        """
        fields = type(self.model).model_fields
        update: dict[str, Any] = {}
        if temperature is not None and "temperature" in fields:
            update["temperature"] = temperature
        if max_tokens is not None and "max_tokens" in fields:
            update["max_tokens"] = max_tokens
        if not update:
            return self.model
        key = (update.get("temperature"), update.get("max_tokens"))
        with self._lock:
            if key not in self._copies:
                self._copies[key] = self.model.model_copy(update=update)
            return self._copies[key]

    @staticmethod
    def _tool_kwargs(model: BaseChatModel, tools: Sequence[Any], tool_choice: Any
                     ) -> dict[str, Any]:
        """The kwargs the child's own ``bind_tools`` produces for ``tools``."""
        try:
            bound = (model.bind_tools(tools, tool_choice=tool_choice) if tool_choice
                     is not None else model.bind_tools(tools))
        except NotImplementedError as exc:
            raise NotImplementedError(
                f"child model {type(model).__name__} does not implement bind_tools, so it "
                "cannot be routed a request with tools"
            ) from exc
        if isinstance(bound, RunnableBinding):
            return dict(bound.kwargs)
        out: dict[str, Any] = {TOOLS: list(tools)}
        if tool_choice is not None:
            out[TOOL_CHOICE] = tool_choice
        return out

    def prepare(self, request: Request) -> PreparedCall:
        """Turn a core request into a child call.

        Args:
            request: The request of one call; ``options`` may hold ``tools``,
                ``tool_choice``, ``child_kwargs`` (further keyword arguments) and the
                router's run manager.

        Returns:
            The prepared call.
        """
        options: Mapping[str, Any] = request.options
        model = self._configured(request.temperature, request.max_tokens)
        kwargs: dict[str, Any] = dict(options.get(CHILD_KWARGS) or {})
        tools = options.get(TOOLS)
        if tools:
            kwargs.update(self._tool_kwargs(model, tools, options.get(TOOL_CHOICE)))
        stop = list(request.stop) if request.stop else None
        parent = options.get(PARENT_RUN)
        callbacks = child_callbacks(parent if isinstance(parent, BaseRunManager) else None)
        return PreparedCall(model, to_langchain_messages(request.messages), stop, kwargs,
                            callbacks)

    # -- results ----------------------------------------------------------------------
    @staticmethod
    def _completion(call: PreparedCall, result: LLMResult) -> Completion:
        messages: list[AIMessage] = []
        for generation in result.generations[0]:
            message = generation.message if isinstance(generation, ChatGeneration) else None
            if not isinstance(message, AIMessage):
                message = AIMessage(content=generation.text)
            messages.append(message)
        if len(messages) > 1:
            return ChatModelBackend._shared(call, messages)
        samples = []
        for message in messages:
            usage = usage_from_metadata(message.usage_metadata) or estimate_usage(
                call.messages, message)
            samples.append(Sample(message.text, usage, message))
        return Completion(tuple(samples), sum((s.usage for s in samples), Usage()))

    @staticmethod
    def _shared(call: PreparedCall, messages: list[AIMessage]) -> Completion:
        """Samples of one multi-choice request: its usage split across the choices.

        LangChain's OpenAI model puts the usage of the whole request on every choice.
        """
        reported = [m.usage_metadata for m in messages]
        if reported[0] and all(r == reported[0] for r in reported):
            total = usage_from_metadata(reported[0]) or Usage()
        else:
            total = Usage(calls=1)
            for message in messages:
                used = usage_from_metadata(message.usage_metadata) or estimate_usage(
                    call.messages, message)
                total = total + Usage(used.input_tokens, used.output_tokens,
                                      used.cached_input_tokens, used.cache_write_tokens,
                                      used.reasoning_tokens)
        shares = split_usage(total, [len(m.text) for m in messages])
        samples = tuple(
            Sample(m.text, share, m.model_copy(update={"usage_metadata":
                                                       usage_to_metadata(share)}))
            for m, share in zip(messages, shares, strict=True))
        return Completion(samples, total)

    @staticmethod
    def _kwargs(call: PreparedCall, n: int) -> dict[str, Any]:
        kwargs = dict(call.kwargs)
        if n > 1:  # every choice in one non-streamed request
            kwargs.update(n=n, stream=False)
        return kwargs

    @staticmethod
    def _refuses_n(exc: BaseException) -> bool:
        return getattr(exc, "status_code", None) in (400, 422)

    # -- calling ----------------------------------------------------------------------
    def _call(self, call: PreparedCall, n: int) -> Completion:
        with usage_hooks_off():
            result = call.model.generate([call.messages], stop=call.stop,
                                         callbacks=call.callbacks, **self._kwargs(call, n))
        return self._completion(call, result)

    def _singles(self, call: PreparedCall, n: int) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=n) as pool:
            outcomes = list(pool.map(lambda _: attempt(self._call, call, 1), range(n)))
        return successes(outcomes)

    def complete(self, request: Request) -> Completion:
        """Generate ``request.n`` samples, in one request where the child takes ``n``."""
        call = self.prepare(request)
        n = request.n
        if n <= 1:
            return self._call(call, 1)
        if self.max_samples_per_call == 1:
            return merge(self._singles(call, n))
        try:
            part = self._call(call, n)
        except Exception as exc:
            if not self._refuses_n(exc):
                raise
            self.max_samples_per_call = 1  # the server refuses n, not the request
            return merge(self._singles(call, n))
        missing = n - len(part.samples)
        if missing <= 0:
            return part
        self.max_samples_per_call = 1  # the server ignored n
        try:
            return merge([part, *self._singles(call, missing)])
        except Exception:  # keep the samples already paid for
            return part

    async def _acall(self, call: PreparedCall, n: int) -> Completion:
        with usage_hooks_off():
            result = await call.model.agenerate([call.messages], stop=call.stop,
                                                callbacks=call.callbacks,
                                                **self._kwargs(call, n))
        return self._completion(call, result)

    async def _asingles(self, call: PreparedCall, n: int) -> list[Completion]:
        import asyncio

        outcomes = await asyncio.gather(*(self._acall(call, 1) for _ in range(n)),
                                        return_exceptions=True)
        return successes([o if isinstance(o, (Completion, Exception)) else
                          RuntimeError(repr(o)) for o in outcomes])

    async def acomplete(self, request: Request) -> Completion:
        """Async form of :meth:`complete`."""
        call = self.prepare(request)
        n = request.n
        if n <= 1:
            return await self._acall(call, 1)
        if self.max_samples_per_call == 1:
            return merge(await self._asingles(call, n))
        try:
            part = await self._acall(call, n)
        except Exception as exc:
            if not self._refuses_n(exc):
                raise
            self.max_samples_per_call = 1
            return merge(await self._asingles(call, n))
        missing = n - len(part.samples)
        if missing <= 0:
            return part
        self.max_samples_per_call = 1
        try:
            return merge([part, *await self._asingles(call, missing)])
        except Exception:
            return part

    # -- streaming --------------------------------------------------------------------
    def streams(self, *, async_api: bool) -> bool:
        """Whether the child implements token streaming (for the given API)."""
        cls = type(self.model)
        sync = cls._stream is not BaseChatModel._stream
        if not async_api:
            return sync
        return sync or cls._astream is not BaseChatModel._astream

    @staticmethod
    def stream(call: PreparedCall) -> Iterator[ChatGenerationChunk]:
        """The child's public ``stream``, as generation chunks."""
        chunks = iter(call.model.stream(call.messages, {"callbacks": call.callbacks},
                                        stop=call.stop, **call.kwargs))
        with usage_hooks_off():  # the child's run is configured on the first step
            first = next(chunks, None)
        if first is None:
            return
        yield ChatGenerationChunk(message=first)
        for chunk in chunks:
            yield ChatGenerationChunk(message=chunk)

    @staticmethod
    async def astream(call: PreparedCall) -> AsyncIterator[ChatGenerationChunk]:
        """The child's public ``astream``, as generation chunks."""
        chunks = call.model.astream(call.messages, {"callbacks": call.callbacks},
                                    stop=call.stop, **call.kwargs).__aiter__()
        with usage_hooks_off():
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                return
        yield ChatGenerationChunk(message=first)
        async for chunk in chunks:
            yield ChatGenerationChunk(message=chunk)
