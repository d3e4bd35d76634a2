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
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM
from llama_index.core.utilities.token_counting import TokenCounter

import uniscale as us
from uniscale.adapters import context_kwargs

from .backend import CALL_KEY, CallSpec, measure
from .failures import provider_error
from .responses import decision_info, model_name, sample_usage, tag
from .tracking import DecisionIndex, active_trackers

__all__ = ["TOOLS_KEY", "Call", "Plan", "RoutingMixin", "Tools"]

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
    """A decided call: what was chosen, where its events go, and what it reported so far.

    Attributes:
        decision: The router's decision (replaced by a fallback's decision if one served).
        span_id: Instrumentation span of the routed call.
        base: The caller's request, as the core sees it.
        child: The chosen child LLM.
        request: ``base`` as the arm's strategy asks it of one sample.
        info: The routing facts (the dict under ``additional_kwargs["uniscale"]``).
        events: The router's own callback handlers that the child does not have.
        spec: How the child is called.
        tools: The tool call to make, if any.
    """

    decision: us.Decision
    span_id: str | None
    base: us.Request
    child: LLM
    request: us.Request
    info: dict[str, Any]
    events: CallbackManager
    spec: CallSpec
    tools: Tools | None = None


@dataclass(frozen=True)
class Call:
    """A routed call in flight: its plan, its callback event and what was asked.

    Attributes:
        plan: The decided call.
        event_id: The router's own callback event of the call.
        asked: The messages (chat) or prompt (completion) as the child gets them.
        end: Builds the end payload of the event from the response.
    """

    plan: Plan
    event_id: str
    asked: Any
    end: Callable[[Any], dict[str, Any]]


