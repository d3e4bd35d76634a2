"""What the Redis pending store and the Redis sync share: the client, errors, codecs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import StoreUnavailableError
from .memory import Pending

__all__ = ["connect", "dump_pending", "journal_key", "load_pending", "reachable"]


def connect(url: str) -> Any:
    """A Redis client for ``url``.

    Raises:
        ImportError: When the ``redis`` package is missing.
    """
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "uniscale.store.redis needs the redis package: pip install 'uniscale[redis]'"
        ) from exc
    return redis.Redis.from_url(url)


@contextmanager
def reachable(what: str) -> Iterator[None]:
    """Turn a Redis failure inside the block into a :class:`StoreUnavailableError`."""
    import redis

    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise StoreUnavailableError(
            f"Redis failed while {what} ({type(exc).__name__}: {exc}); nothing was changed "
            "here: retry once Redis is reachable"
        ) from exc


def journal_key(namespace: str, replica: str) -> str:
    """The list that holds one replica's acknowledged, not yet published observations."""
    return f"{namespace}:journal:{replica}"


def dump_pending(item: Pending) -> str:
    """JSON text of a pending decision."""
    return json.dumps({"id": item.id, "arm": item.arm, "x": item.x.tolist(),
                       "predicted_cost": item.predicted_cost, "charged": item.charged,
                       "created": item.created, "observed_cost": item.observed_cost,
                       "input_tokens": item.input_tokens})


def load_pending(raw: dict[str, Any]) -> Pending:
    """A pending decision from :func:`dump_pending`'s JSON (decoded)."""
    cost = raw.get("observed_cost")
    return Pending(str(raw["id"]), str(raw["arm"]), np.asarray(raw["x"], dtype=float),
                   float(raw["predicted_cost"]), float(raw["charged"]), float(raw["created"]),
                   None if cost is None else float(cost), int(raw.get("input_tokens", 0)))
