"""``UniScaleLLM``: a LlamaIndex LLM that routes every call through a UniScale router."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import EventPayload
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection

import uniscale as us

from .backend import CALL_KEY, CallSpec, ChildBackend, child_kwargs
from .convert import from_uniscale_messages, prompt_from_messages, to_uniscale_messages
from .plumbing import TOOLS_KEY, Plan, RoutingMixin, Tools
from .responses import INFO_KEY, find_decision_id
from .tracking import DecisionIndex, Tracker, tracking

__all__ = ["UniScaleLLM"]

class UniScaleLLM(RoutingMixin, FunctionCallingLLM):
    """A LlamaIndex LLM that picks, per call, a child model and its test-time compute.

    Each call is routed by a :class:`uniscale.Router` to an arm (model, strategy, n); the
    arm's strategy runs on the chosen child LLM(s) and one response comes back. Its
    ``additional_kwargs`` hold the token counts summed over the samples
    (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) and, under
    ``"uniscale"``, the decision id, arm, predicted and observed cost and vote share.
    Give feedback with :meth:`feedback` or :meth:`track`.

    The router reports each routed call once to its own callback handlers (a
    ``TokenCountingHandler`` sees summed totals); instrumentation events come from the
    children's real calls, once each.

    Args:
        models: Child LLMs by model name (the names used in arms and prices).
        router: A ready router; its arms' models must be keys of ``models``. Its backends
            are replaced by the children.
        prices: Price per model (``uniscale.Price``, ``{"input":, "output":}`` or a pair),
            USD per 1M tokens. Required without ``router``.
        strategies: Strategies crossed with ``models`` and ``n`` (default ``Single()``).
        n: Sample counts (default ``(1,)``).
        arms: Explicit arms instead of the product of models, strategies and n.
        objective: ``uniscale.Tradeoff`` or ``uniscale.Budget``.
        seed: Seed of the router.
        router_options: Further keyword arguments of :class:`uniscale.Router`.
        **kwargs: Fields of LlamaIndex's ``LLM`` (``callback_manager``, ``system_prompt``...).
    """

    models: dict[str, LLM] = Field(description="Child LLMs by model name.")
    router: Any = Field(default=None, exclude=True, description="The uniscale.Router.")

    _spans: DecisionIndex = PrivateAttr(default_factory=DecisionIndex)
    _counter: Any = PrivateAttr(default=None)

    def __init__(
        self,
        models: Mapping[str, LLM],
        *,
        router: us.Router | None = None,
        prices: Mapping[str, Any] | None = None,
        strategies: Sequence[us.Strategy] | None = None,
        n: Sequence[int] | None = None,
        arms: us.ArmSpace | Iterable[us.Arm] | None = None,
        objective: us.Tradeoff | us.Budget | None = None,
        seed: int = 0,
        router_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not models:
            raise us.ConfigurationError("UniScaleLLM needs models={'name': llm, ...}")
        if router is None:
            if prices is None:
                raise us.ConfigurationError(
                    "UniScaleLLM needs prices= (uniscale.Price per model, USD per 1M tokens) "
                    "or a ready router="
                )
            space = arms if arms is not None else us.ArmSpace.product(
                list(models), strategies or (us.Single(),), n or (1,))
            router = us.Router(space, prices, objective, seed=seed, **dict(router_options or {}))
        elif any(v is not None for v in (prices, strategies, n, arms, objective, router_options)):
            raise us.ConfigurationError(
                "pass either router= or the router settings (prices, strategies, n, arms, "
                "objective, router_options), not both"
            )
        missing = [m for m in router.arms.models if m not in models]
        if missing:
            raise us.MissingBackendError(
                f"arm model(s) {missing} have no child LLM: add them to models= "
                f"(known: {sorted(models)})"
            )
        super().__init__(models=dict(models), router=router, **kwargs)
        for model in router.arms.models:
            router.set_backend(model, ChildBackend(partial(self._child, model), self._tokens))

    @classmethod
    def class_name(cls) -> str:
        return "UniScaleLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """What the whole pool can do: the smallest context window, tools only if all can."""
        used = [self.models[m].metadata for m in self.router.arms.models]
        windows = [m.context_window for m in used if m.context_window > 0]
        outputs = [m.num_output for m in used if m.num_output > 0]
        return LLMMetadata(
            context_window=min(windows) if windows else DEFAULT_CONTEXT_WINDOW,
            num_output=max(outputs) if outputs else DEFAULT_NUM_OUTPUTS,
            is_chat_model=all(m.is_chat_model for m in used),
            is_function_calling_model=bool(self._tool_arms())
            and all(m.is_function_calling_model for m in used),
            model_name="uniscale:" + ",".join(self.router.arms.models),
        )

    # -- feedback ---------------------------------------------------------------------
    def decision_id(self, target: Any) -> str:
        """The decision id of a response, a decision id or a span id of a routed call.

        Raises:
            uniscale.UnknownDecisionError: ``target`` carries no UniScale decision.
        """
        if isinstance(target, str):
            return self._spans.get(target) or target
        found = find_decision_id(target)
        if found is None:
            raise us.UnknownDecisionError(
                f"{type(target).__name__} carries no UniScale decision: pass a response "
                "returned by UniScaleLLM, its decision id, or the span id of the call "
                "(or wrap the calls in `with llm.track() as t:` and use t.feedback)"
            )
        return found

    def feedback(self, target: Any, score: float, cost: float | None = None) -> bool:
        """Learn how good a routed call was.

        Args:
            target: A response of this LLM (or an object whose ``raw`` carries its
                routing facts), a decision id, or the instrumentation span id of the call.
            score: Quality in ``[0, 1]``.
            cost: Observed USD, when known better than from the token counts.

        Returns:
            True when learned; False when ignored (router built with
            ``on_invalid_feedback="ignore"``).

        Raises:
            uniscale.UnknownDecisionError: Unknown or expired id.
            uniscale.DuplicateFeedbackError: Feedback for the call was already given.
            uniscale.InvalidScoreError: Score or cost out of range.
        """
        return bool(self.router.feedback(self.decision_id(target), score, cost=cost))

    def track(self) -> AbstractContextManager[Tracker]:
        """Collect the routed calls made inside a ``with`` block; ``t.feedback(s)`` credits all.

        Example:
            ``with llm.track() as t: answer = query_engine.query(q)``, then
            ``t.feedback(1.0)``.
        """
        return tracking(Tracker(self, self.feedback))

    # -- tools ------------------------------------------------------------------------
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Package the tool call; the chosen child prepares it once the arm is chosen."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role="user", content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        options = {"verbose": verbose, "allow_parallel_tool_calls": allow_parallel_tool_calls,
                   "tool_required": tool_required, **kwargs}
        return {"messages": messages, TOOLS_KEY: Tools(list(tools), options)}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """Read tool calls the way the child that answered does."""
        info = response.additional_kwargs.get(INFO_KEY) or {}
        child = self.models.get(str(info.get("model")))
        if not isinstance(child, FunctionCallingLLM):
            raise us.UnknownDecisionError(
                "this response was not produced by a function-calling child of UniScaleLLM"
            )
        raw = response.raw.get("response") if isinstance(response.raw, dict) else response.raw
        return child.get_tool_calls_from_response(
            response.model_copy(update={"raw": raw}), error_on_no_tool_call=error_on_no_tool_call,
            **kwargs)

    # -- chat -------------------------------------------------------------------------
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Route a chat call and run the arm's strategy on the chosen child(ren)."""
        messages = list(messages)
        event_id = self._chat_start(messages, kwargs)
        plan: Plan | None = None
        try:
            rest, tools = self._split(kwargs)
            if tools is None:
                result = self.router.invoke(to_uniscale_messages(messages),
                                            **{CALL_KEY: CallSpec("chat", rest)})
                response = self._finish(result, active_span_id.get(), result.sample.payload)
            else:
                plan = self._plan(to_uniscale_messages(messages), CallSpec("chat", rest), tools)
                raw = plan.child.chat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
                final = self._observe_stream(plan, raw, messages)
                assert final is not None
                response = final
        except BaseException as exc:
            self._abandon(plan)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        self._end(event_id, self._chat_end(messages)(response))
        return response

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async form of :meth:`chat`."""
        messages = list(messages)
        event_id = self._chat_start(messages, kwargs)
        plan: Plan | None = None
        try:
            rest, tools = self._split(kwargs)
            if tools is None:
                result = await self.router.ainvoke(to_uniscale_messages(messages),
                                                   **{CALL_KEY: CallSpec("chat", rest)})
                response = self._finish(result, active_span_id.get(), result.sample.payload)
            else:
                plan = self._plan(to_uniscale_messages(messages), CallSpec("chat", rest), tools)
                raw = await plan.child.achat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
                final = self._observe_stream(plan, raw, messages)
                assert final is not None
                response = final
        except BaseException as exc:
            self._abandon(plan)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        self._end(event_id, self._chat_end(messages)(response))
        return response

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Route, then stream the chosen child (a multi-sample arm yields one chunk)."""
        messages = list(messages)
        end = self._chat_end(messages)
        event_id = self._chat_start(messages, kwargs)
        plan: Plan | None = None
        try:
            rest, tools = self._split(kwargs)
            spec = CallSpec("chat", rest)
            plan = self._plan(to_uniscale_messages(messages), spec, tools)
            if tools is not None:
                chunks = plan.child.stream_chat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
            elif plan.decision.arm.n == 1:
                chunks = plan.child.stream_chat(from_uniscale_messages(plan.request.messages),
                                                **child_kwargs(plan.request, spec))
            else:
                result = self.router.run(plan.decision, plan.base)
                whole = self._whole(plan, result)
                return self._once(whole, event_id, end(whole))
        except BaseException as exc:
            self._abandon(plan)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        return self._relay(plan, chunks, messages, event_id, end)

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async form of :meth:`stream_chat`."""
        messages = list(messages)
        end = self._chat_end(messages)
        event_id = self._chat_start(messages, kwargs)
        plan: Plan | None = None
        try:
            rest, tools = self._split(kwargs)
            spec = CallSpec("chat", rest)
            plan = self._plan(to_uniscale_messages(messages), spec, tools)
            if tools is not None:
                chunks = await plan.child.astream_chat_with_tools(  # type: ignore[attr-defined]
                    tools.tools, chat_history=messages, **{**rest, **tools.options})
            elif plan.decision.arm.n == 1:
                chunks = await plan.child.astream_chat(
                    from_uniscale_messages(plan.request.messages),
                    **child_kwargs(plan.request, spec))
            else:
                result = await self.router.arun(plan.decision, plan.base)
                whole = self._whole(plan, result)
                return self._aonce(whole, event_id, end(whole))
        except BaseException as exc:
            self._abandon(plan)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        return self._arelay(plan, chunks, messages, event_id, end)

    # -- completion -------------------------------------------------------------------
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Route a completion call and run the arm's strategy on the chosen child(ren)."""
        event_id = self._completion_start(prompt, kwargs)
        try:
            result = self.router.invoke([us.Message("user", prompt)],
                                        **{CALL_KEY: CallSpec("complete", kwargs, formatted)})
            response = self._finish(result, active_span_id.get(), result.sample.payload)
        except BaseException as exc:
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        self._end(event_id, self._completion_end(prompt)(response))
        return response

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async form of :meth:`complete`."""
        event_id = self._completion_start(prompt, kwargs)
        try:
            result = await self.router.ainvoke(
                [us.Message("user", prompt)], **{CALL_KEY: CallSpec("complete", kwargs, formatted)})
            response = self._finish(result, active_span_id.get(), result.sample.payload)
        except BaseException as exc:
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        self._end(event_id, self._completion_end(prompt)(response))
        return response

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Route, then stream the chosen child (a multi-sample arm yields one chunk)."""
        end = self._completion_end(prompt)
        event_id = self._completion_start(prompt, kwargs)
        plan: Plan | None = None
        try:
            spec = CallSpec("complete", kwargs, formatted)
            plan = self._plan((us.Message("user", prompt),), spec)
            if plan.decision.arm.n == 1:
                chunks = plan.child.stream_complete(
                    prompt_from_messages(plan.request.messages), formatted=formatted,
                    **child_kwargs(plan.request, spec))
            else:
                result = self.router.run(plan.decision, plan.base)
                whole = self._whole(plan, result)
                return self._once(whole, event_id, end(whole))
        except BaseException as exc:
            self._abandon(plan)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        return self._relay(plan, chunks, prompt_from_messages(plan.request.messages),
                           event_id, end)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async form of :meth:`stream_complete`."""
        end = self._completion_end(prompt)
        event_id = self._completion_start(prompt, kwargs)
        plan: Plan | None = None
        try:
            spec = CallSpec("complete", kwargs, formatted)
            plan = self._plan((us.Message("user", prompt),), spec)
            if plan.decision.arm.n == 1:
                chunks = await plan.child.astream_complete(
                    prompt_from_messages(plan.request.messages), formatted=formatted,
                    **child_kwargs(plan.request, spec))
            else:
                result = await self.router.arun(plan.decision, plan.base)
                whole = self._whole(plan, result)
                return self._aonce(whole, event_id, end(whole))
        except BaseException as exc:
            self._abandon(plan)
            self._end(event_id, {EventPayload.EXCEPTION: exc})
            raise
        return self._arelay(
            plan, chunks, prompt_from_messages(plan.request.messages), event_id, end)
