"""Share pending decisions and learned statistics between router replicas via Redis.

Pending decisions live in Redis keys with a time-to-live, so feedback may reach any
replica. A feedback *claims* its decision in one server-side script, which removes the
pending key, marks the id answered and, when a :class:`RedisSync` is attached, appends
the observation (context, arm, score) to the replica's journal in Redis, all at once.
Only after the claim succeeded does the replica update its own policy, so a replica that
loses a race learns nothing, and a Redis failure changes nothing
(:class:`~uniscale.StoreUnavailableError`).

LinUCB statistics are sums, so replicas add up: :meth:`RedisSync.sync` folds the
replica's journal into its published sums (one hash field per replica, written in the
same transaction that trims the journal) and rebuilds the policy from every replica's
sums plus every journal. An acknowledged feedback is therefore in Redis before
``feedback`` returns: a replica killed between two syncs loses nothing, because the
others count its journal and its published sums.

Durability is Redis's: with AOF persistence (``appendonly yes``, ``appendfsync always``)
a Redis restart loses no acknowledged feedback. Without persistence a restart empties
Redis: live replicas re-publish the sums they already folded at their next sync, but the
journals since their last sync and everything a dead replica had published are gone, and
feedback for decisions made before the restart raises ``UnknownDecisionError``.
Requires ``pip install 'uniscale[redis]'``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import UnknownDecisionError
from .memory import Pending, duplicate_error, expired_error
from .redis_common import connect, dump_pending, load_pending, reachable
from .redis_sync import RedisSync

__all__ = ["RedisPendingStore", "RedisSync", "connect"]

# KEYS: pending, done, journal. ARGV: done value, ttl ms, score ("" = no journal).
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if not v then
  return {0, redis.call('GET', KEYS[2]) or ''}
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[3], '{"r":' .. ARGV[3] .. ',"p":' .. v .. '}')
end
return {1, v}
"""


class RedisPendingStore:
    """Pending decisions in Redis, each under its own key with a time-to-live.

    Args:
        client: A ``redis.Redis`` client.
        ttl: Seconds a decision waits for feedback.
        namespace: Key prefix shared by the replicas of one router.
        clock: Wall-clock function.

    Attributes:
        journal: Redis list that claims append their observation to (set by
            :class:`RedisSync`; ``None``: claims journal nothing).
    """

    def __init__(self, client: Any, ttl: float = 86_400.0, *, namespace: str = "uniscale",
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.ttl = float(ttl)
        self.namespace = namespace
        self.clock = clock
        self.journal: str | None = None
        self._claim = client.register_script(_CLAIM)
        self._tokens: OrderedDict[str, str] = OrderedDict()  # claims whose reply was lost

    @property
    def _px(self) -> int:
        return max(int(self.ttl * 1000), 1)

    def _key(self, kind: str, decision_id: str) -> str:
        return f"{self.namespace}:{kind}:{decision_id}"

    def __len__(self) -> int:
        with reachable("counting pending decisions"):
            return sum(1 for _ in self.client.scan_iter(self._key("pending", "*")))

    def __iter__(self) -> Iterator[Pending]:
        with reachable("listing pending decisions"):
            keys = list(self.client.scan_iter(self._key("pending", "*")))
            values = self.client.mget(keys) if keys else []
        for raw in values:
            if raw is not None:
                yield load_pending(json.loads(raw))

    def put(self, item: Pending) -> int:
        """Hold ``item`` for ``ttl`` seconds (Redis's ``maxmemory`` bounds how many)."""
        with reachable("storing a decision"):
            self.client.set(self._key("pending", item.id), dump_pending(item), px=self._px)
        return 0

    def update(self, item: Pending) -> None:
        """Replace a waiting decision (its time-to-live kept); nothing when it left."""
        with reachable("updating a decision"):
            self.client.set(self._key("pending", item.id), dump_pending(item), xx=True,
                            keepttl=True)

    def get(self, decision_id: str) -> Pending:
        """The pending decision, or the reason it is not pending (see PendingStore.get)."""
        with reachable("reading a decision"):
            raw = self.client.get(self._key("pending", decision_id))
            why = None if raw is not None else self.client.get(self._key("done", decision_id))
        if raw is not None:
            item = load_pending(json.loads(raw))
            if self.clock() - item.created <= self.ttl:
                return item
            raise expired_error(decision_id, self.ttl)
        raise self._not_pending(decision_id, why or b"")

    def _not_pending(self, decision_id: str, why: bytes) -> Exception:
        if why.startswith(b"answered"):
            return duplicate_error(decision_id)
        if why == b"failed":
            return UnknownDecisionError(
                f"decision {decision_id!r} failed on its backend and was served by a "
                "fallback; give feedback to the decision of the result you received")
        return UnknownDecisionError(
            f"unknown or expired decision id {decision_id!r}: pass the id of a Decision made "
            f"within the last {self.ttl:g} s by a replica sharing namespace "
            f"{self.namespace!r}"
        )

    def close(self, decision_id: str, why: str = "answered", *,
              reward: float | None = None) -> Pending | None:
        """Claim a pending decision atomically; exactly one replica wins a race.

        Returns:
            The decision; ``None`` when an earlier attempt of this store already claimed
            it but its reply was lost (the claim and its journal entry are in Redis).

        Raises:
            DuplicateFeedbackError: Another replica (or an earlier call) claimed it.
            UnknownDecisionError: Unknown, expired or failed id.
            StoreUnavailableError: Redis failed; retry with the same id.
        """
        answered = why == "answered"
        token = self._tokens.get(decision_id) or uuid.uuid4().hex
        done = f"answered:{token}" if answered else why
        journal = self.journal if answered and reward is not None else None
        keys = [self._key("pending", decision_id), self._key("done", decision_id),
                journal or self._key("journal", "none")]
        try:
            with reachable("claiming a decision"):
                won, raw = self._claim(keys=keys, args=[
                    done, self._px, "" if journal is None else repr(float(reward or 0.0))])
        except Exception:
            if answered:
                self._tokens[decision_id] = token
                while len(self._tokens) > 10_000:
                    self._tokens.popitem(last=False)
            raise
        self._tokens.pop(decision_id, None)
        if won:
            return load_pending(json.loads(raw))
        if answered and raw == done.encode():
            return None
        raise self._not_pending(decision_id, raw or b"")

    def state(self) -> list[dict[str, object]]:
        """Pending decisions live in Redis, not in saved files."""
        return []

    def set_state(self, items: list[dict[str, object]]) -> None:
        """Restore pending decisions from a file into Redis."""
        for raw in items:
            self.put(load_pending(raw))
