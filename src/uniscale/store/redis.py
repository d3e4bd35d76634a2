"""Share pending decisions and learned statistics between router replicas via Redis.

LinUCB statistics are sums, so replicas learn independently and add up: each replica
publishes the sums of its own observations under its own hash field, and
:meth:`RedisSync.sync` rebuilds the policy from the total of every replica's sums.
Pending decisions live in Redis keys with a time-to-live, so feedback may reach any
replica. Requires ``pip install 'uniscale[redis]'``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import (
    ConfigurationError,
    DuplicateFeedbackError,
    UnknownDecisionError,
)
from ..policy.linucb import LinUCB
from .file import _decode, _encode
from .memory import Pending, duplicate_error, expired_error

if TYPE_CHECKING:
    from ..router import Router

__all__ = ["RedisPendingStore", "RedisSync", "connect"]

_SUMS = ("A_raw", "B", "b", "counts", "S_zz", "zr")


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


class RedisPendingStore:
    """Pending decisions in Redis, each under its own key with a time-to-live.

    Args:
        client: A ``redis.Redis`` client.
        ttl: Seconds a decision waits for feedback.
        namespace: Key prefix shared by the replicas of one router.
        clock: Wall-clock function.
    """

    def __init__(self, client: Any, ttl: float = 86_400.0, *, namespace: str = "uniscale",
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.ttl = float(ttl)
        self.namespace = namespace
        self.clock = clock

    def _key(self, kind: str, decision_id: str) -> str:
        return f"{self.namespace}:{kind}:{decision_id}"

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(self._key("pending", "*")))

    def __iter__(self) -> Iterator[Pending]:
        for key in self.client.scan_iter(self._key("pending", "*")):
            raw = self.client.get(key)
            if raw is not None:
                yield _load_pending(json.loads(raw))

    def put(self, item: Pending) -> None:
        """Hold ``item`` for ``ttl`` seconds."""
        self.client.set(self._key("pending", item.id), json.dumps(_dump_pending(item)),
                        px=max(int(self.ttl * 1000), 1))

    def get(self, decision_id: str) -> Pending:
        """The pending decision, or the reason it is not pending (see PendingStore.get)."""
        raw = self.client.get(self._key("pending", decision_id))
        if raw is not None:
            item = _load_pending(json.loads(raw))
            if self.clock() - item.created <= self.ttl:
                return item
            raise expired_error(decision_id, self.ttl)
        why = self.client.get(self._key("done", decision_id))
        if why == b"answered":
            raise duplicate_error(decision_id)
        raise UnknownDecisionError(
            f"unknown or expired decision id {decision_id!r}: pass the id of a Decision made "
            f"within the last {self.ttl:g} s by a replica sharing namespace "
            f"{self.namespace!r}"
        )

    def close(self, decision_id: str, why: str = "answered") -> Pending:
        """Remove a pending decision for good; exactly one replica wins a race."""
        pipe = self.client.pipeline()
        pipe.getdel(self._key("pending", decision_id))
        pipe.set(self._key("done", decision_id), why, px=max(int(self.ttl * 1000), 1))
        raw, _ = pipe.execute()
        if raw is None:
            raise DuplicateFeedbackError(
                f"decision {decision_id!r} was closed by another replica meanwhile"
            )
        return _load_pending(json.loads(raw))

    def state(self) -> list[dict[str, object]]:
        """Pending decisions live in Redis, not in saved files."""
        return []

    def set_state(self, items: list[dict[str, object]]) -> None:
        """Restore pending decisions from a file into Redis."""
        for raw in items:
            self.put(_load_pending(raw))


def _dump_pending(item: Pending) -> dict[str, object]:
    return {"id": item.id, "arm": item.arm, "x": item.x.tolist(),
            "predicted_cost": item.predicted_cost, "charged": item.charged,
            "created": item.created, "observed_cost": item.observed_cost}


def _load_pending(raw: dict[str, Any]) -> Pending:
    cost = raw.get("observed_cost")
    return Pending(str(raw["id"]), str(raw["arm"]), np.asarray(raw["x"], dtype=float),
                   float(raw["predicted_cost"]), float(raw["charged"]), float(raw["created"]),
                   None if cost is None else float(cost))


class RedisSync:
    """Adds up the statistics that router replicas learned, through one Redis hash.

    Call :meth:`sync` now and then (every few seconds or hundred feedbacks): it publishes
    what this replica learned since its last sync and reloads the total.

    Args:
        router: This replica's router. Every replica must have the same arm space and
            featurizer, and no forgetting (discounted sums do not add up across replicas).
        client: A ``redis.Redis`` client.
        namespace: Key prefix shared by the replicas.
        replica: This replica's name (default: a random id).
    """

    def __init__(self, router: Router, client: Any, *, namespace: str = "uniscale",
                 replica: str | None = None) -> None:
        if router.policy.forgetting != 1.0:
            raise ConfigurationError(
                "RedisSync needs forgetting=1.0: discounted statistics do not add up across "
                "replicas"
            )
        self.router = router
        self.client = client
        self.key = f"{namespace}:stats"
        self.replica = replica or uuid.uuid4().hex
        self._own = {name: np.zeros_like(getattr(router.policy, name)) for name in _SUMS}
        self._base = {name: np.array(getattr(router.policy, name)) for name in _SUMS}
        self._prior = {name: np.array(getattr(router.policy, name)) for name in _SUMS}
        self._own_updates = 0
        self._base_updates = router.policy.updates

    def sync(self) -> None:
        """Publish this replica's sums and load every replica's total into the router."""
        with self.router._lock:
            policy = self.router.policy
            for name in _SUMS:
                self._own[name] = self._own[name] + getattr(policy, name) - self._base[name]
            self._own_updates += policy.updates - self._base_updates
            blob = {"slots": policy.slots, "columns": policy.columns,
                    "updates": self._own_updates,
                    "sums": {name: _encode(value) for name, value in self._own.items()}}
            self.client.hset(self.key, self.replica, json.dumps(blob))
            total = {name: self._prior[name].copy() for name in _SUMS}
            updates = 0
            for field, raw in self.client.hgetall(self.key).items():
                other = json.loads(raw)
                if other["slots"] != policy.slots or other["columns"] != policy.columns:
                    raise ConfigurationError(
                        f"replica {field!r} uses another arm space; every replica sharing "
                        f"{self.key!r} needs the same arms in the same order"
                    )
                for name in _SUMS:
                    total[name] += _decode(other["sums"][name])
                updates += int(other["updates"])
            meta, arrays = policy.state()
            arrays.update(total)
            meta["updates"] = updates
            self.router.policy = LinUCB.from_state(policy.config(), meta, arrays)
            self._base = {name: np.array(value) for name, value in total.items()}
            self._base_updates = updates
