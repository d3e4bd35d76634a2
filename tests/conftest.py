"""Shared fixtures of the core tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest

import uniscale as us


@pytest.fixture
def prices() -> dict[str, us.Price]:
    return {"small": us.Price(input=0.15, output=0.60), "large": us.Price(input=2.5, output=10.0)}


@pytest.fixture
def arms() -> us.ArmSpace:
    return us.ArmSpace.product(
        models=["small", "large"], strategies=[us.Single(), us.SelfConsistency()], n=[1, 3, 5]
    )


@pytest.fixture
def backends() -> dict[str, us.FakeBackend]:
    return {
        "small": us.FakeBackend(["The answer is 42", "41", "42"], max_samples_per_call=8),
        "large": us.FakeBackend(["The answer is 42"]),
    }


@pytest.fixture
def router(arms: us.ArmSpace, prices: dict[str, us.Price],
           backends: dict[str, us.FakeBackend]) -> us.Router:
    return us.Router(arms, prices, us.Tradeoff(willingness_to_pay=0.01), backends, seed=0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throw-away ``redis-server`` on a free local port (no persistence), for the run."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    from uniscale.store.redis import connect

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = connect(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
