"""OpenAI (and OpenAI-compatible) Chat Completions backend on the official ``openai`` SDK.

Several samples of one request are one HTTP call with ``n=`` (the input is paid once).
A server that rejects ``n`` (or answers with fewer choices) is detected on the first
such call; the missing samples are then fetched as parallel single requests and
:attr:`OpenAIBackend.max_samples_per_call` drops to 1, so that the router makes parallel
calls from then on.

Retries of timeouts, connection errors, 408/409/429 (``retry-after`` honoured) and 5xx
replies are the SDK's own (``max_retries``); what still fails raises a
:class:`~uniscale.backends.common.ProviderError`, a :class:`~uniscale.BackendError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..cost import estimate_tokens
from ..errors import ConfigurationError
from ..types import Completion, Request, Sample, Usage
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
    split_params,
    split_usage,
    successes,
    wrap_error,
)

try:
    import openai
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise missing_sdk("openai", "openai") from exc

__all__ = ["OpenAIBackend"]

_MESSAGE_KEYS = ("name", "tool_calls", "tool_call_id", "function_call", "refusal")
_PROVIDER = "openai"


class OpenAIBackend:
    """A :class:`~uniscale.Backend` for the Chat Completions API.

    Args:
        model: Model name sent with every request.
        client: A ready ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client.
        async_client: A ready ``openai.AsyncOpenAI`` when ``client`` is a sync one.
        api_key: Client option when no client is given (default ``OPENAI_API_KEY``).
        base_url: Client option: any OpenAI-compatible server (vLLM, llama.cpp, Ollama,
            OpenRouter, ...).
        timeout: Client option, seconds per HTTP attempt.
        max_retries: Client option, retries the SDK makes on timeouts, 429 and 5xx.
        max_samples_per_call: Largest ``n`` asked in one call; 1 disables ``n``.
        max_tokens_param: ``"max_tokens"`` or ``"max_completion_tokens"``; default: the
            latter on api.openai.com, the former elsewhere.
        stream_usage: Ask streams for a final usage chunk (``stream_options``).
        params: Default request parameters (``reasoning_effort``, ``seed``, ...);
            ``Request.options`` override them. Unknown names go into ``extra_body``.
    """

    provider = _PROVIDER

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
        max_samples_per_call: int = 128,
        max_tokens_param: str | None = None,
        stream_usage: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigurationError("OpenAIBackend needs a model name, e.g. 'gpt-4o-mini'")
        if max_samples_per_call < 1:
            raise ConfigurationError("max_samples_per_call must be >= 1")
        self.model = model
        self.clients = Clients(
            client, async_client, openai.OpenAI, openai.AsyncOpenAI,
            {"api_key": api_key, "base_url": base_url, "timeout": timeout,
             "max_retries": max_retries}, _PROVIDER)
        self.max_samples_per_call = int(max_samples_per_call)
        some = self.clients.any
        if max_tokens_param is None:
            official = "api.openai.com" in str(some.base_url)
            max_tokens_param = "max_completion_tokens" if official else "max_tokens"
        if max_tokens_param not in ("max_tokens", "max_completion_tokens"):
            raise ConfigurationError("max_tokens_param: 'max_tokens' or 'max_completion_tokens'")
        self.max_tokens_param = max_tokens_param
        self.stream_usage = stream_usage
        self.params = dict(params or {})
        self._retries = int(getattr(some, "max_retries", 0))
        create = some.chat.completions.create
        self._known = set(inspect.signature(create).parameters) - {"extra_body"}

    # -- request ----------------------------------------------------------------------
    def _kwargs(self, request: Request, n: int) -> dict[str, Any]:
        messages = []
        for m in request.messages:
            item: dict[str, Any] = {"role": m.role, "content": m.content}
            item.update({k: m.extra[k] for k in _MESSAGE_KEYS if k in m.extra})
            if m.role == "assistant" and item.get("tool_calls") and not m.content:
                item["content"] = None
            messages.append(item)
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if n != 1:
            body["n"] = n
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        if request.max_tokens is not None:
            body[self.max_tokens_param] = request.max_tokens
        body.update(self.params)
        body.update(request.options)
        kwargs, extra = split_params(self._known, body)
        if extra:
            kwargs["extra_body"] = {**kwargs.get("extra_body", {}), **extra}
        return kwargs

    def _error(self, exc: BaseException) -> ProviderError:
        return wrap_error(exc, _PROVIDER, self.model, self._retries)

    # -- response ---------------------------------------------------------------------
    def _usage(self, raw: Any, texts: list[str], request: Request) -> Usage:
        usage = getattr(raw, "usage", None)
        if usage is None or not isinstance(getattr(usage, "prompt_tokens", None), int):
            # some compatible servers omit usage: estimate rather than lose the cost
            return Usage(estimate_tokens(request.messages),
                         sum(estimate_output(t) for t in texts), calls=1)
        prompt = getattr(usage, "prompt_tokens_details", None)
        completion = getattr(usage, "completion_tokens_details", None)
        return Usage(
            input_tokens=usage.prompt_tokens,
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cached_input_tokens=int(getattr(prompt, "cached_tokens", 0) or 0),
            cache_write_tokens=int(getattr(prompt, "cache_write_tokens", 0) or 0),
            reasoning_tokens=int(getattr(completion, "reasoning_tokens", 0) or 0),
            calls=1,
        )

    def _parse(self, raw: Any, request: Request) -> Completion:
        choices = getattr(raw, "choices", None)
        if not isinstance(raw, openai.BaseModel) or not isinstance(choices, list) or not choices:
            raise MalformedResponseError(
                f"openai model {self.model!r} returned a malformed response without "
                f"choices: {str(raw)[:200]!r}", provider=_PROVIDER, model=self.model)
        texts = []
        for choice in choices:
            message = getattr(choice, "message", None)
            content = getattr(message, "content", None)
            if message is None or not isinstance(content, (str, type(None))):
                billed = getattr(raw, "usage", None) is not None
                raise MalformedResponseError(
                    f"openai model {self.model!r} returned a choice without a message",
                    provider=_PROVIDER, model=self.model,
                    usage=self._usage(raw, [], request) if billed else None)
            texts.append(content or "")
        total = self._usage(raw, texts, request)
        shares = split_usage(total, [len(t) for t in texts])
        if len(choices) == 1:
            payloads = [raw]
        else:
            payloads = [raw.model_copy(update={"choices": [c]}) for c in choices]
        samples = tuple(Sample(t, u, p) for t, u, p in zip(texts, shares, payloads, strict=True))
        return Completion(samples, total)

    def _rejects_n(self, exc: ProviderError, n: int) -> bool:
        return n > 1 and exc.status_code in (400, 422)

    def _sizes(self, n: int) -> list[int]:
        per = self.max_samples_per_call
        return [per] * (n // per) + ([n % per] if n % per else [])

    # -- sync -------------------------------------------------------------------------
    def _call(self, request: Request, n: int) -> Completion:
        client = self.clients.sync()
        try:
            raw = client.chat.completions.create(**self._kwargs(request, n))
        except Exception as exc:
            raise self._error(exc) from exc
        return self._parse(raw, request)

    def _singles(self, request: Request, n: int) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=n) as pool:
            outcomes = list(pool.map(lambda _: attempt(self._call, request, 1), range(n)))
        return successes(outcomes)

    def complete(self, request: Request) -> Completion:
        """Generate ``request.n`` samples in one call (``n=``) where the server allows it.

        Raises:
            ProviderError: The call failed after the SDK's retries, or the reply was
                malformed (:class:`MalformedResponseError`).
        """
        parts: list[Completion] = []
        for size in self._sizes(request.n):
            try:
                part = self._call(request, size)
            except ProviderError as exc:
                if parts:  # keep the samples already paid for
                    break
                if not self._rejects_n(exc, size):
                    raise
                parts.extend(self._singles(request, size))  # raises if all fail
                self.max_samples_per_call = 1  # the server refuses n, not the request
                continue
            parts.append(part)
            missing = size - len(part.samples)
            if missing > 0:  # the server ignored n
                self.max_samples_per_call = 1
                with contextlib.suppress(ProviderError):  # keep the samples paid for
                    parts.extend(self._singles(request, missing))
        return merge(parts)

    # -- async ------------------------------------------------------------------------
    async def _acall(self, request: Request, n: int) -> Completion:
        if not self.clients.has_async:
            return await asyncio.to_thread(self._call, request, n)
        try:
            raw = await self.clients.aio().chat.completions.create(**self._kwargs(request, n))
        except Exception as exc:
            raise self._error(exc) from exc
        return self._parse(raw, request)

    async def _asingles(self, request: Request, n: int) -> list[Completion]:
        outcomes = await asyncio.gather(
            *(self._acall(request, 1) for _ in range(n)), return_exceptions=True)
        return successes(list(outcomes))

    async def acomplete(self, request: Request) -> Completion:
        """Async form of :meth:`complete`."""
        parts: list[Completion] = []
        for size in self._sizes(request.n):
            try:
                part = await self._acall(request, size)
            except ProviderError as exc:
                if parts:
                    break
                if not self._rejects_n(exc, size):
                    raise
                parts.extend(await self._asingles(request, size))
                self.max_samples_per_call = 1
                continue
            parts.append(part)
            missing = size - len(part.samples)
            if missing > 0:
                self.max_samples_per_call = 1
                with contextlib.suppress(ProviderError):  # keep the samples paid for
                    parts.extend(await self._asingles(request, missing))
        return merge(parts)

    # -- streaming --------------------------------------------------------------------
    def _stream_kwargs(self, request: Request) -> dict[str, Any]:
        check_single(request, _PROVIDER)
        kwargs = self._kwargs(request, 1)
        kwargs["stream"] = True
        if self.stream_usage:
            kwargs.setdefault("stream_options", {"include_usage": True})
        return kwargs

    def _chunk(self, chunk: Any, state: dict[str, Any]) -> str:
        if getattr(chunk, "usage", None) is not None:
            state["usage"] = chunk
        delta_text = ""
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            piece = getattr(delta, "content", None)
            if isinstance(piece, str):
                delta_text += piece
            if getattr(choice, "finish_reason", None):
                state["finished"] = True
        state["text"] += delta_text
        return delta_text

    def _partial_usage(self, state: dict[str, Any], request: Request) -> Usage:
        """What an unfinished stream was billed: its usage chunk, else an estimate."""
        if state["usage"] is not None:
            return self._usage(state["usage"], [state["text"]], request)
        return Usage(estimate_tokens(request.messages), estimate_output(state["text"]),
                     calls=1)

    def _finish(self, state: dict[str, Any], request: Request) -> Completion:
        if not state["finished"]:
            raise StreamInterruptedError(
                f"openai model {self.model!r}: the stream ended before the model finished",
                text=state["text"], provider=_PROVIDER, model=self.model,
                usage=self._partial_usage(state, request))
        usage = self._usage(state["usage"], [state["text"]], request)
        return Completion((Sample(state["text"], usage, state["chunks"]),), usage)

    def _interrupted(self, exc: BaseException, state: dict[str, Any],
                     request: Request) -> ProviderError:
        if not state["chunks"]:
            return self._error(exc)
        return StreamInterruptedError(
            f"openai model {self.model!r}: the stream broke off after "
            f"{len(state['text'])} characters: {describe(exc)}",
            text=state["text"], provider=_PROVIDER, model=self.model,
            usage=self._partial_usage(state, request))

    def _events(self, request: Request) -> Iterator[str | Completion]:
        state: dict[str, Any] = {"text": "", "finished": False, "usage": None, "chunks": []}
        client = self.clients.sync()
        try:
            with client.chat.completions.create(**self._stream_kwargs(request)) as chunks:
                for chunk in chunks:
                    state["chunks"].append(chunk)
                    if text := self._chunk(chunk, state):
                        yield text
        except ProviderError:
            raise
        except Exception as exc:
            raise self._interrupted(exc, state, request) from exc
        yield self._finish(state, request)

    async def _aevents(self, request: Request) -> AsyncIterator[str | Completion]:
        if not self.clients.has_async:
            raise ConfigurationError("astream() needs an openai.AsyncOpenAI client")
        state: dict[str, Any] = {"text": "", "finished": False, "usage": None, "chunks": []}
        try:
            chunks = await self.clients.aio().chat.completions.create(
                **self._stream_kwargs(request))
            async with chunks:
                async for chunk in chunks:
                    state["chunks"].append(chunk)
                    if text := self._chunk(chunk, state):
                        yield text
        except ProviderError:
            raise
        except Exception as exc:
            raise self._interrupted(exc, state, request) from exc
        yield self._finish(state, request)

    def stream(self, request: Request, on_complete: CompletionCallback | None = None
               ) -> TextStream:
        """Stream the text of one sample (``request.n == 1``).

        Returns:
            A :class:`~uniscale.backends.common.TextStream`; its ``completion`` (text,
            usage, the raw chunks as payload) is set when the stream has ended.
        """
        check_single(request, _PROVIDER)
        return TextStream(self._events(request), on_complete)

    def astream(self, request: Request, on_complete: CompletionCallback | None = None
                ) -> AsyncTextStream:
        """Async form of :meth:`stream` (use ``async for``)."""
        check_single(request, _PROVIDER)
        return AsyncTextStream(self._aevents(request), on_complete)

