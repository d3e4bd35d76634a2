"""``UniScaleLLM``: a LlamaIndex LLM that routes every call through a UniScale router."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
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
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.utilities.token_counting import TokenCounter

import uniscale as us
from uniscale.adapters import RouterSettings, build_router, check_arguments

from .backend import ChildBackend
from .calls import CallsMixin, Context
from .plumbing import TOOLS_KEY, Tools
from .responses import INFO_KEY, find_decision_id
from .tracking import DecisionIndex, Tracker, tracking

__all__ = ["UniScaleLLM"]


class UniScaleLLM(CallsMixin, FunctionCallingLLM):
    """A LlamaIndex LLM that picks, per call, a child model and its test-time compute.

    Each call is routed by a :class:`uniscale.Router` to an arm (model, strategy, n); the
    arm's strategy runs on the chosen child LLM(s) and one response comes back. Its
    ``additional_kwargs`` hold the token counts summed over the samples
    (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) and, under
    ``"uniscale"``, the decision id, arm, model alias (``"model"``), the child's real
    model name (``"model_name"``, also ``raw["model"]``), predicted and observed cost and
    vote share. Give feedback with :meth:`feedback` or :meth:`track`.

    Children are called through their public methods, as configured (callbacks, retries,
    instrumentation): each real model call emits its events once. A child with native
    multi-sampling (LlamaIndex's ``OpenAI``) answers an n-sample arm in one request whose
    input is paid once. The router reports a routed call to those of its own callback
    handlers that the chosen child does not have, so a ``TokenCountingHandler`` counts
    every token once. When every arm failed, the last provider exception is raised, of its
    own type, with a note saying what UniScale tried.

    Args:
        models: Child LLMs by model name (the names used in arms and prices).
        prices: Price per model (``uniscale.Price``, ``{"input":, "output":}`` or a pair),
            USD per 1M tokens. Required unless ``router`` or an existing ``state_path``.
        strategies: Strategies, or their names (``"single"``, ``"self-consistency"``),
            crossed with ``models`` and ``n`` (default ``["single"]``).
        n: Sample counts (default ``[1]``).
        arms: Explicit arms instead of the product of models, strategies and n.
        objective: ``uniscale.Tradeoff`` or ``uniscale.Budget``.
        alpha: Exploration width of LinUCB.
        ridge: Ridge prior precision.
        featurizer: Context featurizer.
        fallback: Arms, arm keys or model names (their single-sample arm) tried in order
            when the chosen arm fails.
        state_path: Learned-state file: loaded at construction when it exists (the
            settings given here win over the saved ones, statistics are kept), written by
            :meth:`save`.
        seed: Seed of the router.
        router: A ready router instead of the settings above; its arms' models must be
            keys of ``models``. Its backends are replaced by the children.
        baseline: Baseline arm of conservative exploration (passed to the router).
        conservative: Conservative exploration setting (passed to the router).
        log: Decision log (passed to the router).
        **kwargs: Fields of LlamaIndex's ``LLM`` (``callback_manager``, ``system_prompt``,
            ...). Anything else is refused.

    Raises:
        uniscale.ConfigurationError: An unknown argument, no models, no prices, an
            unknown strategy name, a setting the installed core does not support, or
            router settings given next to ``router=``.
        uniscale.MissingBackendError: An arm's model has no child LLM.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    models: dict[str, LLM] = Field(description="Child LLMs by model name.")
    router: us.Router = Field(exclude=True, description="The uniscale.Router.")
    state_path: str | None = Field(
        default=None, description="Learned-state file: loaded if it exists, written by save().")

    _spans: DecisionIndex = PrivateAttr(default_factory=DecisionIndex)
    _counter: TokenCounter | None = PrivateAttr(default=None)

    def __init__(
        self,
        models: Mapping[str, LLM],
        *,
        prices: Mapping[str, Any] | None = None,
        strategies: Sequence[us.Strategy | str] | None = None,
        n: Sequence[int] | None = None,
        arms: us.ArmSpace | Iterable[us.Arm] | None = None,
        objective: us.Tradeoff | us.Budget | None = None,
        alpha: float | None = None,
        ridge: float | None = None,
        featurizer: us.Featurizer | None = None,
        fallback: Sequence[us.Arm | str] | None = None,
        state_path: str | None = None,
        seed: int | None = None,
        router: us.Router | None = None,
        baseline: Any = None,
        conservative: Any = None,
        log: Any = None,
        **kwargs: Any,
    ) -> None:
        check_arguments(kwargs, set(LLM.model_fields), "UniScaleLLM",
                        "the fields of LlamaIndex's LLM (callback_manager, system_prompt, ...)")
        if not models:
            raise us.ConfigurationError("UniScaleLLM needs models={'name': llm, ...}")
        settings = RouterSettings(
            prices=prices, strategies=strategies, n=n, arms=arms, objective=objective,
            alpha=alpha, ridge=ridge, featurizer=featurizer, fallback=fallback, seed=seed,
            baseline=baseline, conservative=conservative, log=log)
        if router is None:
            router = build_router(settings, list(models), state_path)
        elif settings.given():
            raise us.ConfigurationError(
                f"pass either router= or the router settings, not both (got router= and "
                f"{settings.given()})")
        if not isinstance(router, us.Router):
            raise us.ConfigurationError(
                f"router= must be a uniscale.Router, got {type(router).__name__}")
        missing = [m for m in router.arms.models if m not in models]
        if missing:
            raise us.MissingBackendError(
                f"arm model(s) {missing} have no child LLM: add them to models= "
                f"(known: {sorted(models)})"
            )
        super().__init__(models=dict(models), router=router, state_path=state_path, **kwargs)
        for model in router.arms.models:
            router.set_backend(model, ChildBackend(self.models[model], self._tokens))

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

    # -- feedback and state -----------------------------------------------------------
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

    def track(self, context: Context = None) -> AbstractContextManager[Tracker]:
        """Collect the routed calls made inside a ``with`` block; ``t.feedback(s)`` credits all.

        Args:
            context: Side features of the block's request for the router (``context=``
                of ``router.decide``), used by every call made inside the block that
                passes none itself, e.g. the calls a query engine or an agent makes.

        Example:
            ``with llm.track(context={"tenant": "acme"}) as t: answer = engine.query(q)``,
            then ``t.feedback(1.0)``.
        """
        return tracking(Tracker(self, self.feedback, context))

    def save(self, path: str | None = None) -> None:
        """Save the learned state atomically (to ``path``, else to ``state_path``).

        Raises:
            uniscale.ConfigurationError: Neither ``path`` nor ``state_path`` is set.
        """
        target = path or self.state_path
        if not target:
            raise us.ConfigurationError("save() needs a path, or state_path= on UniScaleLLM")
        self.router.save(target)

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

    # -- routed calls (bodies in calls.py) ---------------------------------------------
    def chat(self, messages: Sequence[ChatMessage], *, context: Context = None,
             **kwargs: Any) -> ChatResponse:
        """Route a chat call and run the arm's strategy on the chosen child(ren).

        Args:
            messages: The conversation.
            context: Side features of the request for the router (``router.decide``'s
                ``context=``), e.g. ``{"tenant": "acme", "tier": 2}``.
            **kwargs: Passed on to the child (tool calls come prepared by
                ``chat_with_tools``).
        """
        return self._routed_chat(messages, context, kwargs)

    async def achat(self, messages: Sequence[ChatMessage], *, context: Context = None,
                    **kwargs: Any) -> ChatResponse:
        """Async form of :meth:`chat`."""
        return await self._routed_achat(messages, context, kwargs)

    def stream_chat(self, messages: Sequence[ChatMessage], *, context: Context = None,
                    **kwargs: Any) -> ChatResponseGen:
        """Route, then stream the chosen child (a multi-sample arm yields one chunk)."""
        return self._routed_stream_chat(messages, context, kwargs)

    async def astream_chat(self, messages: Sequence[ChatMessage], *, context: Context = None,
                           **kwargs: Any) -> ChatResponseAsyncGen:
        """Async form of :meth:`stream_chat`."""
        return await self._routed_astream_chat(messages, context, kwargs)

    def complete(self, prompt: str, formatted: bool = False, *, context: Context = None,
                 **kwargs: Any) -> CompletionResponse:
        """Route a completion call and run the arm's strategy on the chosen child(ren)."""
        return self._routed_complete(prompt, formatted, context, kwargs)

    async def acomplete(self, prompt: str, formatted: bool = False, *,
                        context: Context = None, **kwargs: Any) -> CompletionResponse:
        """Async form of :meth:`complete`."""
        return await self._routed_acomplete(prompt, formatted, context, kwargs)

    def stream_complete(self, prompt: str, formatted: bool = False, *,
                        context: Context = None, **kwargs: Any) -> CompletionResponseGen:
        """Route, then stream the chosen child (a multi-sample arm yields one chunk)."""
        return self._routed_stream_complete(prompt, formatted, context, kwargs)

    async def astream_complete(self, prompt: str, formatted: bool = False, *,
                               context: Context = None, **kwargs: Any
                               ) -> CompletionResponseAsyncGen:
        """Async form of :meth:`stream_complete`."""
        return await self._routed_astream_complete(prompt, formatted, context, kwargs)
