"""Anthropic Messages API backend on the official ``anthropic`` SDK.

The Messages API returns one sample per call, so :attr:`AnthropicBackend.max_samples_per_call`
is 1 and the router runs the samples of an arm as concurrent calls, each paying for the
input. With ``prompt_cache=True`` the prompt is marked with ``cache_control`` so that the
calls after the first read it from the prompt cache (billed at the ``cached_input``
price, typically 10% of the input price) instead of paying the full input price again.
Concurrent calls that share a prompt wait for the first one to write the cache, which
costs one extra call's latency and saves about 90% of the input cost of the others;
prompts shorter than ``min_cache_tokens`` (Anthropic does not cache them) are sent
without markers.

Retries of timeouts, connection errors, 408/409/429 (``retry-after`` honoured), 5xx and
529 replies are the SDK's own (``max_retries``); what still fails raises a
:class:`~uniscale.backends.common.ProviderError`, a :class:`~uniscale.BackendError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ..cost import estimate_tokens
from ..errors import ConfigurationError
from ..types import Completion, Message, Request, Sample, Usage
from .common import (
    AsyncTextStream,
    Clients,
    CompletionCallback,
    MalformedResponseError,
    ProviderError,
    StreamInterruptedError,
    TextStream,
    attempt,
    check_single,
    describe,
    estimate_output,
    merge,
    missing_sdk,
    single_completion,
    split_params,
    successes,
    wrap_error,
)

try:
    import anthropic
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_sdk("anthropic", "anthropic") from exc

__all__ = ["AnthropicBackend"]

_PROVIDER = "anthropic"
_EPHEMERAL = {"type": "ephemeral"}


def _blocks(message: Message) -> list[dict[str, Any]]:
    """Content blocks of one message."""
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.extra.get("tool_call_id", ""),
                 "content": message.content}]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.extra.get("tool_calls") or ():
        function = call.get("function", call)
        arguments = function.get("arguments", function.get("args", {}))
        if isinstance(arguments, str):
            arguments = json.loads(arguments or "{}")
        blocks.append({"type": "tool_use", "id": call.get("id", ""),
                       "name": function.get("name", ""), "input": arguments})
    return blocks


def to_anthropic(messages: tuple[Message, ...]) -> tuple[list[dict[str, Any]],
                                                         list[dict[str, Any]]]:
    """Split uniscale messages into Anthropic ``system`` blocks and ``messages``.

    System messages become system text blocks; tool results become ``tool_result``
    blocks of a user turn; consecutive turns of one role are merged.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            if message.content:
                system.append({"type": "text", "text": message.content})
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


