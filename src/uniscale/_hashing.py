"""Compiled token hashing of :class:`~uniscale.features.HashingFeaturizer` (``uniscale[fast]``).

This module imports ``numba`` and is itself imported only by
:func:`uniscale.features.compiled_hashing`, the first time an ASCII text is featurised.
:func:`signed_counts` does what ``HashingFeaturizer._hashed`` does for an ASCII text, in
one call: the same tokens (runs of ``[a-z0-9]`` and single other non-space characters of
the lower-cased text), the same CRC-32 of the salted token (and of ``"a b"`` for a
bigram), the same bucket and sign. The counts are integers, so the vector is the same to
the bit; the Python code stays the reference (the tests compare the two).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["signed_counts"]


def _table() -> np.ndarray:
    """The byte table of the reflected CRC-32 (polynomial 0xEDB88320, zlib's)."""
    table = np.zeros(256, dtype=np.int64)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table[n] = c
    return table


_CRC = _table()
# byte classes of the lower-cased text: 0 whitespace (what re's \s matches in ASCII),
# 1 [a-z0-9], 2 any other byte (a token of its own)
_KIND = np.full(256, 2, dtype=np.uint8)
_KIND[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = 0
_KIND[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)] = 1


@numba.njit(cache=True, nogil=True)
def _crc(state: Any, data: Any, start: int, stop: int, table: Any) -> Any:  # pragma: no cover
    """CRC-32 register after feeding ``data[start:stop]`` (no final inversion)."""
    for i in range(start, stop):
        state = table[(state ^ data[i]) & 0xFF] ^ (state >> 8)
    return state


@numba.njit(cache=True, nogil=True)
def _count(h: Any, buckets: int, counts: Any) -> None:  # pragma: no cover
    """Count the finished hash ``h`` in its bucket: +1 for a plus sign, -1 for a minus
    (integers: float64 holds them exactly, so the order of the counts does not matter)."""
    counts[h % buckets] += 1.0 if (h >> 31) & 1 else -1.0


@numba.njit(cache=True, nogil=True)
def _signed_counts(text: Any, salt: Any, buckets: int, bigrams: bool, table: Any,
                   kind: Any, counts: Any) -> None:  # pragma: no cover
    """Count every token (and bigram) of the lower-cased ASCII ``text`` into ``counts``."""
    ones = np.int64(0xFFFFFFFF)
    seed = _crc(ones, salt, 0, salt.shape[0], table)
    space = np.int64(32)
    n = text.shape[0]
    i = 0
    prev = np.int64(0)  # register after salt + the previous token
    have_prev = False
    while i < n:
        c = kind[text[i]]
        if c == 0:
            i += 1
            continue
        start = i
        i += 1
        if c == 1:
            while i < n and kind[text[i]] == 1:
                i += 1
        state = _crc(seed, text, start, i, table)
        _count(state ^ ones, buckets, counts)
        if bigrams and have_prev:
            pair = table[(prev ^ space) & 0xFF] ^ (prev >> 8)
            pair = _crc(pair, text, start, i, table)
            _count(pair ^ ones, buckets, counts)
        prev, have_prev = state, True


def signed_counts(text: bytes, salt: bytes, buckets: int, bigrams: bool) -> np.ndarray:
    """Positive minus negative sign counts per bucket of the lower-cased ASCII ``text``."""
    counts = np.zeros(buckets)
    _signed_counts(np.frombuffer(text, dtype=np.uint8), np.frombuffer(salt, dtype=np.uint8),
                   buckets, bigrams, _CRC, _KIND, counts)
    return counts
