"""Side features a caller knows about a request (task, tenant, length, ...).

``Router.decide(..., context={"task": "sql", "tenant": "acme", "length": 1200})`` appends
these to the text features. Categorical values are one-hot encoded into hashed buckets
(``key=value``); numbers land in the bucket of their key, scaled as
``sign(v) · log1p(|v|) / log1p(10⁶)`` so that ``length=1200`` and ``length=1300`` are close.
Hashing keeps the width fixed, so a new task or tenant needs no change of the model.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import InvalidFeaturesError

__all__ = ["ContextEncoder"]

_LOG_SCALE = math.log1p(1e6)
Scalar = str | int | float | bool


class ContextEncoder:
    """Encodes a ``{name: value}`` mapping into a vector of ``dim`` hashed buckets.

    Args:
        dim: Number of buckets (0 disables side features).
        seed: Salt of the hash.
    """

    def __init__(self, dim: int = 16, *, seed: int = 0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim <= 4096:
            raise InvalidFeaturesError(
                f"context_dim must be a whole number between 0 and 4096, got {dim!r}")
        self.dim = dim
        self.seed = int(seed)
        self._salt = f"ctx{self.seed}|".encode()

    def _bucket(self, token: str) -> int:
        return zlib.crc32(self._salt + token.encode("utf-8", "surrogatepass")) % self.dim

    def encode(self, context: Mapping[str, Any] | None) -> np.ndarray:
        """The side-feature vector of ``context`` (zeros for ``None``).

        Raises:
            InvalidFeaturesError: ``context`` is not a mapping of names to strings,
                numbers or booleans, or side features are disabled (``context_dim=0``).
        """
        out = np.zeros(self.dim)
        if context is None:
            return out
        if not isinstance(context, Mapping):
            raise InvalidFeaturesError(
                "context must be a mapping such as {'task': 'sql'}, got "
                f"{type(context).__name__}")
        if context and self.dim == 0:
            raise InvalidFeaturesError(
                "this router has no room for side features (context_dim=0): create it "
                "with context_dim=16 (the default) to pass context=")
        for name, value in context.items():
            if not isinstance(name, str) or not name:
                raise InvalidFeaturesError(f"context keys must be non-empty strings, got {name!r}")
            if isinstance(value, (bool, str)):
                out[self._bucket(f"{name}={value}")] += 1.0
            elif isinstance(value, (int, float, np.number)):
                number = float(value)
                if not math.isfinite(number):
                    raise InvalidFeaturesError(
                        f"context[{name!r}] is {number}: pass a finite number")
                scaled = math.copysign(math.log1p(abs(number)), number) / _LOG_SCALE
                out[self._bucket(f"{name}#")] += max(-1.0, min(1.0, scaled))
            elif value is None:
                continue
            else:
                raise InvalidFeaturesError(
                    f"context[{name!r}] must be a string, number or bool, got "
                    f"{type(value).__name__}: pass a label such as 'sql' or a number")
        return out

    def config(self) -> dict[str, Any]:
        """JSON description."""
        return {"dim": self.dim, "seed": self.seed}
