"""A LlamaIndex ``LLM`` seen by the UniScale core as a :class:`uniscale.Backend`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.llms.llm import LLM
from llama_index.core.utilities.token_counting import TokenCounter

import uniscale as us
from uniscale.backends.common import split_usage

from .convert import from_uniscale_messages, prompt_from_messages, reported_usage
from .native import native_limit, refuses_n, split_choices

__all__ = ["CALL_KEY", "CallSpec", "ChildBackend", "measure"]

Response = ChatResponse | CompletionResponse

CALL_KEY = "llama_index_call"
"""Key of :attr:`uniscale.Request.options` that says how to call the child."""


@dataclass(frozen=True)
class CallSpec:
    """How a routed request calls the chosen child LLM.

    Attributes:
        mode: ``"chat"`` (``llm.chat(messages)``) or ``"complete"`` (``llm.complete(prompt)``).
        kwargs: Keyword arguments of the caller, passed on to the child unchanged.
        formatted: The ``formatted`` flag of a ``complete`` call.
    """

    mode: Literal["chat", "complete"] = "chat"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    formatted: bool = False


def measure(
    response: ChatResponse | CompletionResponse | None,
    request: Sequence[ChatMessage] | str,
    counter: TokenCounter,
) -> us.Usage:
    """Usage of one child call: what the child reported, else a tokenizer count.

    The fallback counts exactly as LlamaIndex's ``TokenCountingHandler`` would for the
    same call (messages with ``estimate_tokens_in_messages``, text with the tokenizer).

    Args:
        response: The child's response (for a stream, its last chunk), or ``None``.
        request: The messages of a chat call or the prompt of a completion call.
        counter: Token counter used when the child reported nothing.

    Returns:
        The usage of one call.
    """
    reported = reported_usage(response) if response is not None else None
    if reported is not None:
        prompt_tokens, completion_tokens = reported
    else:
        if isinstance(request, str):
            prompt_tokens = counter.get_string_tokens(request)
        else:
            prompt_tokens = counter.estimate_tokens_in_messages(list(request))
        completion_tokens = counter.get_string_tokens(str(response)) if response else 0
    return us.Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens, calls=1)


def child_kwargs(request: us.Request, spec: CallSpec, n: int = 1) -> dict[str, Any]:
    """The keyword arguments of a child call: the caller's, the strategy's temperature, and
    ``n`` when one call is to return several samples."""
    kwargs = dict(spec.kwargs)
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if n > 1:
        kwargs["n"] = n
    return kwargs


class ChildBackend:
    """Runs core requests on one child LLM, through its public (instrumented) methods.

    A child with native multi-sampling (:func:`~.native.native_limit`) answers all of a
    request's samples in one call (``n=`` in the call's keywords), paying for the input
    once; a server that refuses ``n`` turns this off and the samples are drawn one call
    each. The child's native response goes into :attr:`uniscale.Sample.payload` so that
    the integration can hand it back unchanged.

    Args:
        llm: The child LLM, called as the user configured it (its callbacks, retries and
            instrumentation included).
        counter: Returns the token counter used when the child reports no usage.
    """

    def __init__(self, llm: LLM, counter: Callable[[], TokenCounter]) -> None:
        self.llm = llm
        self.max_samples_per_call = native_limit(llm)
        self._counter = counter

    def _completion(self, response: Response, request: Sequence[ChatMessage] | str
                    ) -> us.Completion:
        usage = measure(response, request, self._counter())
        parts = split_choices(response)
        texts = [_text(p) for p in parts]
        shares = split_usage(usage, [len(t) for t in texts]) if len(parts) > 1 else [usage]
        samples = tuple(us.Sample(t, u, payload=p)
                        for t, u, p in zip(texts, shares, parts, strict=True))
        return us.Completion(samples, usage)

    def _call(self, request: us.Request, n: int) -> us.Completion:
        spec: CallSpec = request.options.get(CALL_KEY) or CallSpec()
        kwargs = child_kwargs(request, spec, n)
        if spec.mode == "complete":
            prompt = prompt_from_messages(request.messages)
            return self._completion(
                self.llm.complete(prompt, formatted=spec.formatted, **kwargs), prompt)
        messages = from_uniscale_messages(request.messages)
        return self._completion(self.llm.chat(messages, **kwargs), messages)

    async def _acall(self, request: us.Request, n: int) -> us.Completion:
        spec: CallSpec = request.options.get(CALL_KEY) or CallSpec()
        kwargs = child_kwargs(request, spec, n)
        if spec.mode == "complete":
            prompt = prompt_from_messages(request.messages)
            response = await self.llm.acomplete(prompt, formatted=spec.formatted, **kwargs)
            return self._completion(response, prompt)
        messages = from_uniscale_messages(request.messages)
        return self._completion(await self.llm.achat(messages, **kwargs), messages)

    def complete(self, request: us.Request) -> us.Completion:
        """Call the child (chat or completion, as the request's spec says) for its samples."""
        n = min(max(request.n, 1), self.max_samples_per_call)
        try:
            return self._call(request, n)
        except Exception as exc:
            if n == 1 or not refuses_n(exc):
                raise
        self.max_samples_per_call = 1  # the server refuses `n`: one call per sample from now
        return _merge([self._call(request, 1) for _ in range(n)])

    async def acomplete(self, request: us.Request) -> us.Completion:
        """Async form of :meth:`complete`."""
        n = min(max(request.n, 1), self.max_samples_per_call)
        try:
            return await self._acall(request, n)
        except Exception as exc:
            if n == 1 or not refuses_n(exc):
                raise
        self.max_samples_per_call = 1
        return _merge([await self._acall(request, 1) for _ in range(n)])


def _text(response: Response) -> str:
    if isinstance(response, CompletionResponse):
        return response.text
    return response.message.content or ""


def _merge(parts: Sequence[us.Completion]) -> us.Completion:
    usage = us.Usage()
    for part in parts:
        usage = usage + part.usage
    return us.Completion(tuple(s for p in parts for s in p.samples), usage)
