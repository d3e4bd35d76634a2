"""Prices and the cost model: what an arm will cost, and what it did cost."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arms import Arm
from .costplan import CostPlan
from .errors import ConfigurationError, MissingPriceError
from .samplecount import SampleCountModel
from .tokens import OutputTokenModel
from .types import Message, Usage

__all__ = ["CostModel", "Price", "estimate_tokens"]


def estimate_tokens(messages: tuple[Message, ...]) -> int:
    """Input tokens of a conversation, estimated as ``ceil(chars / 4)`` + 4 per message."""
    return sum(-(-len(m.content) // 4) + 4 for m in messages)


@dataclass(frozen=True)
class Price:
    """List price of a model in USD per one million tokens.

    Attributes:
        input: USD per 1M input tokens.
        output: USD per 1M output tokens.
        cached_input: USD per 1M input tokens read from a prompt cache (default: ``input``).
        cache_write: USD per 1M input tokens written to a prompt cache (default: ``input``).
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "cache_write"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"Price.{name} must be a number, got {value!r}")
            if not math.isfinite(float(min(value, 1e300))) or value < 0:  # no OverflowError
                raise ConfigurationError(
                    f"Price.{name} must be a finite USD amount per 1M tokens >= 0, got "
                    f"{str(value)[:20]}")

    def cost(self, usage: Usage) -> float:
        """USD billed for ``usage``."""
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        plain = max(usage.input_tokens - cached - written, 0)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        total = (
            plain * self.input
            + cached * cached_price
            + written * write_price
            + usage.output_tokens * self.output
        )
        return total / 1_000_000


def as_price(value: Price | Mapping[str, float] | tuple[float, float]) -> Price:
    """Accept a :class:`Price`, a ``{"input":, "output":}`` dict or an ``(input, output)`` pair."""
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        return Price(**value)
    if isinstance(value, tuple) and len(value) == 2:
        return Price(*value)
    raise ConfigurationError(
        f"cannot read a price from {value!r}: use uniscale.Price(input=..., output=...) "
        "in USD per 1M tokens"
    )


