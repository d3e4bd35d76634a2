"""Async SDK clients across event loops: an old loop's client is closed, never leaked."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

import uniscale as us

REQUEST = us.Request((us.Message("user", "What is 6 * 7?"),))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_new_event_loops_close_the_old_client(server, make_openai, make_anthropic, provider,
                                              caplog: pytest.LogCaptureFixture) -> None:
    backend = make_openai() if provider == "openai" else make_anthropic()
    clients = []

    async def call() -> None:
        await backend.acomplete(REQUEST)
        clients.append(backend.clients.aio())

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        for _ in range(3):
            asyncio.run(call())
        gc.collect()
        asyncio.run(asyncio.sleep(0))
        gc.collect()
    assert len({id(c) for c in clients}) == 3  # one client per loop
    assert all(c.is_closed() for c in clients[:-1])  # the replaced ones were closed
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
