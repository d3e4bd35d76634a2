"""Which input modalities a call needs, and which children accept them.

Content blocks (images, PDFs, audio, video; LangChain's standard blocks or a provider's
format) reach the chosen child unchanged. A child whose LangChain model profile says it
cannot take a modality (``ChatOpenAI(model="gpt-4o-mini").profile["audio_inputs"]`` is
False) is left out of the calls that need it; a child without a profile is assumed to
accept what it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, ToolMessage

__all__ = ["accepts", "needed_inputs", "refusals"]

_BLOCK_INPUTS = {"image": "image_inputs", "audio": "audio_inputs", "video": "video_inputs"}
_TOOL_INPUTS = {"image": "image_tool_message", "file": "pdf_tool_message"}

_LABELS = {
    "image_inputs": "images", "image_url_inputs": "image URLs", "audio_inputs": "audio",
    "video_inputs": "video", "pdf_inputs": "PDFs", "image_tool_message": "images in tool "
    "messages", "pdf_tool_message": "PDFs in tool messages",
}


def _blocks(message: BaseMessage) -> Iterable[Mapping[str, Any]]:
    if isinstance(message.content, str):
        return ()
    try:
        return list(message.content_blocks)
    except Exception:  # a provider format LangChain cannot translate: look at it raw
        return [b for b in message.content if isinstance(b, Mapping)]


def _is_pdf(block: Mapping[str, Any]) -> bool:
    mime = str(block.get("mime_type") or "")
    nested = block.get("file")
    data = str(nested.get("file_data") or "") if isinstance(nested, Mapping) else ""
    return mime == "application/pdf" or data.startswith("data:application/pdf")


def needed_inputs(messages: Sequence[BaseMessage]) -> frozenset[str]:
    """The model-profile keys (``image_inputs``, ``pdf_inputs``, ...) the messages need."""
    needs: set[str] = set()
    for message in messages:
        tool = isinstance(message, ToolMessage)
        for block in _blocks(message):
            kind = str(block.get("type") or "")
            if tool and kind in _TOOL_INPUTS and (kind == "image" or _is_pdf(block)):
                needs.add(_TOOL_INPUTS[kind])
            elif kind in _BLOCK_INPUTS:
                needs.add(_BLOCK_INPUTS[kind])
                if kind == "image" and str(block.get("url") or "").startswith("http"):
                    needs.add("image_url_inputs")
            elif kind == "file" and _is_pdf(block):
                needs.add("pdf_inputs")
    return frozenset(needs)


def accepts(model: BaseChatModel, needs: Iterable[str]) -> bool:
    """Whether ``model`` may be given inputs needing ``needs`` (no profile: it may)."""
    profile: Mapping[str, Any] = model.profile or {}
    return all(profile.get(need) is not False for need in needs)


def refusals(models: Mapping[str, BaseChatModel], needs: Iterable[str]) -> str:
    """Which models refuse which of ``needs``, for an error message."""
    parts = []
    for name, model in models.items():
        profile: Mapping[str, Any] = model.profile or {}
        refused = [_LABELS.get(n, n) for n in sorted(needs) if profile.get(n) is False]
        parts.append(f"{name!r} takes no {', '.join(refused)}")
    return "; ".join(parts)
