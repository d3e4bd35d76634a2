"""The routed calls of ``UniScaleLLM``: chat, completion, streaming and async forms.

The public methods of :class:`~llama_index.llms.uniscale.UniScaleLLM` delegate here (they
stay on the class itself so that LlamaIndex's instrumentation opens a span for each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from .plumbing import RoutingMixin

__all__ = ["CallsMixin"]

Context = Mapping[str, Any] | None


class CallsMixin(RoutingMixin):
    """The bodies of the routed calls (no public API)."""

    def _routed_chat(self, messages: Sequence[ChatMessage], context: Context,
                     kwargs: dict[str, Any]) -> ChatResponse:
        self._pace()
        messages = list(messages)
        rest, tools = self._split(kwargs)
        plan = self._plan(to_uniscale_messages(messages), CallSpec("chat", rest), tools, context)
        event_id = self._start(plan, self._chat_payload(messages, kwargs))
        try:
            if tools is None:
                response: ChatResponse = self._finish(
                    self.router.run(plan.decision, plan.base), plan)
            else:
                raw = plan.child.chat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
                final = self._observe_stream(plan, raw, messages)
                assert final is not None
                response = final
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        self._end(plan, event_id, self._chat_end(messages)(response))
        return response

    async def _routed_achat(self, messages: Sequence[ChatMessage], context: Context,
                            kwargs: dict[str, Any]) -> ChatResponse:
        await self._apace()
        messages = list(messages)
        rest, tools = self._split(kwargs)
        plan = self._plan(to_uniscale_messages(messages), CallSpec("chat", rest), tools, context)
        event_id = self._start(plan, self._chat_payload(messages, kwargs))
        try:
            if tools is None:
                response: ChatResponse = self._finish(
                    await self.router.arun(plan.decision, plan.base), plan)
            else:
                raw = await plan.child.achat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
                final = self._observe_stream(plan, raw, messages)
                assert final is not None
                response = final
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        self._end(plan, event_id, self._chat_end(messages)(response))
        return response

    def _routed_stream_chat(self, messages: Sequence[ChatMessage], context: Context,
                            kwargs: dict[str, Any]) -> ChatResponseGen:
        self._pace()
        messages = list(messages)
        rest, tools = self._split(kwargs)
        spec = CallSpec("chat", rest)
        plan = self._plan(to_uniscale_messages(messages), spec, tools, context)
        end = self._chat_end(messages)
        event_id = self._start(plan, self._chat_payload(messages, kwargs))
        try:
            if tools is not None:
                chunks = plan.child.stream_chat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
            elif plan.decision.arm.n == 1:
                chunks = plan.child.stream_chat(from_uniscale_messages(plan.request.messages),
                                                **child_kwargs(plan.request, spec))
            else:
                whole = self._whole(plan, self.router.run(plan.decision, plan.base))
                return self._once(plan, whole, event_id, end(whole))
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        return self._relay(plan, chunks, messages, event_id, end)

    async def _routed_astream_chat(self, messages: Sequence[ChatMessage], context: Context,
                                   kwargs: dict[str, Any]) -> ChatResponseAsyncGen:
        await self._apace()
        messages = list(messages)
        rest, tools = self._split(kwargs)
        spec = CallSpec("chat", rest)
        plan = self._plan(to_uniscale_messages(messages), spec, tools, context)
        end = self._chat_end(messages)
        event_id = self._start(plan, self._chat_payload(messages, kwargs))
        try:
            if tools is not None:
                chunks = await plan.child.astream_chat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
            elif plan.decision.arm.n == 1:
                chunks = await plan.child.astream_chat(
                    from_uniscale_messages(plan.request.messages),
                    **child_kwargs(plan.request, spec))
            else:
                whole = self._whole(plan, await self.router.arun(plan.decision, plan.base))
                return self._aonce(plan, whole, event_id, end(whole))
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        return self._arelay(plan, chunks, messages, event_id, end)

    def _routed_complete(self, prompt: str, formatted: bool, context: Context,
                         kwargs: dict[str, Any]) -> CompletionResponse:
        self._pace()
        plan = self._plan((us.Message("user", prompt),), CallSpec("complete", kwargs, formatted),
                          context=context)
        event_id = self._start(plan, self._completion_payload(prompt, kwargs))
        try:
            response: CompletionResponse = self._finish(
                self.router.run(plan.decision, plan.base), plan)
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        self._end(plan, event_id, self._completion_end(prompt)(response))
        return response

    async def _routed_acomplete(self, prompt: str, formatted: bool, context: Context,
                                kwargs: dict[str, Any]) -> CompletionResponse:
        await self._apace()
        plan = self._plan((us.Message("user", prompt),), CallSpec("complete", kwargs, formatted),
                          context=context)
        event_id = self._start(plan, self._completion_payload(prompt, kwargs))
        try:
            response: CompletionResponse = self._finish(
                await self.router.arun(plan.decision, plan.base), plan)
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        self._end(plan, event_id, self._completion_end(prompt)(response))
        return response

    def _routed_stream_complete(self, prompt: str, formatted: bool, context: Context,
                                kwargs: dict[str, Any]) -> CompletionResponseGen:
        self._pace()
        spec = CallSpec("complete", kwargs, formatted)
        plan = self._plan((us.Message("user", prompt),), spec, context=context)
        end = self._completion_end(prompt)
        event_id = self._start(plan, self._completion_payload(prompt, kwargs))
        asked = prompt_from_messages(plan.request.messages)
        try:
            if plan.decision.arm.n == 1:
                chunks = plan.child.stream_complete(asked, formatted=formatted,
                                                    **child_kwargs(plan.request, spec))
            else:
                whole = self._whole(plan, self.router.run(plan.decision, plan.base))
                return self._once(plan, whole, event_id, end(whole))
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        return self._relay(plan, chunks, asked, event_id, end)

    async def _routed_astream_complete(self, prompt: str, formatted: bool, context: Context,
                                       kwargs: dict[str, Any]) -> CompletionResponseAsyncGen:
        await self._apace()
        spec = CallSpec("complete", kwargs, formatted)
        plan = self._plan((us.Message("user", prompt),), spec, context=context)
        end = self._completion_end(prompt)
        event_id = self._start(plan, self._completion_payload(prompt, kwargs))
        asked = prompt_from_messages(plan.request.messages)
        try:
            if plan.decision.arm.n == 1:
                chunks = await plan.child.astream_complete(asked, formatted=formatted,
                                                           **child_kwargs(plan.request, spec))
            else:
                whole = self._whole(plan, await self.router.arun(plan.decision, plan.base))
                return self._aonce(plan, whole, event_id, end(whole))
        except BaseException as exc:
            self._fail(plan, event_id, exc)
        return self._arelay(plan, chunks, asked, event_id, end)
