"""``ChatUniScale``: a LangChain chat model that routes every call and learns from feedback."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils import from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import (
    ConfigDict,
    Field,
    FieldSerializationInfo,
    PrivateAttr,
    SkipValidation,
    field_serializer,
    field_validator,
)

from uniscale import (
    AllSamplesFailedError,
    Arm,
    Budget,
    ConfigurationError,
    Featurizer,
    MissingBackendError,
    Price,
    Result,
    Router,
    Strategy,
    Tradeoff,
)
from uniscale.adapters import CORE_ARGUMENTS, RouterSettings, build_router, check_arguments
from uniscale.cost import as_price

from .backend import TOOL_CHOICE, ChatModelBackend
from .calls import CallPlan, plan_call
from .failures import provider_error
from .feedback import give_feedback
from .pricing import fill_prices
from .replies import build_reply
from .runs import RunIndex, enable_run_tracking, run_graph
from .serde import json_value, lc_kwargs, not_serialisable
from .streaming import (
    RoutedStream,
    StreamRunMixin,
    astreamed_result,
    streamed_result,
)
from .tracing import ls_params

__all__ = ["ChatUniScale"]

PriceLike = Price | tuple[float, float] | dict[str, float]


class ChatUniScale(StreamRunMixin, BaseChatModel):
    """Routes each call to an arm (model, test-time strategy, n) and learns online.

    A drop-in chat model: give it child chat models and prices, use it wherever a chat
    model goes (chains, agents, ``bind_tools``, ``with_structured_output``, streaming,
    batch), and feed back how good each answer was with :meth:`feedback`.

    Setup:
        ```python
        import uniscale as us
        from langchain_openai import ChatOpenAI
        from langchain_uniscale import ChatUniScale

        chat = ChatUniScale(
            models={"mini": ChatOpenAI(model="gpt-4o-mini"), "big": ChatOpenAI(model="gpt-4o")},
            prices={"mini": us.Price(0.15, 0.6), "big": us.Price(2.5, 10.0)},
            strategies=["single", "self-consistency"],
            n=[1, 5],
            objective=us.Tradeoff(willingness_to_pay=0.01),
        )
        reply = chat.invoke("What is 17 * 23?")
        chat.feedback(reply, score=1.0)
        ```

    Children are called through their public interface as runs nested in the router's
    run, so their rate limiters, caches, callbacks and LangSmith runs work; a child with
    a request-level ``n`` (``ChatOpenAI``) draws all samples of an arm in one request.
    Every reply carries the child's own ``response_metadata`` (``model_name`` is the
    child's real model, e.g. ``gpt-4o-mini``), ``usage_metadata`` summed over every sample
    (counted once by ``get_usage_metadata_callback``), and
    ``response_metadata["uniscale"]`` with the alias (``model``), decision id, arm,
    predicted and observed cost and the vote share. When every arm failed, the last
    provider exception is raised with its own type and a note.

    Tool calls go only to arms whose strategy handles them (``Single``) and whose child
    implements ``bind_tools``. The per-call ``model=`` keyword pins a call to one model.
    Context for the router: ``config={"metadata": {"uniscale_context": {...}}}``.
    """

    model_config = ConfigDict(extra="forbid")

    models: dict[str, BaseChatModel]
    """Child chat models by name; the names are the arms' models and price keys."""
    prices: dict[str, PriceLike] | None = None
    """``uniscale.Price`` per model (or ``(input, output)``), USD per 1M tokens."""
    strategies: list[Strategy | str] | None = None
    """Strategies or their names ``"single"``, ``"self-consistency"`` (default single)."""
    n: list[int] | None = None
    """Sample counts of the multi-sample strategies (default ``[1]``)."""
    arms: list[Arm] | None = None
    """Explicit arms instead of models x strategies x n."""
    objective: Tradeoff | Budget | None = None
    """``uniscale.Tradeoff`` or ``uniscale.Budget`` (default: the core's)."""
    alpha: float | None = None
    """Exploration width of LinUCB (default: the core's)."""
    ridge: float | None = None
    """Ridge prior precision (default: the core's)."""
    featurizer: SkipValidation[Featurizer] | None = None
    """Context featurizer (default: the core's hashing featurizer)."""
    fallback: list[Arm | str] | None = None
    """Arms, arm keys or models (their single-sample arm) serving a call whose arm failed."""
    state_path: str | None = Field(default_factory=from_env("UNISCALE_STATE_PATH", default=None))
    """Learned-state file: loaded at construction when it exists (the settings given here
    win, the statistics are kept), written by :meth:`save`."""
    seed: int | None = None
    """Seed of the router (default: the core's)."""
    router: Router | None = Field(default=None, exclude=True)
    """A ready :class:`uniscale.Router`, instead of the settings above (built from them
    when omitted; never part of a dump)."""
    baseline: Arm | str | None = None
    """Baseline arm of conservative exploration (passed to the core when it takes it)."""
    conservative: Any = None
    """Conservative-exploration setting (passed to the core when it takes it)."""
    log: Any = None
    """Decision log (passed to the core when it takes it)."""
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
    _router_given: bool = PrivateAttr(default=False)
    _price_sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _runs: RunIndex = PrivateAttr(default_factory=lambda: RunIndex(run_graph()))

    def __init__(self, **data: Any) -> None:
        """Validate the settings, then build (or load, or adopt) the router.

        Raises:
            uniscale.ConfigurationError: An unknown argument, or settings the core
                rejects (a missing price, no models, an unknown strategy name, ...).
        """
        check_arguments(data, [*type(self).model_fields, "callback_manager"], "ChatUniScale",
                        "LangChain's chat-model fields")
        super().__init__(**data)
        self._router_given = self.router is not None
        self._build_router()

    @field_validator("prices")
    @classmethod
    def _as_prices(cls, value: dict[str, PriceLike] | None) -> dict[str, PriceLike] | None:
        return None if value is None else {m: as_price(p) for m, p in value.items()}

    @field_serializer("strategies", "arms", "featurizer", "fallback", "baseline",
                      "conservative", "log", when_used="json")
    def _json_setting(self, value: Any, info: FieldSerializationInfo) -> Any:
        return json_value(info.field_name, value)

    # -- LangChain serialisation ------------------------------------------------------
    @classmethod
    def is_lc_serializable(cls) -> bool:
        """ChatUniScale can be serialised (see :meth:`to_json` for when it cannot)."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_uniscale", "chat_models"]``."""
        return ["langchain_uniscale", "chat_models"]

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        """A constructor ``load`` rebuilds this ChatUniScale from (a new router).

        Returns:
            LangChain's ``"not_implemented"`` whose ``repr`` names what cannot be
            serialised (a child that is not serialisable, ``router=``, a custom
            featurizer, strategy or log, explicit ``arms=``) when anything cannot.
        """
        problems = not_serialisable(self, self._router_given)
        if problems:
            return SerializedNotImplemented(
                lc=1, type="not_implemented", id=self.lc_id(),
                repr="ChatUniScale cannot be serialised: " + "; ".join(problems))
        base = super().to_json()
        if base["type"] != "constructor":
            return base
        names = [k for k in CORE_ARGUMENTS if k not in ("models", "router")]
        return {**base, "kwargs": lc_kwargs(self, dict(base["kwargs"]), names)}

    def _settings(self) -> RouterSettings:
        return RouterSettings(**{k: getattr(self, k) for k in CORE_ARGUMENTS
                                 if k not in ("models", "router", "state_path")})

    def _build_router(self) -> None:
        if not self.models:
            raise ConfigurationError("ChatUniScale needs models={'name': chat_model, ...}")
        self._backends = {name: ChatModelBackend(name, m) for name, m in self.models.items()}
        if self.router is None:
            settings = self._settings()
            loading = bool(self.state_path and os.path.exists(self.state_path))
            if self.prices is not None or not loading:  # else the saved prices stay
                prices, self._price_sources = fill_prices(self.prices, self._backends)
                settings = dataclasses.replace(settings, prices=prices)
            self.router = build_router(settings, list(self.models), self.state_path,
                                       backends=self._backends)
        else:
            given = self._settings().given()
            if given:
                raise ConfigurationError(
                    f"pass either router= or the router settings, not both (got router= "
                    f"and {given})")
            missing = [m for m in self.router.arms.models if m not in self._backends]
            if missing:
                raise MissingBackendError(
                    f"the router's arms use models {missing} that are not in models= "
                    f"(known: {sorted(self.models)}); add their chat models")
            for name, backend in self._backends.items():
                self.router.set_backend(name, backend)
        self._runs = RunIndex(enable_run_tracking() if self.track_runs else run_graph())

    def price_source(self, model: str) -> str:
        """Where the price of ``model`` came from: ``"given"`` (``prices=``),
        ``"genai-prices"`` (its list price), or ``"router"`` (a ready or loaded router's)."""
        return self._price_sources.get(model, "router")

    @property
    def _router(self) -> Router:
        assert self.router is not None  # built in __init__
        return self.router

    # -- LangChain plumbing -----------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "uniscale"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"models": sorted(self.models), "arms": [a.key for a in self._router.arms]}

    def _child_model_name(self, alias: str) -> str:
        backend = self._backends.get(alias)
        return (backend.model_name if backend is not None else None) or alias

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing params (see :func:`langchain_uniscale.tracing.ls_params`)."""
        return ls_params(self, stop, kwargs)

    def tool_models(self) -> list[str]:
        """Models whose child implements ``bind_tools`` and has an arm that takes tools."""
        return [m for m in self.models if self._backends[m].takes_tools and any(
            a.model == m and a.strategy.supports_tools for a in self._router.arms)]

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
            A runnable that routes only to tool-capable arms.

        Raises:
            uniscale.ConfigurationError: No child can take tools (none implements
                ``bind_tools`` with an arm whose strategy handles tool calls).
        """
        if not self.tool_models():
            raise ConfigurationError(
                "no model of this ChatUniScale can take tools: a tool call needs a child "
                "that implements bind_tools and a single-sample arm (uniscale.Single); "
                f"children: { {m: type(c).__name__ for m, c in self.models.items()} }")
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs[TOOL_CHOICE] = tool_choice
        return super().bind(tools=formatted, **kwargs)

    # -- one call ---------------------------------------------------------------------
    def _plan(self, messages: list[BaseMessage], stop: list[str] | None,
              run_manager: Any, kwargs: dict[str, Any]) -> CallPlan:
        return plan_call(self, messages, stop, run_manager, kwargs)

    def _reply(self, result: Result) -> AIMessage:
        alias = result.decision.arm.model
        return build_reply(result, self._child_model_name(alias), self.price_source(alias))

    def _record(self, run_id: Any, decision_id: str, parent_run_id: Any = None) -> None:
        if run_id is not None:
            self._runs.record(run_id, decision_id, parent_run_id)

    def _recorded(self, plan: CallPlan, result: Result, run_manager: Any) -> ChatResult:
        if run_manager is not None:
            self._record(run_manager.run_id, result.decision.id, run_manager.parent_run_id)
        return ChatResult(generations=[ChatGeneration(message=self._reply(result))])

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        plan = self._plan(messages, stop, run_manager, kwargs)
        if self._streams_inside(run_manager, kwargs, async_api=False):
            assert run_manager is not None
            return streamed_result(RoutedStream(self, plan, run_manager, async_api=False),
                                   run_manager)
        decision = plan.decide(self._router)
        try:
            result = self._router.run(decision, plan.request)
        except AllSamplesFailedError as exc:
            raise provider_error(exc) from None
        return self._recorded(plan, result, run_manager)

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        plan = self._plan(messages, stop, run_manager, kwargs)
        if self._streams_inside(run_manager, kwargs, async_api=True):
            assert run_manager is not None
            return await astreamed_result(
                RoutedStream(self, plan, run_manager, async_api=True), run_manager)
        decision = plan.decide(self._router)
        try:
            result = await self._router.arun(decision, plan.request)
        except AllSamplesFailedError as exc:
            raise provider_error(exc) from None
        return self._recorded(plan, result, run_manager)

    # -- feedback and state -----------------------------------------------------------
    def feedback(self, target: Any, score: float, cost: float | None = None) -> bool:
        """Learn how good a routed answer was.

        Args:
            target: The LangChain run id of the call, or of the chain or agent run that
                contains it (every routed call inside is credited); the ``AIMessage``
                the call returned; or the decision id.
            score: Quality in ``[0, 1]``.
            cost: Observed USD, when it is known better than the children's usage.

        Returns:
            True when the router learned from the score (False: ignored, with the core's
            ``on_invalid_feedback="ignore"``).

        Raises:
            uniscale.UnknownDecisionError: The target names no routed call.
            uniscale.DuplicateFeedbackError: Every decision named already has feedback.
            uniscale.InvalidScoreError: The score is NaN, infinite or out of range.
        """
        return bool(give_feedback(self._router, self._runs, target, score, cost))

    def feedback_decisions(self, target: Any, score: float, cost: float | None = None
                           ) -> list[str]:
        """Like :meth:`feedback`, returning the decision ids that learned."""
        return give_feedback(self._router, self._runs, target, score, cost)

    def save(self, path: str | None = None) -> None:
        """Save the learned state (to ``path``, else to ``state_path``).

        Raises:
            uniscale.ConfigurationError: Neither ``path`` nor ``state_path`` is set.
        """
        target = path or self.state_path
        if not target:
            raise ConfigurationError("save() needs a path, or state_path= on ChatUniScale")
        self._router.save(target)
