"""LangChain integration of UniScale: ``ChatUniScale`` routes every chat call to an arm
(model, test-time strategy, n) and learns online from feedback."""

from importlib import metadata

from .chat_models import ChatUniScale

try:
    __version__ = metadata.version("langchain-uniscale")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = ["ChatUniScale", "__version__"]
