"""A decision log in one Redis stream, shared by every replica.

``Router(log=RedisStreamLog(client))`` appends each record to the stream with ``XADD``
(one entry, field ``record`` holding the JSON); replicas on other machines append to the
same stream, and ``read_log(RedisStreamLog(client))`` reads it back with the same
joining as a file log. Redis orders the entries; nothing is rotated, ``maxlen`` trims
the oldest entries when given (those are lost to the reader).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from .errors import ConfigurationError, LogFileError
from .log import Record, RecordSink

__all__ = ["RedisStreamLog"]


class RedisStreamLog(RecordSink):
    """Decision, feedback and cost records appended to a Redis stream.

    Args:
        client: A ``redis.Redis`` client (e.g. ``uniscale.store.redis.connect(url)``).
        stream: Key of the stream.
        log_features: Write each decision's feature vector (for :meth:`Router.fit`).
        maxlen: Keep about this many entries (None: all).
        clock: Wall-clock function.
    """

    def __init__(self, client: Any, stream: str = "uniscale:decisions", *,
                 log_features: bool = False, maxlen: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if not stream:
            raise ConfigurationError("stream must be a non-empty Redis key")
        if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int)
                                   or maxlen < 1):
            raise ConfigurationError(f"maxlen must be a whole number >= 1, got {maxlen!r}")
        super().__init__(log_features=log_features, clock=clock)
        self.client = client
        self.stream = stream
        self.maxlen = maxlen

    def write(self, record: Record) -> None:
        """Append one record to the stream."""
        payload = {"record": json.dumps(record, separators=(",", ":"))}
        if self.maxlen is None:
            self.client.xadd(self.stream, payload)
        else:
            self.client.xadd(self.stream, payload, maxlen=self.maxlen, approximate=True)

    def events(self, batch: int = 1000) -> Iterator[Record]:
        """Every record of the stream, oldest first (read in pages of ``batch``)."""
        start = "-"
        while True:
            page = self.client.xrange(self.stream, min=start, max="+", count=batch)
            for entry_id, fields in page:
                raw = fields.get(b"record", fields.get("record"))
                try:
                    rec = json.loads(raw)
                except (TypeError, ValueError):
                    raise LogFileError(
                        f"entry {entry_id!r} of Redis stream {self.stream!r} is not a "
                        "decision-log record") from None
                yield rec
            if len(page) < batch:
                return
            last = page[-1][0]
            start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
