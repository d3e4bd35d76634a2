"""Pieces shared by the provider backends: errors, usage shares and text streams.

Streaming (``n = 1`` only) works the same way on every provider backend::

    stream = backend.stream(request)          # nothing is sent yet
    for delta in stream:                      # the HTTP call starts on the first step
        print(delta, end="")
    stream.completion.usage                   # real usage, once the stream has ended

    astream = backend.astream(request)
    async for delta in astream:
        ...
    astream.completion

With a router, stream the chosen single-sample arm and record what it cost::

    decision = router.decide(messages, allowed=lambda arm: arm.n == 1)
    stream = router.backends[decision.arm.model].stream(Request(as_messages(messages)))
    ...
    router.observe(decision.id, stream.usage)   # observed cost, learned output length

A stream that fails (after the SDK's retries) raises a :class:`ProviderError` from the
iteration; a stream cut off before the provider marked its end raises
:class:`StreamInterruptedError`, never a silent short answer. ``on_complete`` callbacks
receive the finished :class:`~uniscale.Completion` (for cost accounting).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import BackendError, ConfigurationError
from ..types import Completion, Request, Sample, Usage

__all__ = [
    "AsyncTextStream",
    "MalformedResponseError",
    "ProviderError",
    "StreamInterruptedError",
    "TextStream",
    "split_usage",
]

CompletionCallback = Callable[[Completion], None]


class ProviderError(BackendError):
    """A provider call failed after the SDK's retries.

    Attributes:
        provider: ``"openai"`` or ``"anthropic"``.
        model: The model called.
        status_code: HTTP status of the last reply, if there was one.
        usage: Usage the provider reported before failing (counted by the router when
            the other samples of the arm succeed).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status_code: int | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.usage = usage if usage is not None else Usage()


class MalformedResponseError(ProviderError):
    """The provider answered with a body that is not a well-formed response."""


