"""Plumbing of ``UniScaleLLM``: deciding, running, streaming and reporting routed calls."""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM
from llama_index.core.utilities.token_counting import TokenCounter

import uniscale as us

from .backend import CALL_KEY, CallSpec, measure
from .responses import decision_info, sample_usage, tag
from .tracking import DecisionIndex, active_trackers

__all__ = ["TOOLS_KEY", "Plan", "RoutingMixin", "Tools"]

TOOLS_KEY = "uniscale_tools"
"""Keyword of a chat call that carries a tool call prepared by ``_prepare_chat_with_tools``."""

R = TypeVar("R", ChatResponse, CompletionResponse)


@dataclass(frozen=True)
class Tools:
    """A tool call prepared by ``_prepare_chat_with_tools``, run by the chosen child."""

    tools: Sequence[Any]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """A decided call that has not run yet (streaming and tool calls)."""

    decision: us.Decision
    span_id: str | None
    base: us.Request
    child: LLM
    request: us.Request
    info: dict[str, Any]
    tools: Tools | None = None


class RoutingMixin:
    """Helpers of :class:`~llama_index.llms.uniscale.UniScaleLLM` (no public API)."""

    if TYPE_CHECKING:
        models: dict[str, LLM]
        router: us.Router
        callback_manager: CallbackManager
        _spans: DecisionIndex
        _counter: TokenCounter | None

        def to_payload(self) -> dict[str, Any]: ...

    def _tokens(self) -> TokenCounter:
        if self._counter is None:
            self._counter = TokenCounter()
        return self._counter

    def _child(self, model: str) -> LLM:
        """The child to call: a copy without the router's own callback handlers if shared."""
        child = self.models[model]
        mine = {id(h) for h in self.callback_manager.handlers}
        theirs = child.callback_manager.handlers
        if not any(id(h) in mine for h in theirs):
            return child
        quiet = CallbackManager([])
        quiet.handlers = [h for h in theirs if id(h) not in mine]
        return child.model_copy(update={"callback_manager": quiet})

    def _tool_arms(self) -> list[us.Arm]:
        return [
            a for a in self.router.arms
            if a.strategy.supports_tools and a.n == 1 and isinstance(
                self.models.get(a.model), FunctionCallingLLM)
            and self.models[a.model].metadata.is_function_calling_model
        ]

    def _register(self, decision_id: str, span_id: str | None, info: dict[str, Any]) -> None:
        if span_id:
            self._spans.put(span_id, decision_id)
        for tracker in active_trackers(self):
            tracker.add(decision_id, info)

    def _start(self, payload: dict[str, Any]) -> str:
        return self.callback_manager.on_event_start(CBEventType.LLM, payload=payload)

    def _end(self, event_id: str, payload: dict[str, Any]) -> None:
        self.callback_manager.on_event_end(CBEventType.LLM, payload=payload, event_id=event_id)

    def _chat_start(self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]) -> str:
        return self._start({EventPayload.MESSAGES: messages,
                            EventPayload.ADDITIONAL_KWARGS: dict(kwargs),
                            EventPayload.SERIALIZED: self.to_payload()})

    def _completion_start(self, prompt: str, kwargs: Mapping[str, Any]) -> str:
        return self._start({EventPayload.PROMPT: [prompt],
                            EventPayload.ADDITIONAL_KWARGS: dict(kwargs),
                            EventPayload.SERIALIZED: self.to_payload()})

    def _finish(self, result: us.Result, span_id: str | None, response: R,
                plan: Plan | None = None) -> R:
        """Tag the chosen sample's response; register the call unless a plan already did."""
        info = decision_info(result.decision, span_id=span_id, cost=result.cost,
                             agreement=result.agreement, answer=result.answer,
                             samples=len(result.samples), errors=result.errors)
        if plan is None:
            self._register(result.decision.id, span_id, info)
        else:
            plan.info.update(info)
        return tag(response, info, sample_usage(result.samples))

    def _plan(self, messages: Sequence[us.Message], spec: CallSpec,
              tools: Tools | None = None) -> Plan:
        """Decide now (tools restrict the choice to tool-capable arms); run later."""
        allowed: list[us.Arm] | None = None
        if tools is not None:
            allowed = self._tool_arms()
            if not allowed:
                raise us.NoArmAllowedError(
                    "no arm can call tools: tools need an n=1 Single arm on a function-"
                    "calling child LLM; add one to the router"
                )
        decision = self.router.decide(messages, allowed=allowed)
        span_id = active_span_id.get()
        info = decision_info(decision, span_id=span_id)
        self._register(decision.id, span_id, info)
        base = us.Request(tuple(messages), options={CALL_KEY: spec})
        request = decision.arm.strategy.request(base, 1)
        return Plan(decision, span_id, base, self._child(decision.arm.model), request, info,
                    tools)

    def _abandon(self, plan: Plan | None, last: Any = None, asked: Any = None) -> None:
        """Forget a decided call whose child failed: it takes no feedback, and it is
        charged only what it used (nothing, when it failed before any output)."""
        if plan is None:
            return
        for tracker in active_trackers(self):
            tracker.discard(plan.decision.id)
        usage = measure(last, asked, self._tokens()) if last is not None else None
        with suppress(us.UniScaleError):
            self.router.report_failure(plan.decision, usage=usage, fallback=False)

    def _whole(self, plan: Plan, result: us.Result) -> Any:
        """The full response of a multi-sample arm, as the single chunk of a stream."""
        response = result.sample.payload
        return self._finish(result, plan.span_id, response, plan).model_copy(
            update={"delta": result.text})

    def _observe_stream(self, plan: Plan, last: R | None, asked: Any) -> R | None:
        usage = measure(last, asked, self._tokens())
        cost = self.router.observe(plan.decision.id, usage)
        if last is None:
            return None
        plan.info["cost"] = cost
        return tag(last, plan.info, usage)

    def _relay(self, plan: Plan, chunks: Iterable[R], asked: Any, event_id: str,
               end: Callable[[R | None], dict[str, Any]]) -> Generator[R, None, None]:
        """Pass a child's stream on, one chunk behind, so the last one carries usage."""
        held: R | None = None
        observed = False
        try:
            for chunk in chunks:
                if held is not None:
                    yield tag(held, plan.info)
                held = chunk
            final = self._observe_stream(plan, held, asked)
            observed = True
            if final is not None:
                yield final
        except BaseException as exc:
            if not observed:
                self._abandon(plan, held, asked)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        self._end(event_id, end(final))

    async def _arelay(self, plan: Plan, chunks: AsyncIterator[R], asked: Any, event_id: str,
                      end: Callable[[R | None], dict[str, Any]]) -> AsyncGenerator[R, None]:
        """Async form of :meth:`_relay`."""
        held: R | None = None
        observed = False
        try:
            async for chunk in chunks:
                if held is not None:
                    yield tag(held, plan.info)
                held = chunk
            final = self._observe_stream(plan, held, asked)
            observed = True
            if final is not None:
                yield final
        except BaseException as exc:
            if not observed:
                self._abandon(plan, held, asked)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        self._end(event_id, end(final))

    def _once(self, response: R, event_id: str, end: dict[str, Any]
              ) -> Generator[R, None, None]:
        yield response
        self._end(event_id, end)

    async def _aonce(self, response: R, event_id: str, end: dict[str, Any]
                     ) -> AsyncGenerator[R, None]:
        yield response
        self._end(event_id, end)

    @staticmethod
    def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], Tools | None]:
        rest = dict(kwargs)
        tools = rest.pop(TOOLS_KEY, None)
        return rest, tools

    @staticmethod
    def _chat_end(messages: Sequence[ChatMessage]) -> Callable[[Any], dict[str, Any]]:
        return lambda r: {EventPayload.MESSAGES: messages, EventPayload.RESPONSE: r}

    @staticmethod
    def _completion_end(prompt: str) -> Callable[[Any], dict[str, Any]]:
        return lambda r: {EventPayload.PROMPT: prompt, EventPayload.COMPLETION: r}

