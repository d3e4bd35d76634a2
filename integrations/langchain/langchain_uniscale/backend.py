"""A core :class:`uniscale.Backend` over one LangChain chat model.

The backend calls the child's own ``_generate`` / ``_agenerate`` / ``_stream``, never
``invoke``: the child then opens no callback run of its own, so its tokens are reported
once, by the router's run, instead of twice.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableBinding

from uniscale import Completion, Request, Sample

from .convert import estimate_usage, to_langchain_messages, usage_from_metadata

__all__ = ["ChatModelBackend", "PreparedCall"]

TOOLS = "tools"
TOOL_CHOICE = "tool_choice"
CHILD_KWARGS = "child_kwargs"


class PreparedCall:
    """What one child call needs: the configured model, messages, stop and kwargs.

    Attributes:
        model: The child (a copy when the strategy set temperature or max_tokens).
        messages: LangChain messages to send.
        stop: Stop sequences.
        kwargs: Keyword arguments for ``_generate`` (tools in the child's own format).
    """

    def __init__(self, model: BaseChatModel, messages: list[BaseMessage],
                 stop: list[str] | None, kwargs: dict[str, Any]) -> None:
        self.model = model
        self.messages = messages
        self.stop = stop
        self.kwargs = kwargs


class ChatModelBackend:
    """Lets the router call a LangChain chat model.

    Each call returns one sample (``max_samples_per_call = 1``); the child's ``AIMessage``
    is kept in :attr:`uniscale.Sample.payload` and its ``usage_metadata`` becomes the
    sample's usage (estimated from characters when the child reports none).

    Args:
        name: The model's key in ``ChatUniScale.models``.
        model: The child chat model.
    """

    max_samples_per_call = 1

    def __init__(self, name: str, model: BaseChatModel) -> None:
        self.name = name
        self.model = model
        self._copies: dict[tuple[Any, Any], BaseChatModel] = {}
        self._lock = threading.Lock()

    # -- preparing a call -------------------------------------------------------------
    def _configured(self, temperature: float | None, max_tokens: int | None) -> BaseChatModel:
        """The child with the strategy's temperature and the token cap, where it has them."""
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
            request: The request of one sample; ``options`` may hold ``tools``,
                ``tool_choice`` and ``child_kwargs`` (further keyword arguments).

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
        return PreparedCall(model, to_langchain_messages(request.messages), stop, kwargs)

    # -- calling ----------------------------------------------------------------------
    @staticmethod
    def _completion(call: PreparedCall, result: ChatResult) -> Completion:
        samples = []
        for generation in result.generations:
            message = generation.message
            if not isinstance(message, AIMessage):
                message = AIMessage(content=message.content)
            usage = usage_from_metadata(message.usage_metadata) or estimate_usage(
                call.messages, message)
            samples.append(Sample(message.text, usage, message))
        total = samples[0].usage
        for sample in samples[1:]:
            total = total + sample.usage
        return Completion(tuple(samples), total)

    def complete(self, request: Request) -> Completion:
        """Generate one sample with the child's ``_generate``."""
        call = self.prepare(request)
        result = call.model._generate(call.messages, stop=call.stop, **call.kwargs)
        return self._completion(call, result)

    async def acomplete(self, request: Request) -> Completion:
        """Generate one sample with the child's ``_agenerate``."""
        call = self.prepare(request)
        result = await call.model._agenerate(call.messages, stop=call.stop, **call.kwargs)
        return self._completion(call, result)

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
        """The child's ``_stream`` chunks for a prepared call."""
        return call.model._stream(call.messages, stop=call.stop, **call.kwargs)

    @staticmethod
    def astream(call: PreparedCall) -> AsyncIterator[ChatGenerationChunk]:
        """The child's ``_astream`` chunks for a prepared call."""
        return call.model._astream(call.messages, stop=call.stop, **call.kwargs)
