"""A loopback HTTP server that speaks the subset of the OpenAI and Anthropic APIs UniScale uses.

It serves ``POST /v1/chat/completions`` (with ``n``, ``usage`` incl. cached and reasoning
tokens, SSE streaming with a final usage chunk) and ``POST /v1/messages`` (usage incl.
``cache_read_input_tokens``/``cache_creation_input_tokens`` with an emulated prompt
cache, SSE streaming events), on 127.0.0.1 and a free port, so that the real SDKs can be
pointed at it with ``base_url``::

    with LoopbackServer() as server:
        client = openai.OpenAI(api_key="test", base_url=server.openai_url)
        anthropic.Anthropic(api_key="test", base_url=server.anthropic_url)

Faults are scripted per request, in arrival order: ``server.script("hang", error(429,
retry_after=0.01), "ok")``. Actions: ``"ok"``, ``"hang"`` (never answers until the server
stops, so the client times out), ``"malformed"`` (truncated JSON), ``"garbage"`` (valid
JSON of the wrong shape), ``"drop"`` (connection closed halfway through the body or the
stream) and :func:`error` replies. Requests beyond the script get ``default``.
Every request is recorded in :attr:`LoopbackServer.requests`, the usage of every
successful reply in :attr:`LoopbackServer.usages`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoopbackServer", "Recorded", "error"]

Reply = Callable[[str, int], str]
Action = Any  # "ok" | "hang" | "malformed" | "garbage" | "billed_no_message" | "drop"
#                | ("status", code, headers)


def error(status: int, *, retry_after: float | None = None) -> tuple[str, int, dict[str, str]]:
    """A scripted error reply (``retry_after`` in seconds sets ``retry-after-ms``)."""
    headers = {} if retry_after is None else {"retry-after-ms": str(int(retry_after * 1000))}
    return ("status", status, headers)


def tokens(text: str) -> int:
    """Token count the server bills for ``text`` (``ceil(chars / 4)``)."""
    return -(-len(text) // 4)


@dataclass
class Recorded:
    """One request the server received."""

    api: str
    body: dict[str, Any]
    action: Action
    headers: dict[str, str] = field(default_factory=dict)


def _default_reply(prompt: str, index: int) -> str:
    return "The answer is 42."


class LoopbackServer:
    """The loopback provider server (start/stop, or use it as a context manager).

    Args:
        reply: ``(prompt, index) -> text`` for the ``index``-th sample the server makes.
        accept_n: Answer ``n > 1`` (else reply 400, like servers without ``n``).
        honour_n: Return ``n`` choices (else one, like servers that ignore ``n``).
        reasoning_tokens: Reasoning tokens reported (and billed) per OpenAI sample.
        cached_tokens: OpenAI ``cached_tokens`` reported per call (capped at the prompt).
        cache_min_tokens: Anthropic prefixes shorter than this are not cached.
        default: Action for requests beyond the script.
    """

    def __init__(self, reply: Reply = _default_reply, *, accept_n: bool = True,
                 honour_n: bool = True, reasoning_tokens: int = 0, cached_tokens: int = 0,
                 cache_min_tokens: int = 0, default: Action = "ok") -> None:
        self.reply = reply
        self.accept_n = accept_n
        self.honour_n = honour_n
        self.reasoning_tokens = reasoning_tokens
        self.cached_tokens = cached_tokens
        self.cache_min_tokens = cache_min_tokens
        self.default = default
        self.requests: list[Recorded] = []
        self.usages: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: threading.Barrier | None = None
        self._script: deque[Action] = deque()
        self._cache: set[str] = set()
        self._samples = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release hanging requests."""
        self._stopping.set()
        if self.gate is not None:
            self.gate.abort()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """``base_url`` for OpenAI clients."""
        return self.url + "/v1"

    @property
    def anthropic_url(self) -> str:
        """``base_url`` for Anthropic clients."""
        return self.url

    def script(self, *actions: Action) -> None:
        """Queue actions for the next requests, in arrival order."""
        with self._lock:
            self._script.extend(actions)

    def reset(self) -> None:
        """Forget the script, the records and the emulated prompt cache."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.usages.clear()
            self._cache.clear()
            self.max_in_flight = 0

    def calls(self, api: str | None = None) -> list[Recorded]:
        """Recorded requests, optionally of one API (``"openai"`` or ``"anthropic"``)."""
        return [r for r in self.requests if api is None or r.api == api]

    # -- used by the handler ----------------------------------------------------------
    def _next(self, api: str, body: dict[str, Any], headers: dict[str, str]) -> Action:
        with self._lock:
            action = self._script.popleft() if self._script else self.default
            self.requests.append(Recorded(api, body, action, headers))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return action

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _texts(self, prompt: str, n: int) -> list[str]:
        with self._lock:
            first, self._samples = self._samples, self._samples + n
        return [self.reply(prompt, first + i) for i in range(n)]

    def _bill(self, usage: dict[str, Any]) -> None:
        with self._lock:
            self.usages.append(usage)

    def _anthropic_cache(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(uncached input, cache read, cache write) tokens of a Messages request."""
        blocks: list[dict[str, Any]] = []
        system = body.get("system") or []
        blocks += [{"type": "text", "text": system}] if isinstance(system, str) else system
        for message in body.get("messages", []):
            content = message.get("content", "")
            blocks += [{"type": "text", "text": content}] if isinstance(content, str) else content
        texts = [json.dumps(b.get("text", b.get("content", b.get("input", ""))))
                 for b in blocks]
        total = sum(tokens(t) for t in texts)
        marks = [i for i, b in enumerate(blocks) if b.get("cache_control")]
        if not marks:
            return total, 0, 0
        sizes = [sum(tokens(t) for t in texts[: m + 1]) for m in marks]
        keys = [hashlib.sha256("\x00".join([body.get("model", ""), *texts[: m + 1]]).encode())
                .hexdigest()
                for m in marks]
        with self._lock:  # the longest cached prefix is read, the rest written
            read = max([s for s, k in zip(sizes, keys, strict=True) if k in self._cache],
                       default=0)
            self._cache.update(k for s, k in zip(sizes, keys, strict=True)
                               if s >= self.cache_min_tokens)
        end = sizes[-1]
        if end < self.cache_min_tokens:
            return total, 0, 0
        return total - end, read, end - read


