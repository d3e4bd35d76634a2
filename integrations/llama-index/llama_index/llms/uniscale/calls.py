"""The routed calls of ``UniScaleLLM``: chat, completion, streaming and async forms.

The public methods of :class:`~llama_index.llms.uniscale.UniScaleLLM` delegate here (they
stay on the class itself so that LlamaIndex's instrumentation opens a span for each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
)

import uniscale as us

from .backend import CallSpec, child_kwargs
from .convert import from_uniscale_messages, prompt_from_messages, to_uniscale_messages
from .plumbing import Call, RoutingMixin

__all__ = ["CallsMixin", "Context"]

Context = Mapping[str, Any] | None


class CallsMixin(RoutingMixin):
    """The bodies of the routed calls (no public API).

    Every call is paced by the router's own rate limiter, decided, reported to the
    router's handlers, then run: a chat or completion through the core (strategy,
    samples, fallback arms), a tool call or an n=1 stream directly on the chosen child.
    """

    def _open_chat(self, messages: Sequence[ChatMessage], context: Context,
                   kwargs: dict[str, Any]) -> tuple[Call, dict[str, Any]]:
        """Decide a chat call; also the keywords of a child's tool call, if tools came."""
        asked = list(messages)
        rest, tools = self._split(kwargs)
        call = self._open(to_uniscale_messages(asked), CallSpec("chat", rest), tools, context,
                          self._chat_payload(asked, kwargs), asked, self._chat_end(asked))
        tool_kwargs = {} if tools is None else {"chat_history": asked, **rest, **tools.options}
        return call, tool_kwargs

    def _open_completion(self, prompt: str, formatted: bool, context: Context,
                         kwargs: dict[str, Any]) -> Call:
        spec = CallSpec("complete", kwargs, formatted)
        call = self._open((us.Message("user", prompt),), spec, None, context,
                          self._completion_payload(prompt, kwargs), prompt,
                          self._completion_end(prompt))
        # the child is asked the prompt as the arm's strategy words it
        return replace(call, asked=prompt_from_messages(call.plan.request.messages))

    def _routed_chat(self, messages: Sequence[ChatMessage], context: Context,
                     kwargs: dict[str, Any]) -> ChatResponse:
        self._pace()
        call, tool_kwargs = self._open_chat(messages, context, kwargs)
        plan = call.plan
        try:
            if plan.tools is None:
                response: ChatResponse = self._finish(
                    self.router.run(plan.decision, plan.base), plan)
            else:
                response = self._tool_reply(call, plan.child.chat_with_tools(  # type: ignore[attr-defined]
                    plan.tools.tools, **tool_kwargs))
        except BaseException as exc:
            self._fail(call, exc)
        return self._close(call, response)

    async def _routed_achat(self, messages: Sequence[ChatMessage], context: Context,
                            kwargs: dict[str, Any]) -> ChatResponse:
        await self._apace()
        call, tool_kwargs = self._open_chat(messages, context, kwargs)
        plan = call.plan
        try:
            if plan.tools is None:
                response: ChatResponse = self._finish(
                    await self.router.arun(plan.decision, plan.base), plan)
            else:
                response = self._tool_reply(call, await plan.child.achat_with_tools(  # type: ignore[attr-defined]
                    plan.tools.tools, **tool_kwargs))
        except BaseException as exc:
            self._fail(call, exc)
        return self._close(call, response)

    def _routed_stream_chat(self, messages: Sequence[ChatMessage], context: Context,
                            kwargs: dict[str, Any]) -> ChatResponseGen:
        self._pace()
        call, tool_kwargs = self._open_chat(messages, context, kwargs)
        plan = call.plan
        try:
            if plan.tools is not None:
                chunks = plan.child.stream_chat_with_tools(  # type: ignore[attr-defined]
                    plan.tools.tools, **tool_kwargs)
            elif plan.decision.arm.n == 1:
                chunks = plan.child.stream_chat(from_uniscale_messages(plan.request.messages),
                                                **child_kwargs(plan.request, plan.spec))
            else:
                return self._once(call, self.router.run(plan.decision, plan.base))
        except BaseException as exc:
            self._fail(call, exc)
        return self._relay(call, chunks)

    async def _routed_astream_chat(self, messages: Sequence[ChatMessage], context: Context,
                                   kwargs: dict[str, Any]) -> ChatResponseAsyncGen:
        await self._apace()
        call, tool_kwargs = self._open_chat(messages, context, kwargs)
        plan = call.plan
        try:
            if plan.tools is not None:
                chunks = await plan.child.astream_chat_with_tools(  # type: ignore[attr-defined]
                    plan.tools.tools, **tool_kwargs)
            elif plan.decision.arm.n == 1:
                chunks = await plan.child.astream_chat(
                    from_uniscale_messages(plan.request.messages),
                    **child_kwargs(plan.request, plan.spec))
            else:
                return self._aonce(call, await self.router.arun(plan.decision, plan.base))
        except BaseException as exc:
            self._fail(call, exc)
        return self._arelay(call, chunks)

    def _routed_complete(self, prompt: str, formatted: bool, context: Context,
                         kwargs: dict[str, Any]) -> CompletionResponse:
        self._pace()
        call = self._open_completion(prompt, formatted, context, kwargs)
        try:
            response: CompletionResponse = self._finish(
                self.router.run(call.plan.decision, call.plan.base), call.plan)
        except BaseException as exc:
            self._fail(call, exc)
        return self._close(call, response)

    async def _routed_acomplete(self, prompt: str, formatted: bool, context: Context,
                                kwargs: dict[str, Any]) -> CompletionResponse:
        await self._apace()
        call = self._open_completion(prompt, formatted, context, kwargs)
        try:
            response: CompletionResponse = self._finish(
                await self.router.arun(call.plan.decision, call.plan.base), call.plan)
        except BaseException as exc:
            self._fail(call, exc)
        return self._close(call, response)

    def _routed_stream_complete(self, prompt: str, formatted: bool, context: Context,
                                kwargs: dict[str, Any]) -> CompletionResponseGen:
        self._pace()
        call = self._open_completion(prompt, formatted, context, kwargs)
        plan = call.plan
        try:
            if plan.decision.arm.n > 1:
                return self._once(call, self.router.run(plan.decision, plan.base))
            chunks = plan.child.stream_complete(call.asked, formatted=formatted,
                                                **child_kwargs(plan.request, plan.spec))
        except BaseException as exc:
            self._fail(call, exc)
        return self._relay(call, chunks)

    async def _routed_astream_complete(self, prompt: str, formatted: bool, context: Context,
                                       kwargs: dict[str, Any]) -> CompletionResponseAsyncGen:
        await self._apace()
        call = self._open_completion(prompt, formatted, context, kwargs)
        plan = call.plan
        try:
            if plan.decision.arm.n > 1:
                return self._aonce(call, await self.router.arun(plan.decision, plan.base))
            chunks = await plan.child.astream_complete(call.asked, formatted=formatted,
                                                       **child_kwargs(plan.request, plan.spec))
        except BaseException as exc:
            self._fail(call, exc)
        return self._arelay(call, chunks)
