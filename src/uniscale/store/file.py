"""Atomic, pickle-free state files: one JSON document, or an NPZ archive."""

from __future__ import annotations

import base64
import glob
import hashlib
import io
import json
import math
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import StateFileError

__all__ = ["breathe", "read_state", "write_state"]

FORMAT = "uniscale-state"
VERSION = 2
"""State format written: 2 saves pending decisions as columns (arrays ``pending_x`` and
``pending_values``), 1 saved them as one JSON object each."""
READS = (1, 2)
"""State formats read."""
MAX_BYTES = 2 << 30
"""Largest state file (and largest total of its arrays) that is read: 2 GiB."""


def _encode(array: np.ndarray) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype="<f8")
    return {"shape": list(data.shape), "f8": base64.b64encode(data.tobytes()).decode("ascii")}


def _decode(blob: dict[str, Any], budget: list[int] | None = None) -> np.ndarray:
    """An array from :func:`_encode`'s form; its size is checked before it is decoded.

    Args:
        blob: ``{"shape": [...], "f8": base64}``.
        budget: Bytes still allowed (one-item list, decreased by the array's size).
    """
    shape, text = blob["shape"], blob["f8"]
    if not (isinstance(shape, list) and len(shape) <= 4 and isinstance(text, str)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                    for n in shape)):
        raise ValueError(f"an array has an unreadable shape {str(shape)[:40]}")
    size = 8 * math.prod(shape)
    if len(text) != 4 * -(-size // 3):
        raise ValueError(f"an array of shape {shape} does not match its data length")
    if budget is not None:
        budget[0] -= size
        if budget[0] < 0:
            raise ValueError(f"the arrays exceed {MAX_BYTES >> 20} MiB")
    raw = base64.b64decode(text, validate=True)
    return np.frombuffer(raw, dtype="<f8").reshape(shape).copy()


def _npz(payload: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Header and arrays of an NPZ state; member sizes are checked before inflating."""
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        members = archive.infolist()
        inflated = sum(m.file_size for m in members)
        if inflated > min(MAX_BYTES, 2 * len(payload) + (1 << 20)):
            raise ValueError(
                f"its members inflate to {inflated >> 20} MiB from {len(payload) >> 20} MiB "
                "(UniScale writes uncompressed archives)")
        names = [m.filename for m in members]
        if any(not (n == "__meta__.npy" or n.startswith("a_")) for n in names):
            raise ValueError(f"unexpected members {names[:5]}")
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        meta = archive["__meta__"]
        if meta.dtype.kind != "U" or meta.shape != ():
            raise ValueError("its metadata member is not text")
        header = json.loads(str(meta))
        arrays = {}
        for name in archive.files:
            if name.startswith("a_"):
                value = archive[name]
                if value.dtype != np.dtype("<f8"):
                    raise ValueError(f"array {name[2:]} is {value.dtype}, not float64")
                arrays[name[2:]] = np.array(value)
    return header, arrays


def _digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name], dtype="<f8").tobytes())
    return h.hexdigest()


STALE_SECONDS = 3600.0
"""Age after which a temporary file left by a crashed save is removed."""


def _remove_stale(target: Path) -> None:
    """Remove temporary files that saves killed mid-write left next to ``target``."""
    now = time.time()
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                leftover.unlink()
        except OSError:
            pass  # another process removed or is replacing it


ITEMS = 64
"""Items of a long list (pending decisions' ids and arms) encoded per JSON call."""
CHUNK = 3 << 13
"""Bytes of array data per base64 piece (a multiple of 3, so pieces join into one text)."""
HOLD = 2e-4
"""Seconds a save computes before it sleeps for :data:`PAUSE` (see :func:`breathe`)."""
PAUSE = 5e-5
"""Seconds a save sleeps every :data:`HOLD` seconds of work."""
_since = threading.local()


def breathe() -> None:
    """Sleep for :data:`PAUSE` once :data:`HOLD` seconds passed since the last pause.

    Called between the short pieces of a save. A thread that waits for the interpreter
    (a ``decide``) is woken only when the holder really lets go: the writes and hashes
    that release it return too fast for the waiter to take over, and otherwise it waits
    out the whole switch interval (5 ms). Sleeping hands over at once, so a decide waits
    at most about ``HOLD`` for a save, at the cost of about a third more wall time per
    save.
    """
    now = time.perf_counter()
    last = getattr(_since, "value", None)
    if last is not None and now - last < HOLD:
        return
    if last is not None:
        time.sleep(PAUSE)
        now = time.perf_counter()
    _since.value = now


def _json_pieces(value: Any, depth: int = 0) -> Iterator[str]:
    """Pieces whose concatenation is ``json.dumps(value, sort_keys=True)``.

    Objects are opened key by key (two levels deep) and long lists encoded ``ITEMS``
    items at a time: each piece is one short call of the C encoder, so a save never holds
    the interpreter for long while other threads decide.
    """
    if isinstance(value, dict) and value and depth < 2 \
            and all(isinstance(k, str) for k in value):
        for i, key in enumerate(sorted(value)):
            yield ("{" if i == 0 else ", ") + json.dumps(key) + ": "
            yield from _json_pieces(value[key], depth + 1)
        yield "}"
    elif isinstance(value, (list, tuple)) and len(value) > ITEMS:
        for start in range(0, len(value), ITEMS):
            breathe()
            text = json.dumps(value[start:start + ITEMS], sort_keys=True)
            yield ("[" if start == 0 else ", ") + text[1:-1]
        yield "]"
    else:
        yield json.dumps(value, sort_keys=True)


def _byte_chunks(array: np.ndarray) -> Iterator[memoryview]:
    """The little-endian float64 bytes of ``array`` in ``CHUNK``-sized views."""
    data = np.ascontiguousarray(array, dtype="<f8").reshape(-1).view(np.uint8).data
    for start in range(0, len(data), CHUNK):
        breathe()
        yield data[start:start + CHUNK]


def _write_json(handle: BinaryIO, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Stream one JSON document (the checksum last) to ``handle``, hashing as it goes.

    The result reads exactly like ``json.dumps`` of the whole document would: ``meta``
    with sorted keys, arrays as ``{"shape", "f8"}`` with base64 text (which needs no
    escaping), in sorted order (the checksum's order).
    """
    digest = hashlib.sha256()
    handle.write(f'{{"format": "{FORMAT}", "version": {VERSION}, "meta": '.encode())
    for piece in _json_pieces(meta):
        data = piece.encode()
        digest.update(data)
        handle.write(data)
    handle.write(b', "arrays": {')
    for i, name in enumerate(sorted(arrays)):
        digest.update(name.encode())
        shape = json.dumps(list(np.shape(arrays[name])))
        handle.write(f'{", " if i else ""}{json.dumps(name)}: {{"shape": {shape}, '
                     '"f8": "'.encode())
        for chunk in _byte_chunks(arrays[name]):
            digest.update(chunk)
            handle.write(base64.b64encode(chunk))
        handle.write(b'"}')
    handle.write(f'}}, "sha256": "{digest.hexdigest()}"}}'.encode())


def _write_npz(handle: BinaryIO, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write an NPZ archive: arrays plus a ``__meta__`` member holding the JSON header."""
    digest = hashlib.sha256()
    pieces = list(_json_pieces(meta))
    for piece in pieces:
        digest.update(piece.encode())
    for name in sorted(arrays):
        digest.update(name.encode())
        for chunk in _byte_chunks(arrays[name]):
            digest.update(chunk)
    header = (f'{{"format": "{FORMAT}", "version": {VERSION}, '
              f'"sha256": "{digest.hexdigest()}", "meta": {"".join(pieces)}}}')
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in sorted(arrays):  # as numpy.savez writes them, in short pieces
            data = np.ascontiguousarray(arrays[name], dtype="<f8")
            with archive.open(f"a_{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(
                    member, np.lib.format.header_data_from_array_1_0(data))
                for chunk in _byte_chunks(data):
                    member.write(chunk)
        with archive.open("__meta__.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.array(header), allow_pickle=False)


def write_state(path: str | os.PathLike[str], meta: dict[str, Any],
                arrays: dict[str, np.ndarray]) -> None:
    """Write state atomically: a temporary file in the same folder, fsync, rename.

    A ``.npz`` path gets a NumPy archive (arrays plus the metadata as JSON text); any
    other path gets one JSON document with base64 arrays. Either carries a SHA-256 of its
    content, checked on read. The content is encoded and written piece by piece, so a
    large state neither sits in memory twice nor keeps other threads waiting.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if target.suffix == ".npz":
                _write_npz(handle, meta, arrays)
            else:
                _write_json(handle, meta, arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def read_state(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_state`.

    Raises:
        StateFileError: When the file is missing, is not a UniScale state, or is corrupt
            or truncated (its checksum does not match).
    """
    source = Path(path)
    hint = "restore it from a backup or start a new Router"
    try:
        size = source.stat().st_size
        if size > MAX_BYTES:
            raise StateFileError(
                f"state file {source} is {size >> 20} MiB, more than the {MAX_BYTES >> 20} "
                f"MiB a state may hold; {hint}")
        payload = source.read_bytes()
    except OSError as exc:
        raise StateFileError(f"cannot read state file {source}: {exc}") from exc
    try:
        if payload[:2] == b"PK":
            header, arrays = _npz(payload)
        else:
            header = json.loads(payload.decode())
            budget = [MAX_BYTES]
            arrays = {str(k): _decode(v, budget) for k, v in header["arrays"].items()}
        meta = header["meta"]
        ok = header.get("format") == FORMAT and header.get("sha256") == _digest(meta, arrays)
    except Exception as exc:
        raise StateFileError(
            f"state file {source} is corrupt or truncated ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    if header.get("format") != FORMAT:
        raise StateFileError(f"{source} is not a UniScale state file; {hint}")
    if header.get("version") not in READS:
        raise StateFileError(
            f"{source} has state format version {header.get('version')}, this UniScale "
            f"reads versions {', '.join(map(str, READS))}; upgrade uniscale or start a new "
            "Router"
        )
    if not ok:
        raise StateFileError(f"state file {source} failed its checksum (corrupt); {hint}")
    return meta, arrays
