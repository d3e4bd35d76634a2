"""UniScale for LlamaIndex: an LLM that routes every call and learns from feedback."""

from llama_index.llms.uniscale.base import UniScaleLLM
from llama_index.llms.uniscale.tracking import Tracker

__all__ = ["Tracker", "UniScaleLLM"]
