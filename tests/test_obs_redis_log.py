"""Replicas logging to one Redis stream (a real redis-server), read by read_log."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

import uniscale as us
from uniscale.logread import read_events
from uniscale.logredis import RedisStreamLog
from uniscale.store.redis import RedisPendingStore, connect


@pytest.fixture(scope="module")
def client(redis_url: str) -> Any:
    return connect(redis_url)


def test_two_replicas_log_to_one_stream(client: Any, arms: us.ArmSpace,
                                        prices: dict[str, us.Price]) -> None:
    client.flushdb()

    def replica() -> us.Router:
        return us.Router(arms, prices, featurizer=us.HashingFeaturizer(16),
                         pending_store=RedisPendingStore(client, ttl=60, namespace="obs"),
                         log=RedisStreamLog(client, "obs:log", log_features=True))

    a, b = replica(), replica()
    given: dict[str, float] = {}
    lock = threading.Lock()

    def work(t: int) -> None:
        for i in range(60):
            d = (a if t % 2 else b).decide(f"thread {t} request {i}")
            score = (i % 5) / 4
            (b if t % 2 else a).feedback(d.id, score)  # the other replica takes it
            with lock:
                given[d.id] = score

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    source = RedisStreamLog(client, "obs:log")
    kinds = Counter((e["type"], e["id"]) for e in read_events(source))
    assert len(kinds) == 2 * len(given) == 480 and set(kinds.values()) == {1}
    assert list(source.events(batch=7)) == list(source.events())  # paged reads
    joined = {r.id: r.score for r in us.read_log(source)}
    assert joined == given
    fresh = us.Router(arms, prices, featurizer=us.HashingFeaturizer(16))
    assert fresh.fit(us.read_log(source)) == 240
    assert fresh.policy.counts.sum() == 240


def test_stream_entry_that_is_not_a_record(client: Any) -> None:
    client.flushdb()
    client.xadd("bad", {"record": "{not json"})
    with pytest.raises(us.LogFileError, match="not a decision-log record"):
        list(us.read_log(RedisStreamLog(client, "bad")))
