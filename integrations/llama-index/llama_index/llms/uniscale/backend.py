"""A LlamaIndex ``LLM`` seen by the UniScale core as a :class:`uniscale.Backend`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.llms.llm import LLM
from llama_index.core.utilities.token_counting import TokenCounter

import uniscale as us

from .convert import from_uniscale_messages, prompt_from_messages, reported_usage

__all__ = ["CALL_KEY", "CallSpec", "ChildBackend", "measure"]

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


def child_kwargs(request: us.Request, spec: CallSpec) -> dict[str, Any]:
    """The keyword arguments of a child call: the caller's, plus the strategy's temperature."""
    kwargs = dict(spec.kwargs)
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    return kwargs


class ChildBackend:
    """Runs core requests on one child LLM; one sample per call.

    The child's native response goes into :attr:`uniscale.Sample.payload` so that the
    integration can hand it back unchanged.

    Args:
        resolve: Returns the child to call (a copy that does not report to the router's
            own callback handlers, when it shares them).
        counter: Returns the token counter used when the child reports no usage.
    """

    max_samples_per_call = 1

    def __init__(self, resolve: Callable[[], LLM], counter: Callable[[], TokenCounter]) -> None:
        self._resolve = resolve
        self._counter = counter

    def _completion(
        self, response: ChatResponse | CompletionResponse, request: Sequence[ChatMessage] | str
    ) -> us.Completion:
        usage = measure(response, request, self._counter())
        text = response.text if isinstance(response, CompletionResponse) else (
            response.message.content or ""
        )
        return us.Completion((us.Sample(text, usage, payload=response),), usage)

    def complete(self, request: us.Request) -> us.Completion:
        """Call the child once (chat or completion, as the request's spec says)."""
        spec: CallSpec = request.options.get(CALL_KEY) or CallSpec()
        llm, kwargs = self._resolve(), child_kwargs(request, spec)
        if spec.mode == "complete":
            prompt = prompt_from_messages(request.messages)
            return self._completion(llm.complete(prompt, formatted=spec.formatted, **kwargs),
                                    prompt)
        messages = from_uniscale_messages(request.messages)
        return self._completion(llm.chat(messages, **kwargs), messages)

    async def acomplete(self, request: us.Request) -> us.Completion:
        """Async form of :meth:`complete`."""
        spec: CallSpec = request.options.get(CALL_KEY) or CallSpec()
        llm, kwargs = self._resolve(), child_kwargs(request, spec)
        if spec.mode == "complete":
            prompt = prompt_from_messages(request.messages)
            response = await llm.acomplete(prompt, formatted=spec.formatted, **kwargs)
            return self._completion(response, prompt)
        messages = from_uniscale_messages(request.messages)
        return self._completion(await llm.achat(messages, **kwargs), messages)
