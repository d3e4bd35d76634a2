"""Tests with real provider SDKs over HTTP to the loopback server on 127.0.0.1.

Sockets to any other host stay disabled.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

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


class LangSmithAPI:
    """A loopback fake of the LangSmith feedback API, for the real ``langsmith.Client``.

    Serves ``GET /info``, ``POST /feedback`` (stores the feedback) and ``GET /feedback``
    (filtered by ``run`` and ``key``, paginated by ``offset`` / ``limit``) on 127.0.0.1.
    """

    def __init__(self) -> None:
        self.feedback: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                api.requests.append(("GET", url.path))
                if url.path.rstrip("/") == "/info":
                    self._reply(200, {"version": "0.10.0", "batch_ingest_config": {},
                                      "instance_flags": {}})
                elif url.path.rstrip("/") == "/feedback":
                    query = parse_qs(url.query)
                    runs, keys = set(query.get("run", [])), set(query.get("key", []))
                    found = [f for f in api.feedback
                             if (not runs or f["run_id"] in runs)
                             and (not keys or f["key"] in keys)]
                    offset = int(query.get("offset", ["0"])[0])
                    limit = int(query.get("limit", ["100"])[0])
                    self._reply(200, found[offset:offset + limit])
                else:
                    self._reply(404, {"detail": "not found"})

            def do_POST(self) -> None:
                url = urlparse(self.path)
                api.requests.append(("POST", url.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if url.path.rstrip("/") == "/feedback":
                    stored = {"trace_id": body.get("run_id"), **body}  # as the API returns
                    api.feedback.append(stored)
                    self._reply(200, stored)
                else:
                    self._reply(404, {"detail": "not found"})

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> LangSmithAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def langsmith_api() -> Iterator[LangSmithAPI]:
    """A running fake of the LangSmith feedback API."""
    with LangSmithAPI() as running:
        yield running