def _prompt(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, str):
                return content
            return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    owner: LoopbackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ---------------------------------------------------------------------
    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              *, cut: bool = False) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2] if cut else payload)
        self.wfile.flush()
        if cut:
            self._drop()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _sse(self, events: list[bytes], *, cut: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events[: max(1, len(events) // 2)] if cut else events:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        if cut:
            self._drop()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        api = "anthropic" if path.endswith("/messages") else "openai"
        owner = self.owner
        action = owner._next(api, body, dict(self.headers.items()))
        try:
            self._act(api, body, action)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            owner._done()

    def _act(self, api: str, body: dict[str, Any], action: Action) -> None:
        owner = self.owner
        if action == "hang":
            owner._stopping.wait(60)
            self._drop()
            return
        if action == "malformed":
            self._send(200, b'{"id": "x", "choices": [{"index": 0, "mess')
            return
        if action == "garbage":
            self._send(200, b'{"unexpected": true}')
            return
        if action == "billed_no_message" and api == "openai":  # HTTP 200, usage, no message
            usage = {"prompt_tokens": 1000, "completion_tokens": 5000, "total_tokens": 6000}
            owner._bill(usage)
            self._send(200, json.dumps({
                "id": "chatcmpl-x", "object": "chat.completion", "created": 0,
                "model": body.get("model", "gpt"), "usage": usage,
                "choices": [{"index": 0, "finish_reason": "stop"}]}).encode())
            return
        if isinstance(action, tuple) and action[0] == "status":
            message = f"scripted error {action[1]}"
            if api == "openai":
                err: dict[str, Any] = {"error": {"message": message, "type": "server_error"}}
            else:
                err = {"type": "error", "error": {"type": "api_error", "message": message}}
            self._send(int(action[1]), json.dumps(err).encode(), dict(action[2]))
            return
        if owner.gate is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                owner.gate.wait(timeout=10)
        cut = action == "drop"
        if api == "openai":
            self._openai(body, cut)
        else:
            self._anthropic(body, cut)

    # -- OpenAI Chat Completions ------------------------------------------------------
    def _openai(self, body: dict[str, Any], cut: bool) -> None:
        owner = self.owner
        n = int(body.get("n") or 1)
        if n > 1 and not owner.accept_n:
            err = {"error": {"message": "n > 1 is not supported", "type":
                             "invalid_request_error", "param": "n", "code": None}}
            self._send(400, json.dumps(err).encode())
            return
        n = n if owner.honour_n else 1
        texts = owner._texts(_prompt(body), n)
        prompt_tokens = sum(tokens(str(m.get("content") or "")) + 4
                            for m in body.get("messages", []))
        reasoning = owner.reasoning_tokens * n
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": sum(tokens(t) for t in texts) + reasoning,
            "prompt_tokens_details": {"cached_tokens": min(owner.cached_tokens, prompt_tokens)},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": "chatcmpl-loopback", "created": 0, "model": body.get("model", "")}
        if not body.get("stream"):
            choices = [{"index": i, "message": {"role": "assistant", "content": t},
                        "finish_reason": "stop", "logprobs": None} for i, t in enumerate(texts)]
            reply = {**head, "object": "chat.completion", "choices": choices, "usage": usage}
            if not cut:
                owner._bill(usage)
            self._send(200, json.dumps(reply).encode(), cut=cut)
            return
        chunk = {**head, "object": "chat.completion.chunk"}

        def event(choices: list[Any], **extra: Any) -> bytes:
            return f"data: {json.dumps({**chunk, 'choices': choices, **extra})}\n\n".encode()

        words = texts[0].split(" ")
        events = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
        events += [event([{"index": 0, "delta": {"content": w if i == 0 else " " + w}}])
                   for i, w in enumerate(words)]
        events.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(event([], usage=usage))
        events.append(b"data: [DONE]\n\n")
        if not cut:
            owner._bill(usage)
        self._sse(events, cut=cut)

    # -- Anthropic Messages -----------------------------------------------------------
    def _anthropic(self, body: dict[str, Any], cut: bool) -> None:
        owner = self.owner
        text = owner._texts(_prompt(body), 1)[0]
        plain, read, written = owner._anthropic_cache(body)
        usage = {"input_tokens": plain, "output_tokens": tokens(text),
                 "cache_read_input_tokens": read, "cache_creation_input_tokens": written}
        message = {"id": "msg_loopback", "type": "message", "role": "assistant",
                   "model": body.get("model", ""), "stop_reason": "end_turn",
                   "stop_sequence": None}
        if not cut:
            owner._bill(usage)
        if not body.get("stream"):
            reply = {**message, "content": [{"type": "text", "text": text}], "usage": usage}
            self._send(200, json.dumps(reply).encode(), cut=cut)
            return

        def event(kind: str, data: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        start_usage = {**usage, "output_tokens": 1}
        events = [event("message_start", {"message": {**message, "content": [],
                                                      "stop_reason": None,
                                                      "usage": start_usage}}),
                  event("content_block_start", {"index": 0, "content_block":
                                                {"type": "text", "text": ""}})]
        words = text.split(" ")
        events += [event("content_block_delta", {"index": 0, "delta": {
            "type": "text_delta", "text": w if i == 0 else " " + w}}) for i, w in enumerate(words)]
        events += [event("content_block_stop", {"index": 0}),
                   event("message_delta", {"delta": {"stop_reason": "end_turn",
                                                     "stop_sequence": None},
                                           "usage": {"output_tokens": usage["output_tokens"]}}),
                   event("message_stop", {})]
        self._sse(events, cut=cut)
