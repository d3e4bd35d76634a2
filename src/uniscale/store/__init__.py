"""Where pending decisions and learned state live."""

from .file import read_state, write_state
from .memory import Pending, PendingStore

__all__ = ["Pending", "PendingStore", "read_state", "write_state"]
