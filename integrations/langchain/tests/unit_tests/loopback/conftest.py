"""Tests with real provider SDKs over HTTP to the loopback server on 127.0.0.1.

Sockets to any other host stay disabled.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import _remove_restrictions, socket_allow_hosts

from uniscale.testing.loopback import LoopbackServer


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:  # replaces the package-wide fixture: loopback only
    socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    try:
        yield
    finally:
        _remove_restrictions()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A running loopback server."""
    with LoopbackServer() as running:
        yield running
