"""Several router replicas sharing one policy through a real redis-server."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import uniscale as us
from uniscale.store.redis import RedisPendingStore, RedisSync, connect


@pytest.fixture
def client(redis_url: str) -> Any:
    c = connect(redis_url)
    c.flushdb()
    return c


def make(arms: us.ArmSpace, prices: dict[str, us.Price], client: Any | None,
         namespace: str = "t") -> us.Router:
    store = RedisPendingStore(client, ttl=60, namespace=namespace) if client else None
    return us.Router(arms, prices, featurizer=us.HashingFeaturizer(dim=32), pending_store=store)


def test_feedback_reaches_any_replica(arms: us.ArmSpace, prices: dict[str, us.Price],
                                      client: Any) -> None:
    a, b = make(arms, prices, client), make(arms, prices, client)
    d = a.decide("what is 2+2?")
    assert b.feedback(d.id, 1.0)
    with pytest.raises(us.DuplicateFeedbackError):
        a.feedback(d.id, 1.0)
    with pytest.raises(us.UnknownDecisionError):
        b.feedback("never-issued", 1.0)
    assert b.policy.updates == 1 and a.policy.updates == 0


def test_replicas_add_up_to_one_policy(arms: us.ArmSpace, prices: dict[str, us.Price],
                                       client: Any) -> None:
    rng = np.random.default_rng(0)
    jobs = [(rng.standard_normal(32), arms[int(rng.integers(len(arms)))], float(rng.random()))
            for _ in range(600)]
    replicas = [make(arms, prices, client) for _ in range(3)]
    syncs = [RedisSync(r, client, namespace="t", replica=f"r{i}") for i, r in enumerate(replicas)]
    single = make(arms, prices, None)
    for i, (x, arm, score) in enumerate(jobs):
        x = x / np.linalg.norm(x)
        maker = replicas[i % 3]
        d = maker.decide(features=x, allowed=[arm])
        replicas[(i + 1) % 3].feedback(d.id, score)  # feedback lands on another replica
        ds = single.decide(features=x, allowed=[arm])
        single.feedback(ds.id, score)
        if i % 100 == 99:
            for s in syncs:
                s.sync()
    for s in syncs:
        s.sync()
    probe = np.ones(single.policy.dim) / np.sqrt(single.policy.dim)
    want = single.policy.estimate(probe, np.arange(len(arms)))
    for r in replicas:
        assert r.policy.updates == 600
        got = r.policy.estimate(probe, np.arange(len(arms)))
        np.testing.assert_allclose(got[0], want[0], atol=1e-9)
        np.testing.assert_allclose(got[1], want[1], atol=1e-9)
        np.testing.assert_allclose(r.policy.A_raw, single.policy.A_raw, atol=1e-9)


def test_sync_refuses_forgetting_and_other_arm_spaces(arms: us.ArmSpace,
                                                      prices: dict[str, us.Price],
                                                      client: Any) -> None:
    forgetful = us.Router(arms, prices, forgetting=0.99)
    with pytest.raises(us.ConfigurationError, match="forgetting"):
        RedisSync(forgetful, client)
    RedisSync(make(arms, prices, client), client, namespace="x", replica="a").sync()
    other = us.ArmSpace.product(["small", "large"], [us.Single()])
    with pytest.raises(us.ConfigurationError, match="another arm space"):
        RedisSync(make(other, prices, client), client, namespace="x", replica="b").sync()


def test_claim_comes_first_and_loser_learns_nothing(
        arms: us.ArmSpace, prices: dict[str, us.Price], client: Any) -> None:
    a, b = make(arms, prices, client), make(arms, prices, client)
    sync_a = RedisSync(a, client, namespace="t", replica="a")
    sync_b = RedisSync(b, client, namespace="t", replica="b")
    d = a.decide("what is 2+2?")
    assert b.feedback(d.id, 1.0)
    with pytest.raises(us.DuplicateFeedbackError):
        a.feedback(d.id, 1.0)  # the loser of the race applies nothing
    assert a.policy.updates == 0
    sync_a.sync()
    sync_b.sync()
    assert a.policy.updates == b.policy.updates == 1
    assert float(a.policy.counts.sum()) == 1.0


def test_redis_down_is_a_uniscale_error_and_changes_nothing(
        arms: us.ArmSpace, prices: dict[str, us.Price], client: Any) -> None:
    from uniscale.errors import StoreUnavailableError

    router = make(arms, prices, client)
    d = router.decide("q")
    broken = connect("redis://127.0.0.1:1/0")  # nothing listens there
    router.pending.client = broken
    router.pending._claim = broken.register_script("return 1")
    with pytest.raises(StoreUnavailableError, match="retry"):
        router.feedback(d.id, 1.0)
    with pytest.raises(StoreUnavailableError):
        router.decide("q")
    assert router.policy.updates == 0 and router.stats["feedback"] == 0
    assert router.stats["decisions"] == 1


def test_retry_after_a_lost_reply_learns_once(
        arms: us.ArmSpace, prices: dict[str, us.Price], client: Any) -> None:
    """The claim ran on the server but its reply was lost: the retry is not a duplicate."""
    import redis

    router = make(arms, prices, client)
    sync = RedisSync(router, client, namespace="t", replica="r")
    d = router.decide("q")
    store = router.pending
    real = store._claim

    def lost_reply(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise redis.exceptions.ConnectionError("reply lost")

    store._claim = lost_reply
    from uniscale.errors import StoreUnavailableError

    with pytest.raises(StoreUnavailableError):
        router.feedback(d.id, 1.0)
    store._claim = real
    assert router.feedback(d.id, 1.0)  # acknowledged: the earlier claim holds
    with pytest.raises(us.DuplicateFeedbackError):
        router.feedback(d.id, 1.0)
    sync.sync()
    assert router.policy.updates == 1
