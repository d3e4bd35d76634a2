"""Building what ChatUniScale returns: one ``AIMessage`` per call, or stream chunks.

Pure functions over core values (:class:`uniscale.Decision`, samples, usage): the chosen
sample's message gets the summed usage of every sample, the chosen model's name and the
routing metadata under ``response_metadata["uniscale"]``; ``model_name`` is the child's
real model name.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk

from uniscale import Decision, Result, Usage

from .convert import sum_usage_metadata, usage_to_metadata

__all__ = ["StreamTally", "build_reply", "clean_chunk", "last_chunk", "routing_info"]


def routing_info(decision: Decision, cost: float, answer: str | None, agreement: float,
                 samples: int, child_model: Any, estimated: bool,
                 price_source: str | None = None) -> dict[str, Any]:
    """The ``response_metadata["uniscale"]`` dict of a routed reply.

    Args:
        decision: The router's decision.
        cost: Observed USD.
        answer: The voted answer (self-consistency), else ``None``.
        agreement: Vote share, best score, or 1.0 for one sample.
        samples: Samples drawn.
        child_model: The child's own model name.
        estimated: Whether the usage was estimated because a child reported none.
        price_source: Where the model's price came from (``"given"``, ``"genai-prices"``).

    Returns:
        JSON-ready routing metadata; ``model`` is the alias (the key in ``models=``).
    """
    return {
        "model": decision.arm.model,
        "decision_id": decision.id,
        "arm": decision.arm.key,
        "strategy": decision.arm.strategy.key,
        "n": decision.arm.n,
        "predicted_cost": decision.predicted_cost,
        "observed_cost": cost,
        "agreement": agreement,
        "vote_share": agreement if answer is not None else None,
        "answer": answer,
        "samples": samples,
        "child_model_name": child_model,
        "usage_estimated": estimated,
        "price_source": price_source,
        **decision.figures(),  # quality, width, ucb, score, cost_weight, propensity
    }


def build_reply(result: Result, model_name: str, price_source: str | None = None
                ) -> AIMessage:
    """The chosen sample's message with summed usage and routing metadata.

    Args:
        result: What the router's run of the arm returned (payloads are the children's
            messages).
        model_name: The child's model name, used when its message reports none.
        price_source: Where the model's price came from.

    Returns:
        A copy of the chosen message without its id (LangChain assigns the run's), with
        ``usage_metadata`` summed over the samples (plus a judge's tokens),
        ``response_metadata["model_name"]`` the child's real model and the routing
        metadata under ``response_metadata["uniscale"]``.
    """
    samples, usage = result.samples, result.usage
    chosen = samples[result.chosen].payload
    if not isinstance(chosen, AIMessage):
        chosen = AIMessage(content=samples[result.chosen].text)
    payloads = [s.payload for s in samples if isinstance(s.payload, AIMessage)]
    total: UsageMetadata | None = sum_usage_metadata(p.usage_metadata for p in payloads)
    estimated = total is None or len(payloads) < len(samples) or any(
        p.usage_metadata is None for p in payloads)
    if estimated:
        total = usage_to_metadata(usage)
    else:
        drawn = sum((s.usage for s in samples), Usage())
        extra = Usage(max(usage.input_tokens - drawn.input_tokens, 0),
                      max(usage.output_tokens - drawn.output_tokens, 0))
        if extra.total_tokens:  # a judge's tokens
            total = add_usage(total, usage_to_metadata(extra))
    name = chosen.response_metadata.get("model_name") or model_name
    metadata = {
        **chosen.response_metadata,
        "model_name": name,
        "uniscale": routing_info(result.decision, result.cost, result.answer,
                                 result.agreement, len(samples), name, estimated,
                                 price_source),
    }
    return chosen.model_copy(update={"id": None, "usage_metadata": total,
                                     "response_metadata": metadata})


def _copy_chunk(msg: Any, metadata: dict[str, Any], *, last: bool) -> AIMessageChunk:
    return AIMessageChunk(
        content=msg.content,
        additional_kwargs=dict(msg.additional_kwargs),
        response_metadata=metadata,
        usage_metadata=getattr(msg, "usage_metadata", None),
        tool_call_chunks=list(getattr(msg, "tool_call_chunks", []) or []),
        name=msg.name,
        chunk_position="last" if last else None,
    )


def clean_chunk(chunk: ChatGenerationChunk) -> ChatGenerationChunk:
    """A child's chunk without its id, model name and end marker (all set once, at the end).

    Without an id, LangChain gives the chunk the router run's id; a model name on several
    chunks would be concatenated when chunks are added up.
    """
    msg = chunk.message
    metadata = {k: v for k, v in msg.response_metadata.items() if k != "model_name"}
    return ChatGenerationChunk(message=_copy_chunk(msg, metadata, last=False),
                               generation_info=chunk.generation_info)


def last_chunk(held: ChatGenerationChunk | None, decision: Decision, cost: float,
               child_model: str, estimated: bool, price_source: str | None = None
               ) -> ChatGenerationChunk:
    """The final chunk: the child's last one plus model name, routing data and end marker."""
    msg = held.message if held is not None else AIMessageChunk(content="")
    metadata = {
        **msg.response_metadata,
        "model_name": child_model,
        "uniscale": routing_info(decision, cost, None, 1.0, 1, child_model, estimated,
                                 price_source),
    }
    return ChatGenerationChunk(message=_copy_chunk(msg, metadata, last=True),
                               generation_info=held.generation_info if held else None)


class StreamTally:
    """Usage, text and child model name seen while streaming one child."""

    def __init__(self) -> None:
        self.usage: UsageMetadata | None = None
        self.text: list[str] = []
        self.child_model: Any = None

    def add(self, chunk: ChatGenerationChunk) -> None:
        """Account for one chunk of the child."""
        msg = chunk.message
        used = getattr(msg, "usage_metadata", None)
        if used:
            self.usage = add_usage(self.usage, used)
        self.text.append(msg.text)
        self.child_model = msg.response_metadata.get("model_name", self.child_model)
