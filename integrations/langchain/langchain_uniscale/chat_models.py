"""``ChatUniScale``: a LangChain chat model that routes every call and learns from feedback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils import from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from uniscale import (
    Arm,
    ArmSpace,
    ConfigurationError,
    Decision,
    DuplicateFeedbackError,
    MissingBackendError,
    Request,
    Result,
    Router,
    Single,
    Usage,
)

from .backend import CHILD_KWARGS, TOOL_CHOICE, TOOLS, ChatModelBackend, PreparedCall
from .convert import (
    estimate_usage,
    message_to_chunk,
    to_uniscale_messages,
    usage_from_metadata,
)
from .replies import StreamTally, build_reply, clean_chunk, last_chunk
from .runs import RunIndex, enable_run_tracking, parse_run_id, resolve_targets, run_graph

__all__ = ["ChatUniScale"]


@dataclass(frozen=True)
class _Call:
    """One routed call: the core messages, the arms it may use, stop and child options."""

    messages: tuple[Any, ...]
    allowed: Callable[[Arm], bool] | None
    stop: list[str] | None
    options: dict[str, Any]


class ChatUniScale(BaseChatModel):
    """Routes each call to an arm (model, test-time strategy, n) and learns online.

    A drop-in chat model: give it child chat models and prices, use it wherever a chat
    model goes (chains, agents, ``bind_tools``, ``with_structured_output``, streaming,
    batch), and feed back how good each answer was with :meth:`feedback`.

    Setup:
        ```python
        import uniscale as us
        from langchain_uniscale import ChatUniScale

        chat = ChatUniScale(
            models={"small": small_chat_model, "large": large_chat_model},
            prices={"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)},
            strategies=[us.Single(), us.SelfConsistency()],
            n=[1, 5],
            objective=us.Tradeoff(willingness_to_pay=0.01),
        )
        reply = chat.invoke("What is 17 * 23?")
        chat.feedback(reply, score=1.0)
        ```

    Every reply carries ``response_metadata["model_name"]`` (the chosen model's key),
    the child's ``model_provider``, and ``response_metadata["uniscale"]`` with the
    decision id, arm, predicted and observed cost and the vote share. ``usage_metadata``
    is the sum over every sample the arm drew.

    Tool calls: requests with tools go only to arms whose strategy can handle tool calls
    (``strategy.supports_tools``; in the core that is :class:`uniscale.Single`, n=1).
    The per-call ``model=`` keyword pins the call to one model's arms.
    """

    models: dict[str, BaseChatModel]
    """Child chat models by name; the names are the arms' models and price keys."""
    router: Any = None
    """A ready :class:`uniscale.Router`; built from the settings below when omitted."""
    strategies: list[Any] | None = None
    """Core strategies (default ``[uniscale.Single()]``)."""
    n: list[int] | None = None
    """Sample counts of the multi-sample strategies (default ``[1]``)."""
    prices: dict[str, Any] | None = None
    """``uniscale.Price`` per model, USD per 1M tokens."""
    objective: Any = None
    """``uniscale.Tradeoff`` or ``uniscale.Budget`` (default: the core's)."""
    featurizer: Any = None
    """Context featurizer (default: the core's hashing featurizer)."""
    alpha: float = 1.0
    """Exploration width of LinUCB."""
    seed: int = 0
    """Seed of the router's tie-breaking."""
    fallback: list[str] | None = None
    """Models whose single-sample arm serves a call when the chosen arm's child fails."""
    state_path: str | None = Field(default_factory=from_env("UNISCALE_STATE_PATH", default=None))
    """Learned-state file: loaded at construction when it exists, written by :meth:`save`."""
    temperature: float | None = None
    """Temperature for single-sample arms (multi-sample strategies set their own)."""
    max_tokens: int | None = None
    """Cap on generated tokens, given to children that have a ``max_tokens`` field."""
    stop: list[str] | None = None
    """Default stop sequences."""
    streaming: bool = False
    """Whether ``invoke`` streams internally."""
    track_runs: bool = True
    """Record parent links of LangChain runs so that feedback on a root run id works."""

    _backends: dict[str, ChatModelBackend] = PrivateAttr(default_factory=dict)
    _runs: RunIndex = PrivateAttr(default_factory=lambda: RunIndex(run_graph()))

    def __init__(self, **data: Any) -> None:
        """Validate the settings, then build (or adopt) the router and attach the children.

        Raises:
            uniscale.ConfigurationError: Settings the core rejects (a missing price, no
                models, a router whose models have no chat model, ...).
        """
        super().__init__(**data)
        self._build_router()

    def _build_router(self) -> None:
        if not self.models:
            raise ConfigurationError("ChatUniScale needs models={'name': chat_model, ...}")
        self._backends = {name: ChatModelBackend(name, m) for name, m in self.models.items()}
        if self.router is None:
            arms = ArmSpace.product(list(self.models), self.strategies or [Single()],
                                    self.n or [1])
            if self.state_path and os.path.exists(self.state_path):
                self.router = Router.load(self.state_path, backends=self._backends,
                                          featurizer=self.featurizer, arms=arms)
            else:
                self.router = Router(arms, self.prices or {}, self.objective, self._backends,
                                     featurizer=self.featurizer, alpha=self.alpha,
                                     seed=self.seed,
                                     fallback=[Arm(m, Single()) for m in self.fallback or []])
        elif isinstance(self.router, Router):
            missing = [m for m in self.router.arms.models if m not in self._backends]
            if missing:
                raise MissingBackendError(
                    f"the router's arms use models {missing} that are not in models= "
                    f"(known: {sorted(self.models)}); add their chat models")
            for name, backend in self._backends.items():
                self.router.set_backend(name, backend)
        else:
            raise ConfigurationError(
                f"router= must be a uniscale.Router, got {type(self.router).__name__}")
        self._runs = RunIndex(enable_run_tracking() if self.track_runs else run_graph())

    # -- LangChain plumbing -----------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "uniscale"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"models": sorted(self.models), "arms": [a.key for a in self.router.arms]}

    @property
    def _ls_model_name(self) -> str:
        return "uniscale[" + ",".join(self.models) + "]"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing params: provider ``uniscale``; the model is the router, not a child.

        The arm is chosen after tracing starts, so ``ls_model_name`` names the router
        (or the model pinned with ``model=``); the chosen child is in the reply's
        ``response_metadata["model_name"]``.
        """
        model = kwargs.get("model")
        params = LangSmithParams(
            ls_provider="uniscale",
            ls_model_name=model if isinstance(model, str) else self._ls_model_name,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = list(stop or self.stop or [])
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; each call forwards them to the chosen child's own ``bind_tools``.

        Args:
            tools: Tools in any form ``convert_to_openai_tool`` accepts.
            tool_choice: Passed on to the child (``"auto"``, ``"any"``, a tool name...).
            **kwargs: Further arguments bound to every call.

        Returns:
            A runnable that routes only to arms able to return tool calls.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs[TOOL_CHOICE] = tool_choice
        return super().bind(tools=formatted, **kwargs)

    # -- one call ---------------------------------------------------------------------
    def _call(self, messages: list[BaseMessage], stop: list[str] | None,
              kwargs: dict[str, Any]) -> _Call:
        kwargs = dict(kwargs)
        model = kwargs.pop("model", None)
        tools = kwargs.pop(TOOLS, None)
        tool_choice = kwargs.pop(TOOL_CHOICE, None)
        kwargs.pop("stream", None)
        if model is not None and model not in self.models:
            raise ConfigurationError(
                f"model={model!r} is not one of this router's models {sorted(self.models)}")
        allowed: Callable[[Arm], bool] | None = None
        if tools or model is not None:
            def allowed(arm: Arm) -> bool:
                return (not tools or arm.strategy.supports_tools) and (
                    model is None or arm.model == model)
        options: dict[str, Any] = {CHILD_KWARGS: kwargs}
        if tools:
            options[TOOLS] = tools
            options[TOOL_CHOICE] = tool_choice
        return _Call(to_uniscale_messages(messages), allowed,
                     stop if stop is not None else self.stop, options)

    def _base_request(self, call: _Call) -> Request:
        return Request(call.messages, temperature=self.temperature,
                       stop=tuple(call.stop) if call.stop else None,
                       max_tokens=self.max_tokens, options=call.options)

    @staticmethod
    def _result_reply(result: Result) -> AIMessage:
        return build_reply(result.decision, result.samples, result.chosen, result.cost,
                           result.usage, result.answer, result.agreement)

    def _record(self, run_id: Any, decision_id: str, parent_run_id: Any = None) -> None:
        if run_id is not None:
            self._runs.record(run_id, decision_id, parent_run_id)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        call = self._call(messages, stop, kwargs)
        result = self.router.invoke(call.messages, allowed=call.allowed,
                                    temperature=self.temperature, stop=call.stop,
                                    max_tokens=self.max_tokens, **call.options)
        if run_manager is not None:
            self._record(run_manager.run_id, result.decision.id, run_manager.parent_run_id)
        return ChatResult(generations=[ChatGeneration(message=self._result_reply(result))])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        call = self._call(messages, stop, kwargs)
        result = await self.router.ainvoke(call.messages, allowed=call.allowed,
                                           temperature=self.temperature, stop=call.stop,
                                           max_tokens=self.max_tokens, **call.options)
        if run_manager is not None:
            self._record(run_manager.run_id, result.decision.id, run_manager.parent_run_id)
        return ChatResult(generations=[ChatGeneration(message=self._result_reply(result))])

    # -- streaming --------------------------------------------------------------------
    def _usage(self, call: PreparedCall, tally: StreamTally) -> tuple[Usage, bool]:
        usage = usage_from_metadata(tally.usage)
        if usage is None:
            return estimate_usage(call.messages, AIMessage(content="".join(tally.text))), True
        return usage, False

    def _whole(self, result: Result) -> ChatGenerationChunk:
        """A multi-sample (or fallback) answer as the single chunk of a stream."""
        return ChatGenerationChunk(message=message_to_chunk(self._result_reply(result)))

    def _broken(self, decision: Decision, call: PreparedCall, tally: StreamTally,
                sent: bool) -> Decision | None:
        """Report a child stream that failed; the fallback decision if one may serve."""
        usage = self._usage(call, tally)[0] if tally.text or tally.usage else None
        return self.router.report_failure(decision, usage=usage, fallback=not sent)

    def _start_stream(self, messages: list[BaseMessage], stop: list[str] | None,
                      kwargs: dict[str, Any], *, async_api: bool
                      ) -> tuple[Decision, ChatModelBackend, Request, bool]:
        call = self._call(messages, stop, kwargs)
        decision = self.router.decide(call.messages, allowed=call.allowed)
        backend = self._backends[decision.arm.model]
        base = self._base_request(call)
        streams = decision.arm.n == 1 and backend.streams(async_api=async_api)
        return decision, backend, base, streams

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        decision, backend, base, streams = self._start_stream(messages, stop, kwargs,
                                                              async_api=False)
        run_id: Any = run_manager.run_id if run_manager else None
        if streams:
            call = backend.prepare(decision.arm.strategy.request(base, 1))
            tally, held, sent = StreamTally(), None, False
            try:
                for chunk in backend.stream(call):
                    tally.add(chunk)
                    if held is not None:
                        yield held
                        sent = True
                        run_id = run_id or parse_run_id(held.message.id)
                    held = clean_chunk(chunk)
            except Exception:
                nxt = self._broken(decision, call, tally, sent)
                if nxt is None:
                    raise
                decision, streams = nxt, False
            else:
                usage, estimated = self._usage(call, tally)
                cost = self.router.observe(decision.id, usage, samples=1)
                last = last_chunk(held, decision, cost, tally.child_model, estimated)
                yield last
                self._record(run_id or parse_run_id(last.message.id), decision.id)
                return
        whole = self._whole(self.router.run(decision, base))
        yield whole
        self._record(run_id or parse_run_id(whole.message.id), decision.id)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        decision, backend, base, streams = self._start_stream(messages, stop, kwargs,
                                                              async_api=True)
        run_id: Any = run_manager.run_id if run_manager else None
        if streams:
            call = backend.prepare(decision.arm.strategy.request(base, 1))
            tally, held, sent = StreamTally(), None, False
            try:
                async for chunk in backend.astream(call):
                    tally.add(chunk)
                    if held is not None:
                        yield held
                        sent = True
                        run_id = run_id or parse_run_id(held.message.id)
                    held = clean_chunk(chunk)
            except Exception:
                nxt = self._broken(decision, call, tally, sent)
                if nxt is None:
                    raise
                decision, streams = nxt, False
            else:
                usage, estimated = self._usage(call, tally)
                cost = self.router.observe(decision.id, usage, samples=1)
                last = last_chunk(held, decision, cost, tally.child_model, estimated)
                yield last
                self._record(run_id or parse_run_id(last.message.id), decision.id)
                return
        whole = self._whole(await self.router.arun(decision, base))
        yield whole
        self._record(run_id or parse_run_id(whole.message.id), decision.id)

    # -- feedback and state -----------------------------------------------------------
    def feedback(self, target: Any, score: float, cost: float | None = None) -> list[str]:
        """Learn how good a routed answer was.

        Args:
            target: The LangChain run id of the call, or of the chain or agent run that
                contains it (every routed call inside is credited); the ``AIMessage``
                the call returned; or the decision id.
            score: Quality in ``[0, 1]``.
            cost: Observed USD, when it is known better than the children's usage.

        Returns:
            The decision ids that learned from this score.

        Raises:
            uniscale.UnknownDecisionError: The target names no routed call.
            uniscale.DuplicateFeedbackError: Every decision named already has feedback.
            uniscale.InvalidScoreError: The score is NaN, infinite or out of range.
        """
        decisions = resolve_targets(target, self._runs)
        credited: list[str] = []
        duplicate: DuplicateFeedbackError | None = None
        for decision_id in decisions:
            try:
                spent = cost if len(decisions) == 1 else None
                if self.router.feedback(decision_id, score, spent):
                    credited.append(decision_id)
            except DuplicateFeedbackError as exc:
                if len(decisions) == 1:
                    raise
                duplicate = exc
        if duplicate is not None and not credited:
            raise duplicate
        return credited

    def save(self, path: str | None = None) -> None:
        """Save the learned state (to ``path``, else to ``state_path``).

        Raises:
            uniscale.ConfigurationError: Neither ``path`` nor ``state_path`` is set.
        """
        target = path or self.state_path
        if not target:
            raise ConfigurationError("save() needs a path, or state_path= on ChatUniScale")
        self.router.save(target)
