"""Building the router's LlamaIndex responses from the chosen child's responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse
from llama_index.core.llms.llm import LLM

import uniscale as us

from .convert import token_counts

__all__ = ["INFO_KEY", "decision_info", "find_decision_id", "model_name", "sample_usage", "tag"]

INFO_KEY = "uniscale"
"""Key of ``additional_kwargs`` (and of the ``raw`` dict) holding the routing facts."""

R = TypeVar("R", ChatResponse, CompletionResponse)


def decision_info(
    decision: us.Decision,
    *,
    span_id: str | None,
    cost: float | None = None,
    agreement: float | None = 1.0,
    answer: str | None = None,
    samples: int = 1,
    errors: Sequence[str] = (),
    model_name: str | None = None,
) -> dict[str, Any]:
    """The routing facts of one call, as plain JSON-ready values.

    Args:
        decision: The router's decision.
        span_id: Instrumentation span of the routed call.
        cost: Observed USD (``None`` while a stream is still running).
        agreement: Vote share (self-consistency), best score (best-of-n) or 1.0.
        answer: The voted answer (self-consistency), else ``None``.
        samples: Samples that answered.
        errors: Failures met on the way (failed samples or arms).
        model_name: The chosen child's real model name (``"model"`` is its alias, the
            key of ``models=``).

    Returns:
        The dict stored under :data:`INFO_KEY`.
    """
    arm = decision.arm
    return {
        "decision_id": decision.id,
        "arm": arm.key,
        "model": arm.model,
        "model_name": model_name,
        "strategy": arm.strategy.key,
        "n": arm.n,
        "predicted_cost": decision.predicted_cost,
        "cost": cost,
        "vote_share": agreement,
        "answer": answer,
        "samples": samples,
        "span_id": span_id,
        "errors": list(errors),
        **decision.figures(),  # quality, width, ucb, score, cost_weight, propensity
    }


def model_name(child: LLM, response: Any = None) -> str:
    """The real model name of a child's call: what the provider's reply names
    (``raw.model``), else what the child's metadata says."""
    raw = getattr(response, "raw", None)
    served = raw.get("model") if isinstance(raw, Mapping) else getattr(raw, "model", None)
    if isinstance(served, str) and served:
        return served
    return str(child.metadata.model_name)


def sample_usage(samples: Iterable[us.Sample]) -> us.Usage:
    """Usage summed over the samples that answered (every call of the arm's model)."""
    total = us.Usage()
    for sample in samples:
        total = total + sample.usage
    return total


def tag(response: R, info: Mapping[str, Any], usage: us.Usage | None = None) -> R:
    """A copy of a child's response carrying the routing facts (and token counts).

    Token counts go where LlamaIndex looks for them: ``additional_kwargs`` and
    ``raw["usage"]`` (read by ``TokenCountingHandler``). ``raw["model"]`` is the child's
    real model name; the child's own raw response is kept in ``raw["response"]``.

    Args:
        response: The child's response or streamed chunk (left unchanged).
        info: The routing facts (:func:`decision_info`).
        usage: Usage summed over the arm's samples; ``None`` for intermediate chunks.

    Returns:
        The new response.
    """
    extra = dict(response.additional_kwargs)
    raw: dict[str, Any] = {INFO_KEY: dict(info), "response": response.raw,
                           "model": info.get("model_name")}
    if usage is not None:
        counts = token_counts(usage)
        extra.update(counts)
        raw["usage"] = counts
    extra[INFO_KEY] = dict(info)
    return response.model_copy(update={"additional_kwargs": extra, "raw": raw})


def find_decision_id(target: Any) -> str | None:
    """The decision id carried by a response (or anything with such ``raw``), else ``None``."""
    for attr in ("additional_kwargs", "raw"):
        holder = getattr(target, attr, None)
        if isinstance(holder, Mapping):
            info = holder.get(INFO_KEY)
            if isinstance(info, Mapping) and isinstance(info.get("decision_id"), str):
                return str(info["decision_id"])
    return None