class RoutingMixin:
    """Helpers of :class:`~llama_index.llms.uniscale.UniScaleLLM` (no public API).

    Callback events: every child is called through its public methods, so its own
    handlers see each real model call once (one per request of a multi-sample call). The
    router reports a routed call, with the token counts summed over its samples, only to
    those of its own handlers that the chosen child does not have, so no handler counts a
    call twice (a ``TokenCountingHandler`` shared through ``Settings.callback_manager`` sees
    the children's calls; one given only to the router sees one event per routed call).
    Which handlers the router reports to is settled by the decided arm's child: when a
    fallback arm on a child with other handlers serves the call, those may see it from
    both sides or from neither (give every child the same handlers to avoid that).
    """

    if TYPE_CHECKING:
        models: dict[str, LLM]
        router: us.Router
        callback_manager: CallbackManager
        rate_limiter: Any
        _spans: DecisionIndex
        _counter: TokenCounter | None

        def to_payload(self) -> dict[str, Any]: ...

    def _tokens(self) -> TokenCounter:
        if self._counter is None:
            self._counter = TokenCounter()
        return self._counter

    def _pace(self) -> None:
        """Wait for the router's own rate limiter, if one was given (once per routed call;
        each child's limiter paces that child's real calls)."""
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()

    async def _apace(self) -> None:
        """Async form of :meth:`_pace`."""
        if self.rate_limiter is not None:
            await self.rate_limiter.async_acquire()

    def _events_for(self, child: LLM) -> CallbackManager:
        """A manager with the router's handlers that ``child`` does not report to itself."""
        theirs = {id(h) for h in child.callback_manager.handlers}
        manager = CallbackManager([])
        manager.handlers = [h for h in self.callback_manager.handlers if id(h) not in theirs]
        return manager

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

    def _start(self, plan: Plan, payload: dict[str, Any]) -> str:
        return plan.events.on_event_start(CBEventType.LLM, payload=payload)

    @staticmethod
    def _end(plan: Plan, event_id: str, payload: dict[str, Any]) -> None:
        plan.events.on_event_end(CBEventType.LLM, payload=payload, event_id=event_id)

    def _chat_payload(self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]
                      ) -> dict[str, Any]:
        return {EventPayload.MESSAGES: messages, EventPayload.ADDITIONAL_KWARGS: dict(kwargs),
                EventPayload.SERIALIZED: self.to_payload()}

    def _completion_payload(self, prompt: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {EventPayload.PROMPT: [prompt], EventPayload.ADDITIONAL_KWARGS: dict(kwargs),
                EventPayload.SERIALIZED: self.to_payload()}

    def _finish(self, result: us.Result, plan: Plan) -> Any:
        """The chosen sample's response, tagged; a fallback's decision replaces the plan's."""
        fallback = result.decision.id != plan.decision.id
        if fallback:  # the decided arm failed, a fallback arm served the call
            for tracker in active_trackers(self):
                tracker.discard(plan.decision.id)
            plan.decision, plan.child = result.decision, self.models[result.decision.arm.model]
        response = result.sample.payload
        plan.info.update(decision_info(
            result.decision, span_id=plan.span_id, cost=result.cost,
            agreement=result.agreement, answer=result.answer, samples=len(result.samples),
            errors=result.errors, model_name=model_name(plan.child, response)))
        if fallback:
            self._register(result.decision.id, plan.span_id, plan.info)
        return tag(response, plan.info, sample_usage(result.samples))

    def _plan(self, messages: Sequence[us.Message], spec: CallSpec,
              tools: Tools | None = None, context: Mapping[str, Any] | None = None) -> Plan:
        """Decide now (tools restrict the choice to tool-capable arms); run later."""
        allowed: list[us.Arm] | None = None
        if tools is not None:
            allowed = self._tool_arms()
            if not allowed:
                raise us.NoArmAllowedError(
                    "no arm can call tools: tools need an n=1 Single arm on a function-"
                    "calling child LLM; add one to the router"
                )
        if context is None:  # the innermost track(context=...) block's, if any
            context = next((t.context for t in reversed(active_trackers(self))
                            if t.context is not None), None)
        decision = self.router.decide(messages, allowed=allowed, **context_kwargs(
            self.router, context))
        span_id = active_span_id.get()
        child = self.models[decision.arm.model]
        info = decision_info(decision, span_id=span_id, model_name=model_name(child))
        self._register(decision.id, span_id, info)
        base = us.Request(tuple(messages), options={CALL_KEY: spec})
        request = decision.arm.strategy.request(base, 1)
        return Plan(decision, span_id, base, child, request, info, self._events_for(child),
                    spec, tools)

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
        return self._finish(result, plan).model_copy(update={"delta": result.text})

    def _observe_stream(self, plan: Plan, last: R | None, asked: Any) -> R | None:
        usage = measure(last, asked, self._tokens())
        cost = self.router.observe(plan.decision.id, usage)
        if last is None:
            return None
        plan.info["cost"] = cost
        plan.info["model_name"] = model_name(plan.child, last)
        return tag(last, plan.info, usage)

    def _open(self, messages: Sequence[us.Message], spec: CallSpec, tools: Tools | None,
              context: Mapping[str, Any] | None, payload: dict[str, Any], asked: Any,
              end: Callable[[Any], dict[str, Any]]) -> Call:
        """Decide a call and report its start to the router's handlers."""
        plan = self._plan(messages, spec, tools, context)
        return Call(plan, self._start(plan, payload), asked, end)

    def _close(self, call: Call, response: R) -> R:
        self._end(call.plan, call.event_id, call.end(response))
        return response

    def _tool_reply(self, call: Call, raw: R) -> R:
        final = self._observe_stream(call.plan, raw, call.asked)
        assert final is not None
        return final

    def _relay(self, call: Call, chunks: Iterable[R]) -> Generator[R, None, None]:
        """Pass a child's stream on, one chunk behind, so the last one carries usage."""
        plan, held, observed = call.plan, None, False
        try:
            for chunk in chunks:
                if held is not None:
                    yield tag(held, plan.info)
                held = chunk
            final = self._observe_stream(plan, held, call.asked)
            observed = True
            if final is not None:
                yield final
        except BaseException as exc:
            self._broken(call, exc, held, observed)
        self._end(plan, call.event_id, call.end(final))

    async def _arelay(self, call: Call, chunks: AsyncIterator[R]) -> AsyncGenerator[R, None]:
        """Async form of :meth:`_relay`."""
        plan, held, observed = call.plan, None, False
        try:
            async for chunk in chunks:
                if held is not None:
                    yield tag(held, plan.info)
                held = chunk
            final = self._observe_stream(plan, held, call.asked)
            observed = True
            if final is not None:
                yield final
        except BaseException as exc:
            self._broken(call, exc, held, observed)
        self._end(plan, call.event_id, call.end(final))

    def _broken(self, call: Call, exc: BaseException, held: Any, observed: bool) -> NoReturn:
        """A child's stream failed (``held``: its last chunk; ``observed``: usage recorded)."""
        if not observed:
            self._abandon(call.plan, held, call.asked)
        self._end(call.plan, call.event_id, {EventPayload.EXCEPTION: exc})
        raise exc

    def _once(self, call: Call, result: us.Result) -> Generator[Any, None, None]:
        """A multi-sample arm's whole answer as a one-chunk stream."""
        whole = self._whole(call.plan, result)
        yield whole
        self._end(call.plan, call.event_id, call.end(whole))

    async def _aonce(self, call: Call, result: us.Result) -> AsyncGenerator[Any, None]:
        """Async form of :meth:`_once`."""
        whole = self._whole(call.plan, result)
        yield whole
        self._end(call.plan, call.event_id, call.end(whole))

    def _fail(self, call: Call, exc: BaseException) -> NoReturn:
        """Report a failed call and raise: the provider's own exception when every arm
        failed on provider errors (its cause kept, a note saying what UniScale tried),
        else ``exc``."""
        self._abandon(call.plan)
        self._end(call.plan, call.event_id, {EventPayload.EXCEPTION: exc})
        error = provider_error(exc)
        if error is exc:
            raise exc
        raise error from error.__cause__

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