class AnthropicBackend:
    """A :class:`~uniscale.Backend` for the Messages API.

    Args:
        model: Model name sent with every request.
        client: A ready ``anthropic.Anthropic`` or ``anthropic.AsyncAnthropic`` client.
        async_client: A ready ``anthropic.AsyncAnthropic`` when ``client`` is a sync one.
        api_key: Client option when no client is given (default ``ANTHROPIC_API_KEY``).
        base_url: Client option (a proxy or a compatible server).
        timeout: Client option, seconds per HTTP attempt.
        max_retries: Client option, retries the SDK makes on timeouts, 429, 5xx and 529.
        max_tokens: Output cap when the request sets none (the API requires one).
        prompt_cache: Mark the prompt with ``cache_control`` so that repeated calls
            (the samples of a multi-sample arm, later turns) read it from the cache.
            Give the model a ``Price(cached_input=..., cache_write=...)``.
        min_cache_tokens: Prompts estimated shorter than this are not marked.
        send_temperature: Send ``Request.temperature``. Off by default: API version
            2026-10-21 (sent by ``anthropic`` 2.x) rejects ``temperature`` on every model,
            and the samples of a self-consistency arm differ at the default temperature
            anyway. Turn it on for proxies or clients pinned to ``2023-06-01``.
        params: Default request parameters (``thinking``, ``metadata``, ...);
            ``Request.options`` override them. Unknown names go into ``extra_body``.
    """

    provider = _PROVIDER
    max_samples_per_call = 1

    def __init__(
        self,
        model: str,
        client: Any = None,
        *,
        async_client: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_tokens: int = 1024,
        prompt_cache: bool = False,
        min_cache_tokens: int = 1024,
        send_temperature: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigurationError("AnthropicBackend needs a model name, e.g. 'claude-haiku-4-5'")
        self.model = model
        self.clients = Clients(
            client, async_client, anthropic.Anthropic, anthropic.AsyncAnthropic,
            {"api_key": api_key, "base_url": base_url, "timeout": timeout,
             "max_retries": max_retries}, _PROVIDER)
        self.max_tokens = int(max_tokens)
        self.prompt_cache = prompt_cache
        self.min_cache_tokens = int(min_cache_tokens)
        self.send_temperature = send_temperature
        self.params = dict(params or {})
        some = self.clients.any
        self._retries = int(getattr(some, "max_retries", 0))
        self._known = set(inspect.signature(some.messages.create).parameters) - {"extra_body"}
        self._written: OrderedDict[str, threading.Event] = OrderedDict()
        self._lock = threading.Lock()

    # -- request ----------------------------------------------------------------------
    def _caching(self, request: Request) -> bool:
        return self.prompt_cache and estimate_tokens(request.messages) >= self.min_cache_tokens

    def _kwargs(self, request: Request) -> dict[str, Any]:
        system, turns = to_anthropic(request.messages)
        if self._caching(request):
            if system:
                system[-1]["cache_control"] = dict(_EPHEMERAL)
            if turns:
                turns[-1]["content"][-1]["cache_control"] = dict(_EPHEMERAL)
        body: dict[str, Any] = {"model": self.model, "messages": turns,
                                "max_tokens": request.max_tokens or self.max_tokens}
        if system:
            body["system"] = system
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.temperature is not None and self.send_temperature:
            body["temperature"] = request.temperature
        body.update(self.params)
        body.update(request.options)
        kwargs, extra = split_params(self._known, body)
        if extra:
            kwargs["extra_body"] = {**kwargs.get("extra_body", {}), **extra}
        return kwargs

    def _error(self, exc: BaseException) -> ProviderError:
        return wrap_error(exc, _PROVIDER, self.model, self._retries)

    def _cache_turn(self, request: Request) -> tuple[threading.Event | None, bool]:
        """The cache-write event to wait for, and whether this call writes the cache."""
        if not self._caching(request):
            return None, False
        body = self._kwargs(replace(request, options={}))
        key = hashlib.sha256(json.dumps([body.get("system"), body["messages"]],
                                        sort_keys=True, default=str).encode()).hexdigest()
        with self._lock:
            event = self._written.get(key)
            if event is not None:
                return event, False
            event = self._written[key] = threading.Event()
            while len(self._written) > 1024:
                self._written.popitem(last=False)
            return event, True

    # -- response ---------------------------------------------------------------------
    @staticmethod
    def _usage(usage: Any) -> Usage:
        read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        written = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        details = getattr(usage, "output_tokens_details", None)
        return Usage(
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0) + read + written,
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cached_input_tokens=read,
            cache_write_tokens=written,
            reasoning_tokens=int(getattr(details, "thinking_tokens", 0) or 0),
            calls=1,
        )

    def _parse(self, raw: Any) -> Completion:
        content = getattr(raw, "content", None)
        usage = getattr(raw, "usage", None)
        if (not isinstance(raw, anthropic.BaseModel) or not isinstance(content, list)
                or not isinstance(getattr(usage, "input_tokens", None), int)):
            raise MalformedResponseError(
                f"anthropic model {self.model!r} returned a malformed response: "
                f"{str(raw)[:200]!r}", provider=_PROVIDER, model=self.model)
        text = "".join(getattr(b, "text", "") for b in content if getattr(b, "type", "") == "text")
        return single_completion(text, self._usage(usage), raw)

    # -- calls ------------------------------------------------------------------------
    def _call(self, request: Request) -> Completion:
        client = self.clients.sync()
        event, writer = self._cache_turn(request)
        if event is not None and not writer:
            event.wait(self._wait_limit())
        try:
            raw = client.messages.create(**self._kwargs(request))
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            if writer and event is not None:
                event.set()
        return self._parse(raw)

    async def _acall(self, request: Request) -> Completion:
        if not self.clients.has_async:
            return await asyncio.to_thread(self._call, request)
        event, writer = self._cache_turn(request)
        if event is not None and not writer:
            await asyncio.to_thread(event.wait, self._wait_limit())
        try:
            raw = await self.clients.aio().messages.create(**self._kwargs(request))
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            if writer and event is not None:
                event.set()
        return self._parse(raw)

    def _wait_limit(self) -> float:
        some = self.clients.any
        timeout = getattr(some, "timeout", None)
        seconds = getattr(timeout, "read", timeout)
        return float(seconds) if isinstance(seconds, (int, float)) else 600.0

    def complete(self, request: Request) -> Completion:
        """Generate one sample (``request.n`` samples as parallel calls if ``n > 1``).

        Raises:
            ProviderError: The call failed after the SDK's retries, or the reply was
                malformed (:class:`MalformedResponseError`).
        """
        if request.n == 1:
            return self._call(request)
        single = replace(request, n=1)
        with ThreadPoolExecutor(max_workers=request.n) as pool:
            outcomes = list(pool.map(lambda _: attempt(self._call, single), range(request.n)))
        return merge(successes(outcomes))

    async def acomplete(self, request: Request) -> Completion:
        """Async form of :meth:`complete`."""
        if request.n == 1:
            return await self._acall(request)
        single = replace(request, n=1)
        outcomes = await asyncio.gather(*(self._acall(single) for _ in range(request.n)),
                                        return_exceptions=True)
        return merge(successes(list(outcomes)))

    # -- streaming --------------------------------------------------------------------
    def _event(self, event: Any, state: dict[str, Any]) -> str:
        kind = getattr(event, "type", "")
        state["events"].append(event)
        if kind == "message_start":
            state["usage"] = self._usage(event.message.usage)
        elif kind == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
            state["text"] += event.delta.text
            return str(event.delta.text)
        elif kind == "message_delta" and getattr(event, "usage", None) is not None:
            delta = self._usage(event.usage)
            start: Usage = state["usage"] or Usage()
            state["usage"] = Usage(
                delta.input_tokens or start.input_tokens, delta.output_tokens,
                delta.cached_input_tokens or start.cached_input_tokens,
                delta.cache_write_tokens or start.cache_write_tokens,
                delta.reasoning_tokens, calls=1)
        elif kind == "message_stop":
            state["finished"] = True
        return ""

    def _finish(self, state: dict[str, Any], request: Request) -> Completion:
        usage = state["usage"] or Usage(estimate_tokens(request.messages), calls=1)
        if not state["finished"]:
            raise StreamInterruptedError(
                f"anthropic model {self.model!r}: the stream ended before message_stop",
                text=state["text"], provider=_PROVIDER, model=self.model,
                usage=replace(usage, output_tokens=max(usage.output_tokens,
                                                       estimate_output(state["text"]))))
        return Completion((Sample(state["text"], usage, state["events"]),), usage)

    def _interrupted(self, exc: BaseException, state: dict[str, Any],
                     request: Request) -> ProviderError:
        if not state["events"]:
            return self._error(exc)
        try:
            self._finish(state, request)
        except StreamInterruptedError as err:
            err.args = (f"{err.args[0]}: {describe(exc)}",)
            return err
        return self._error(exc)  # pragma: no cover - finished streams do not get here

    @staticmethod
    def _state() -> dict[str, Any]:
        return {"text": "", "finished": False, "usage": None, "events": []}

    def _events(self, request: Request) -> Iterator[str | Completion]:
        state = self._state()
        client = self.clients.sync()
        try:
            with client.messages.create(**self._kwargs(request), stream=True) as events:
                for event in events:
                    if text := self._event(event, state):
                        yield text
        except Exception as exc:
            raise self._interrupted(exc, state, request) from exc
        yield self._finish(state, request)

    async def _aevents(self, request: Request) -> AsyncIterator[str | Completion]:
        if not self.clients.has_async:
            raise ConfigurationError("astream() needs an anthropic.AsyncAnthropic client")
        state = self._state()
        try:
            events = await self.clients.aio().messages.create(**self._kwargs(request),
                                                             stream=True)
            async with events:
                async for event in events:
                    if text := self._event(event, state):
                        yield text
        except Exception as exc:
            raise self._interrupted(exc, state, request) from exc
        yield self._finish(state, request)

    def stream(self, request: Request, on_complete: CompletionCallback | None = None
               ) -> TextStream:
        """Stream the text of one sample (``request.n == 1``).

        Returns:
            A :class:`~uniscale.backends.common.TextStream`; its ``completion`` (text,
            usage, the raw events as payload) is set when the stream has ended.
        """
        check_single(request, _PROVIDER)
        return TextStream(self._events(request), on_complete)

    def astream(self, request: Request, on_complete: CompletionCallback | None = None
                ) -> AsyncTextStream:
        """Async form of :meth:`stream` (use ``async for``)."""
        check_single(request, _PROVIDER)
        return AsyncTextStream(self._aevents(request), on_complete)