class StreamInterruptedError(ProviderError):
    """A stream ended (connection dropped) before the provider marked its end.

    Attributes:
        text: The text received before the interruption.
    """

    def __init__(self, message: str, *, text: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.text = text


def missing_sdk(package: str, extra: str) -> ImportError:
    """The error raised when an optional provider SDK is not installed."""
    return ImportError(
        f"the {package!r} package is required for this backend: "
        f"pip install 'uniscale[{extra}]'"
    )


def describe(exc: BaseException, *, with_kind: bool = True) -> str:
    """``"Kind: message (Cause: message)"`` of a transport or SDK exception."""
    detail = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if getattr(exc, "status_code", None) is None and cause is not None and str(cause) \
            and str(cause) not in detail:
        detail = f"{detail} ({type(cause).__name__}: {cause})"
    return f"{type(exc).__name__}: {detail}" if with_kind else detail


def wrap_error(exc: BaseException, provider: str, model: str, retries: int | None
               ) -> ProviderError:
    """Turn an SDK or transport exception into a :class:`ProviderError`."""
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    detail = describe(exc, with_kind=False)
    status_text = f" (HTTP {status})" if status is not None else ""
    tries = f" (the SDK retries up to {retries} time(s))" if retries else ""
    if isinstance(exc, ValueError) and status is None:  # JSON decoding, pydantic, ...
        return MalformedResponseError(
            f"{provider} model {model!r} returned a malformed response: {kind}: {detail}",
            provider=provider, model=model,
        )
    return ProviderError(
        f"{provider} model {model!r} failed: {kind}{status_text}: {detail}{tries}",
        provider=provider, model=model, status_code=status,
    )


def split_usage(total: Usage, weights: Sequence[int]) -> list[Usage]:
    """Split the usage of one multi-sample call into per-sample shares.

    Input-side counts are split evenly, output-side counts in proportion to
    ``weights`` (e.g. the length of each sample's text); the shares add up to
    ``total`` exactly and the first share carries the call.
    """
    n = len(weights)
    if n == 0:
        return []
    even = [1] * n
    out_weights = list(weights) if sum(weights) > 0 else even

    def parts(value: int, ws: Sequence[int]) -> list[int]:
        whole = sum(ws)
        raw = [value * w / whole for w in ws]
        base = [math.floor(r) for r in raw]
        order = sorted(range(n), key=lambda i: (-(raw[i] - base[i]), i))
        for i in order[: value - sum(base)]:
            base[i] += 1
        return base

    inp = parts(total.input_tokens, even)
    cached = parts(total.cached_input_tokens, even)
    written = parts(total.cache_write_tokens, even)
    out = parts(total.output_tokens, out_weights)
    reasoning = parts(total.reasoning_tokens, out_weights)
    return [
        Usage(inp[i], out[i], cached[i], written[i], reasoning[i], total.calls if i == 0 else 0)
        for i in range(n)
    ]


def estimate_output(text: str) -> int:
    """Output tokens of ``text`` when the provider did not report them (``ceil(chars/4)``)."""
    return -(-len(text) // 4)


def check_single(request: Request, provider: str) -> None:
    """Streaming serves exactly one sample."""
    if request.n != 1:
        raise ConfigurationError(
            f"{provider} streaming serves one sample, got n={request.n}: stream n=1 arms "
            "only, or call complete() for several samples"
        )


def split_params(known: set[str], params: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                    dict[str, Any]]:
    """Split pass-through options into SDK keyword arguments and ``extra_body`` fields."""
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in params.items():
        if key in known:
            kwargs[key] = value
        else:
            extra[key] = value
    return kwargs, extra


def single_completion(text: str, usage: Usage, payload: Any) -> Completion:
    """A one-sample completion."""
    return Completion((Sample(text, usage, payload),), usage)


class TextStream(Iterator[str]):
    """Text deltas of one streamed completion; :attr:`completion` once it has ended.

    Args:
        source: A generator yielding text deltas and finally one :class:`Completion`.
        on_complete: Called with the completion when the stream has ended.
    """

    def __init__(self, source: Iterator[str | Completion],
                 on_complete: CompletionCallback | None = None) -> None:
        self._source = source
        self._on_complete = on_complete
        self._parts: list[str] = []
        self.completion: Completion | None = None

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._parts)

    @property
    def usage(self) -> Usage | None:
        """Usage of the finished stream (``None`` until it has ended)."""
        return None if self.completion is None else self.completion.usage

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        for item in self._source:
            if isinstance(item, Completion):
                self.completion = item
                if self._on_complete is not None:
                    self._on_complete(item)
                continue
            self._parts.append(item)
            return item
        raise StopIteration

    def close(self) -> None:
        """Stop early and release the connection."""
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTextStream(AsyncIterator[str]):
    """Async form of :class:`TextStream` (use ``async for``)."""

    def __init__(self, source: AsyncIterator[str | Completion],
                 on_complete: CompletionCallback | None = None) -> None:
        self._source = source
        self._on_complete = on_complete
        self._parts: list[str] = []
        self.completion: Completion | None = None

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._parts)

    @property
    def usage(self) -> Usage | None:
        """Usage of the finished stream (``None`` until it has ended)."""
        return None if self.completion is None else self.completion.usage

    def __aiter__(self) -> AsyncTextStream:
        return self

    async def __anext__(self) -> str:
        async for item in self._source:
            if isinstance(item, Completion):
                self.completion = item
                if self._on_complete is not None:
                    self._on_complete(item)
                continue
            self._parts.append(item)
            return item
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop early and release the connection."""
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncTextStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def attempt(call: Callable[..., Completion], *args: Any) -> Completion | BaseException:
    """``call(*args)``, with an exception returned instead of raised."""
    try:
        return call(*args)
    except Exception as exc:
        return exc


def successes(outcomes: Sequence[Completion | BaseException]) -> list[Completion]:
    """The completions among parallel outcomes; the first error if there is none."""
    done = [o for o in outcomes if isinstance(o, Completion)]
    if not done:
        raise next(o for o in outcomes if isinstance(o, BaseException))
    return done


def merge(parts: Sequence[Completion]) -> Completion:
    """One completion holding the samples and the summed usage of ``parts``."""
    usage = Usage()
    samples: list[Sample] = []
    for part in parts:
        samples.extend(part.samples)
        usage = usage + part.usage
    return Completion(tuple(samples), usage)


async def _close_quietly(client: Any) -> None:
    """Close an async SDK client whose event loop may be gone (its sockets go with it)."""
    with contextlib.suppress(Exception):  # a closed loop's connections cannot close cleanly
        await client.close()


class Clients:
    """The SDK clients of a backend: given ones, or made from client options.

    A client made here is sync; its async sibling is made per running event loop (an
    async SDK client cannot outlive the loop it was first used on).

    Args:
        client: A ready sync or async client, or ``None``.
        async_client: A ready async client, or ``None``.
        sync_type: The SDK's sync client class.
        async_type: The SDK's async client class.
        options: Client options used when no client is given (``None`` values dropped,
            except ``api_key`` and ``base_url``, whose ``None`` means the SDK default).
        provider: Provider name for error messages.
    """

    def __init__(self, client: Any, async_client: Any, sync_type: type, async_type: type,
                 options: Mapping[str, Any], provider: str) -> None:
        if isinstance(client, async_type):
            client, async_client = None, client
        self.options: dict[str, Any] | None = None
        if client is None and async_client is None:
            self.options = {k: v for k, v in options.items()
                            if v is not None or k in ("api_key", "base_url")}
            client = sync_type(**self.options)
        self.client = client
        self.async_client = async_client
        self._async_type = async_type
        self._provider = provider
        self._loops: dict[int, tuple[Any, Any]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def any(self) -> Any:
        """Some client (for settings such as ``max_retries`` and ``base_url``)."""
        return self.client if self.client is not None else self.async_client

    @property
    def has_async(self) -> bool:
        """Whether async calls have a native async client."""
        return self.async_client is not None or self.options is not None

    def sync(self) -> Any:
        """The sync client.

        Raises:
            ConfigurationError: Only an async client was given.
        """
        if self.client is None:
            raise ConfigurationError(
                f"this {self._provider} backend has only an async client: use "
                "acomplete()/astream(), or pass a sync client as well"
            )
        return self.client

    def aio(self) -> Any:
        """The async client for the running event loop."""
        if self.options is None:
            return self.async_client
        loop = asyncio.get_running_loop()
        known = self._loops.get(id(loop))
        if known is None or known[0] is not loop:
            for old_loop, old_client in self._loops.values():
                self._retire(loop, old_loop, old_client)
            self._loops = {id(loop): (loop, self._async_type(**self.options))}
            known = self._loops[id(loop)]
        return known[1]

    def _retire(self, loop: asyncio.AbstractEventLoop, old_loop: asyncio.AbstractEventLoop,
                client: Any) -> None:
        """Close the async client of a loop that is no longer used.

        Left alone, the SDK would close it from its finaliser as a task on whatever loop
        runs then, against connections of a closed loop ("Event loop is closed").
        """
        if old_loop.is_running() and not old_loop.is_closed():  # a loop in another thread
            asyncio.run_coroutine_threadsafe(_close_quietly(client), old_loop)
            return
        task = loop.create_task(_close_quietly(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
