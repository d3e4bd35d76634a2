"""Adding up what router replicas learned, through Redis (see :mod:`uniscale.store.redis`)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigurationError
from ..policy.linucb import LinUCB
from .file import _decode, _encode
from .redis_common import journal_key, reachable

__all__ = ["RedisSync"]

_SUMS = ("A_raw", "B", "b", "counts", "S_zz", "zr")


class Replica(Protocol):
    """What :class:`RedisSync` needs of a router."""

    policy: LinUCB
    pending: Any
    _lock: threading.RLock


def _sums(policy: LinUCB) -> dict[str, np.ndarray]:
    return {name: np.array(getattr(policy, name), dtype=float) for name in _SUMS}


def _fold(policy: LinUCB, sums: dict[str, np.ndarray], entries: list[bytes]) -> None:
    """Add journaled observations to ``sums`` exactly as :meth:`LinUCB.update` would."""
    for raw in entries:
        entry = json.loads(raw)
        pending, reward = entry["p"], float(entry["r"])
        x = np.asarray(pending["x"], dtype=float)
        try:
            slot = policy.slot(str(pending["arm"]))
        except KeyError:
            raise ConfigurationError(
                f"a replica learned arm {pending['arm']!r}, which this replica lacks; every "
                "replica sharing a namespace needs the same arms") from None
        sums["A_raw"][slot] += np.outer(x, x)
        sums["b"][slot] += reward * x
        sums["counts"][slot] += 1.0
        if policy.hybrid:
            z = policy._z(np.array([slot]), x)[0]
            sums["B"][slot] += np.outer(x, z)
            sums["S_zz"] += np.outer(z, z)
            sums["zr"] += reward * z


class RedisSync:
    """Adds up the statistics that router replicas learned, through Redis.

    Attaching it makes every feedback that the router's
    :class:`~uniscale.store.redis.RedisPendingStore` acknowledges land in this replica's
    journal in Redis, in the same atomic step as the claim. Call :meth:`sync` now and
    then (every few seconds or hundred feedbacks): it folds the journal into this
    replica's published sums and reloads everybody's total into the router.

    Only feedback is shared; statistics a replica learned otherwise (``fit`` before the
    sync was attached) form its prior, which every replica should hold alike (load them
    all from one state file).

    Args:
        router: This replica's router. Every replica must have the same arm space and
            featurizer, a ``RedisPendingStore`` on the same namespace, and no forgetting
            (discounted sums do not add up across replicas).
        client: A ``redis.Redis`` client.
        namespace: Key prefix shared by the replicas.
        replica: This replica's name (default: a random id). A replica restarted under
            its old name takes over its published sums and journal.

    Raises:
        ConfigurationError: Forgetting, or a pending store that is not in Redis.
        StoreUnavailableError: Redis could not be reached.
    """

    def __init__(self, router: Replica, client: Any, *, namespace: str = "uniscale",
                 replica: str | None = None) -> None:
        if router.policy.forgetting != 1.0:
            raise ConfigurationError(
                "RedisSync needs forgetting=1.0: discounted statistics do not add up across "
                "replicas"
            )
        if not hasattr(router.pending, "journal"):
            raise ConfigurationError(
                "RedisSync needs the router's pending_store to be a RedisPendingStore on the "
                "same Redis, so that acknowledged feedback is recorded there")
        self.router = router
        self.client = client
        self.namespace = namespace
        self.key = f"{namespace}:stats"
        self.members = f"{namespace}:replicas"
        self.replica = replica or uuid.uuid4().hex
        self.journal = journal_key(namespace, self.replica)
        self._prior = _sums(router.policy)
        self._own = {name: np.zeros_like(value) for name, value in self._prior.items()}
        self._own_updates = 0
        with reachable("registering a replica"):
            client.sadd(self.members, self.replica)
        router.pending.journal = self.journal

    def _blob(self) -> str:
        policy = self.router.policy
        return json.dumps({"slots": policy.slots, "columns": policy.columns,
                           "updates": self._own_updates,
                           "sums": {name: _encode(v) for name, v in self._own.items()}})

    def _check(self, field: Any, other: dict[str, Any]) -> None:
        policy = self.router.policy
        if other["slots"] != policy.slots or other["columns"] != policy.columns:
            raise ConfigurationError(
                f"replica {field!r} uses another arm space; every replica sharing "
                f"{self.key!r} needs the same arms in the same order"
            )

    def _publish(self) -> None:
        """Fold this replica's journal into its published sums, in one transaction."""
        policy = self.router.policy
        pipe = self.client.pipeline(transaction=True)
        pipe.hget(self.key, self.replica)
        pipe.lrange(self.journal, 0, -1)
        blob, entries = pipe.execute()
        own = {name: v.copy() for name, v in self._own.items()}
        updates = self._own_updates
        if blob is not None:  # Redis is the authority; memory only when Redis lost it
            published = json.loads(blob)
            self._check(self.replica, published)
            own = {name: _decode(published["sums"][name]) for name in _SUMS}
            updates = int(published["updates"])
        _fold(policy, own, entries)
        self._own, self._own_updates = own, updates + len(entries)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key, self.replica, self._blob())
        pipe.ltrim(self.journal, len(entries), -1)
        pipe.sadd(self.members, self.replica)
        pipe.execute()

    def sync(self) -> None:
        """Publish this replica's sums and load every replica's total into the router.

        Raises:
            StoreUnavailableError: Redis failed; the router keeps its policy, and
                nothing acknowledged is lost (retry later).
        """
        with self.router._lock, reachable("syncing replica statistics"):
            policy = self.router.policy
            self._publish()
            names = sorted(n.decode() if isinstance(n, bytes) else str(n)
                           for n in self.client.smembers(self.members))
            pipe = self.client.pipeline(transaction=True)
            pipe.hgetall(self.key)
            for name in names:
                pipe.lrange(journal_key(self.namespace, name), 0, -1)
            blobs, *journals = pipe.execute()
            total = {name: value.copy() for name, value in self._prior.items()}
            updates = 0
            for field, raw in blobs.items():
                other = json.loads(raw)
                self._check(field, other)
                for name in _SUMS:
                    total[name] += _decode(other["sums"][name])
                updates += int(other["updates"])
            for entries in journals:
                _fold(policy, total, entries)
                updates += len(entries)
            meta, arrays = policy.state()
            arrays.update(total)
            meta["updates"] = updates
            self.router.policy = LinUCB.from_state(policy.config(), meta, arrays)