class CostModel:
    """Predicted and observed cost per arm.

    Predicted cost of an arm = input price × input tokens × calls that pay for the input
    + output price × expected output tokens per sample × n + expected scorer cost. The
    expected output tokens per (model, strategy) are predicted from the request's context
    vector by an :class:`~uniscale.tokens.OutputTokenModel` (a ridge model in log space)
    once usage was observed with a context, else a running mean of observed usage; both
    start from ``prior_output_tokens`` with the weight of ``prior_weight`` samples.
    The input tokens a call bills beyond the request's estimate (a strategy's template,
    the tokenizer's gap) are likewise a per-(model, strategy) mean, and, once observed
    with contexts, a ridge model of the context (linear, the same model class without the
    log) while it predicts them better than the mean: a template that differs by task
    (routerbench: five few-shot exemplars per dataset that the router never sees) is
    known per request. Mean absolute error of the predicted cost on the test prompts
    after a warm start (``python benchmarks/cost_prediction.py``): routerbench 18.6% with
    the mean template to 1.8%, faithful_cot 9.0% to 5.3%, gsm8k_verifier 25.1% to 21.3%,
    the other tables unchanged; on routerbench's train re-splits
    (``benchmarks/warm_resplit.py routerbench --seeds 8 --variants default,frozen``) the
    warm-started router's reward 0.826 to 0.827 and the fitted model alone 0.823 to
    0.828 (the trained router, a per-arm ridge on the USD, 0.828).
    For an arm that stops early, ``n`` and the calls are the ones its runs are expected
    to use on the request (:class:`~uniscale.samplecount.SampleCountModel`, learned from
    observed runs and, given the context vector, per context).

    Args:
        prices: Price per model.
        prior_output_tokens: Output tokens assumed before any usage was seen.
        prior_weight: Pseudo-count of that prior.
        samples_per_call: Per model, how many samples one call can return (``>1``: the
            input is paid once per call).
    """

    def __init__(
        self,
        prices: Mapping[str, Price],
        *,
        prior_output_tokens: float = 256.0,
        prior_weight: float = 2.0,
        samples_per_call: Mapping[str, int] | None = None,
    ) -> None:
        self.prices = {name: as_price(p) for name, p in prices.items()}
        self.prior_output_tokens = float(prior_output_tokens)
        self.prior_weight = float(prior_weight)
        self.samples_per_call: dict[str, int] = dict(samples_per_call or {})
        self._tokens: dict[str, float] = {}
        self._count: dict[str, float] = {}
        self._extra_in: dict[str, float] = {}
        self._extra_calls: dict[str, float] = {}
        self._plans: dict[tuple[int, ...], CostPlan] = {}
        self.sample_counts = SampleCountModel()
        self.output_model = OutputTokenModel(self.prior_output_tokens,
                                             prior_weight=self.prior_weight)
        self.input_model = OutputTokenModel(0.0, prior_weight=self.prior_weight,
                                            prefix="inp", log_space=False)
        # (model, key, context, value) held back while batching (see batch())
        self._deferred: list[tuple[OutputTokenModel, str, np.ndarray, float]] | None = None

    def price(self, model: str) -> Price:
        """The price of ``model``.

        Raises:
            MissingPriceError: When no price was given for it.
        """
        try:
            return self.prices[model]
        except KeyError:
            raise MissingPriceError(
                f"model {model!r} has no price: add it to prices= as "
                f"uniscale.Price(input=..., output=...) in USD per 1M tokens"
            ) from None

    @staticmethod
    def _key(arm: Arm) -> str:
        return f"{arm.model}/{arm.strategy.key}"

    def expected_output_tokens(self, arm: Arm) -> float:
        """Expected output tokens of one sample of ``arm``."""
        key = self._key(arm)
        total = self._tokens.get(key, 0.0) + self.prior_output_tokens * self.prior_weight
        return total / (self._count.get(key, 0.0) + self.prior_weight)

    def expected_extra_input_tokens(self, arm: Arm, x: np.ndarray | None = None) -> float:
        """Input tokens one call of ``arm`` bills beyond the request's estimate.

        A strategy's prompt template (few-shot exemplars, instructions) and the gap
        between the ``chars / 4`` estimate and the provider's tokenizer show up here; it is
        the mean over observed calls (0 before any), or, given the request's context
        vector ``x``, the context-aware model's estimate once it predicts better than
        that mean (a template that differs by task).
        """
        if x is not None:
            learned = float(self.input_model.predict([self._key(arm)], x)[0])
            if math.isfinite(learned):
                return learned
        return self._extra_input(self._key(arm))

    def _extra_input(self, key: str) -> float:
        calls = self._extra_calls.get(key, 0.0)
        return self._extra_in.get(key, 0.0) / calls if calls > 0 else 0.0

    def calls(self, arm: Arm) -> int:
        """Backend calls an arm makes (each pays for the input)."""
        per_call = max(1, self.samples_per_call.get(arm.model, 1))
        return -(-arm.n // per_call)

    def predict(self, arm: Arm, input_tokens: int, x: np.ndarray | None = None) -> float:
        """Predicted USD of running ``arm`` on a request of ``input_tokens`` tokens.

        Args:
            arm: The arm.
            input_tokens: Input tokens of the request.
            x: The request's context vector (makes the output-token estimate
                context-aware once usage was observed with contexts).
        """
        return float(self.predict_all([arm], input_tokens, x)[0])

    def predict_all(self, arms: Sequence[Arm], input_tokens: int,
                    x: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict` for every arm, as one vector expression whose per-arm
        coefficients are rebuilt only when prices, samples per call or usage change."""
        key = tuple(map(id, arms))
        plan = self._plans.get(key)
        if plan is None or not plan.current(self, arms):
            if len(self._plans) >= 16:
                self._plans.clear()
            plan = self._plans[key] = CostPlan(self, arms)
        return plan.predict(self, input_tokens, x)

    def observe(self, arm: Arm, output_tokens: int, samples: int, *,
                input_tokens: int | None = None, calls: int = 0,
                request_tokens: int | None = None, x: np.ndarray | None = None) -> None:
        """Learn from what ``samples`` samples of ``arm`` really used.

        Args:
            arm: The arm.
            output_tokens: Output tokens billed for the samples.
            samples: Number of samples.
            input_tokens: Input tokens billed over ``calls`` calls, when known.
            calls: Backend calls those input tokens cover (0: unknown).
            request_tokens: Input tokens the request was estimated at when deciding.
            x: The request's context vector (teaches the context-aware token model).
        """
        if samples <= 0 or output_tokens < 0:
            return
        self.sample_counts.observe(arm, samples, calls, x=x)
        key = self._key(arm)
        self._tokens[key] = self._tokens.get(key, 0.0) + float(output_tokens)
        self._count[key] = self._count.get(key, 0.0) + float(samples)
        if x is not None:
            self._learn(self.output_model, key, x, float(output_tokens) / samples)
        if input_tokens is not None and request_tokens is not None and calls > 0:
            extra = float(input_tokens) - float(request_tokens) * calls
            self._extra_in[key] = self._extra_in.get(key, 0.0) + extra
            self._extra_calls[key] = self._extra_calls.get(key, 0.0) + float(calls)
            if x is not None:
                self._learn(self.input_model, key, x, extra / calls)

    def _learn(self, model: OutputTokenModel, key: str, x: np.ndarray, value: float) -> None:
        """``model`` learns ``value`` at ``x`` now, or at the end of a :meth:`batch`."""
        if self._deferred is not None:
            self._deferred.append((model, key, x, value))
        else:
            model.observe(key, x, value)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Within the block, :meth:`observe` defers the context-aware token model's
        learning and teaches it all at once on exit (a warm start's many records)."""
        if self._deferred is not None:  # already batching
            yield
            return
        self._deferred = []
        try:
            yield
        finally:
            rows, self._deferred = self._deferred, None
            for model in (self.output_model, self.input_model):
                part = [r for r in rows if r[0] is model]
                if part:
                    model.observe_batch([r[1] for r in part], np.vstack([r[2] for r in part]),
                                        np.array([r[3] for r in part]))

    def observe_cost(self, arm: Arm, usd: float, request_tokens: int,
                     x: np.ndarray | None = None) -> None:
        """Learn from the USD a request cost when its token usage is unknown.

        The output tokens are backed out of the price: ``usd = input price × input tokens
        × calls + output price × output tokens`` (input as estimated, plus the strategy's
        learned template tokens); nothing is learned when the model's output is free.
        """
        price = self.price(arm.model)
        if price.output <= 0 or not math.isfinite(usd) or usd < 0:
            return
        per_call = max(request_tokens + self.expected_extra_input_tokens(arm, x), 0.0)
        input_usd = price.input * per_call * self.calls(arm) / 1_000_000
        output = max(usd - input_usd, 0.0) * 1_000_000 / price.output
        self.observe(arm, round(output), arm.n, x=x)

    def observed_cost(self, model: str, usage: Usage) -> float:
        """USD billed for ``usage`` on ``model``."""
        return self.price(model).cost(usage)

    # -- persistence ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-ready learned state (the token model's arrays: :meth:`arrays`)."""
        return {"tokens": dict(self._tokens), "count": dict(self._count),
                "extra_input": dict(self._extra_in), "extra_calls": dict(self._extra_calls),
                "sample_counts": self.sample_counts.state(),
                "output_model": self.output_model.state()[0],
                "input_model": self.input_model.state()[0]}

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays of the context-aware token and sample models, saved next to the
        policy's."""
        return {**self.output_model.state()[1], **self.input_model.state()[1],
                **self.sample_counts.arrays()}

    def set_state(self, state: Mapping[str, Any],
                  arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Restore :meth:`state` and :meth:`arrays`."""
        if "output_model" in state and arrays is not None:
            self.output_model.set_state(dict(state["output_model"]), dict(arrays))
        if "input_model" in state and arrays is not None:
            self.input_model.set_state(dict(state["input_model"]), dict(arrays))
        self._tokens = {str(k): float(v) for k, v in state["tokens"].items()}
        self._count = {str(k): float(v) for k, v in state["count"].items()}
        self._extra_in = {str(k): float(v) for k, v in state.get("extra_input", {}).items()}
        self._extra_calls = {str(k): float(v)
                             for k, v in state.get("extra_calls", {}).items()}
        self.sample_counts.set_state(state.get("sample_counts", {}), arrays)
