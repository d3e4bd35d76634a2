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
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StateFileError

__all__ = ["read_state", "write_state"]

FORMAT = "uniscale-state"
VERSION = 1
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


def write_state(path: str | os.PathLike[str], meta: dict[str, Any],
                arrays: dict[str, np.ndarray]) -> None:
    """Write state atomically: a temporary file in the same folder, fsync, rename.

    A ``.npz`` path gets a NumPy archive (arrays plus the metadata as JSON text); any
    other path gets one JSON document with base64 arrays. Either carries a SHA-256 of its
    content, checked on read.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = _digest(meta, arrays)
    if target.suffix == ".npz":
        buffer = io.BytesIO()
        header = json.dumps({"format": FORMAT, "version": VERSION, "sha256": digest, "meta": meta})
        members: dict[str, Any] = {f"a_{k}": v for k, v in arrays.items()}
        members["__meta__"] = np.array(header)
        np.savez(buffer, **members)
        payload = buffer.getvalue()
    else:
        doc = {"format": FORMAT, "version": VERSION, "sha256": digest, "meta": meta,
               "arrays": {k: _encode(v) for k, v in arrays.items()}}
        payload = json.dumps(doc).encode()
    _remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
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
    if header.get("version") != VERSION:
        raise StateFileError(
            f"{source} has state format version {header.get('version')}, this UniScale "
            f"reads version {VERSION}; upgrade uniscale or start a new Router"
        )
    if not ok:
        raise StateFileError(f"state file {source} failed its checksum (corrupt); {hint}")
    return meta, arrays
