"""Featurizers: turn a request into the context vector the bandit learns on."""

from __future__ import annotations

import itertools
import math
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigurationError
from .types import Message

__all__ = ["EmbeddingFeaturizer", "Featurizer", "HashingFeaturizer"]

_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
# code markers: ```, {, }, ;, => and the keywords below (no two can overlap, so each kind
# is counted on its own; the keyword regex only runs when a keyword occurs at all)
_CODE_WORDS = re.compile(r"\b(?:def |class |return\b|import\b|function\b)")
_CODE_HINTS = ("def ", "class ", "return", "import", "function")
# what _CODE_WORDS matches in an ASCII text: (keyword, a word boundary also after it)
_KEYWORDS = (("def ", False), ("class ", False), ("return", True), ("import", True),
             ("function", True))
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_WH = ("what", "how", "why", "when", "where", "which", "who", "whom", "whose")
_DIGITS = b"0123456789"
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MATH = "+-*/=^%<>"
_BRACES = "{};"
_CACHE_SIZE = 1 << 16  # hashed tokens remembered per featurizer
_KERNEL_ENV = "UNISCALE_KERNEL"  # "numpy": the Python code, as for the policy kernels
_lock = threading.Lock()
_loaded: list[Callable[[bytes, bytes, int, bool], np.ndarray] | None] = []


def compiled_hashing() -> Callable[[bytes, bytes, int, bool], np.ndarray] | None:
    """The compiled token hashing (numba, the ``uniscale[fast]`` extra) or ``None``.

    ``None`` also when ``UNISCALE_KERNEL=numpy`` is set (read when a featurizer first
    needs it). Imported on first use, never at import time.
    """
    if os.environ.get(_KERNEL_ENV, "").strip().lower() == "numpy":
        return None
    if not _loaded:
        with _lock:
            if not _loaded:
                try:
                    from ._hashing import signed_counts
                except ImportError:  # numba missing or broken: the Python code
                    _loaded.append(None)
                else:
                    _loaded.append(signed_counts)
    return _loaded[0]


def _classes() -> bytes:
    """A byte translation table: digits to ``d``, upper case to ``u``, math symbols to
    ``m``, braces and semicolons to ``b``, every other byte to a space."""
    table = bytearray(b" " * 256)
    for chars, mark in ((_DIGITS, b"d"), (_UPPER, b"u"), (_MATH.encode(), b"m"),
                        (_BRACES.encode(), b"b")):
        for c in chars:
            table[c] = mark[0]
    return bytes(table)


_CLASSES = _classes()


def _count_chars(text: str) -> tuple[int, int, int, int]:
    """Digits, upper-case letters, math symbols and code markers in ``text``, without a
    Python loop per character."""
    if text.isascii():
        marks = text.encode("ascii").translate(_CLASSES)
        digits, upper, symbols, braces = map(marks.count, (b"d", b"u", b"m", b"b"))
    else:
        digits, upper = sum(map(str.isdigit, text)), sum(map(str.isupper, text))
        symbols, braces = sum(map(text.count, _MATH)), sum(map(text.count, _BRACES))
    code = braces + text.count("```") + text.count("=>")
    if text.isascii():
        code += _keywords(text)
    elif any(hint in text for hint in _CODE_HINTS):
        code += len(_CODE_WORDS.findall(text))
    return digits, upper, symbols, code


def _keywords(text: str) -> int:
    """``len(_CODE_WORDS.findall(text))`` for an ASCII ``text``, by ``str.find``: every
    keyword starts with a word character and none can start inside another's match (or
    its own) after a word boundary, so the matches are each keyword's occurrences with a
    non-word character (or the text's end) on the bounded sides."""
    count, size = 0, len(text)
    for word, closed in _KEYWORDS:
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            if (at == 0 or text[at - 1] not in _ASCII_WORD) and (
                    not closed or end == size or text[end] not in _ASCII_WORD):
                count += 1
            at = text.find(word, end)
    return count


def _missing(found: list[int | None]) -> Iterator[int]:
    """Positions of ``None`` in ``found`` (cache misses), scanned in C, not per item."""
    i = 0
    while True:
        try:
            i = found.index(None, i)
        except ValueError:
            return
        yield i
        i += 1


@runtime_checkable
class Featurizer(Protocol):
    """Maps messages to a fixed-length context vector.

    Attributes:
        dim: Length of the vectors produced.
    """

    dim: int

    def transform(self, messages: Sequence[Message]) -> np.ndarray:
        """The context vector of a conversation (finite, shape ``(dim,)``)."""
        ...

    def config(self) -> dict[str, Any]:
        """JSON description, saved with the state and compared on load."""
        ...


def _text_of(messages: Sequence[Message]) -> str:
    """The text the router looks at: every message, the last user turn counted twice."""
    last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return "\n".join([*(m.content for m in messages), last_user])


class HashingFeaturizer:
    """Signed feature hashing of word uni- and bi-grams plus shape signals.

    Deterministic across processes and Python hash seeds (CRC-32, never ``hash()``).
    The last 8 coordinates hold dense signals: bias, log length, digit share, code
    markers, question shape, line count, math symbols, upper-case share. The vector is
    L2-normalised.

    Args:
        dim: Length of the vector (>= 16).
        ngrams: Largest n-gram hashed (1 or 2).
        seed: Salt of the hash, so that two featurizers can be made independent.
    """

    _DENSE = 8

    def __init__(self, dim: int = 128, *, ngrams: int = 2, seed: int = 0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 16:
            raise ConfigurationError(f"HashingFeaturizer dim must be an int >= 16, got {dim!r}")
        if ngrams not in (1, 2):
            raise ConfigurationError(f"HashingFeaturizer ngrams must be 1 or 2, got {ngrams!r}")
        self.dim = dim
        self.ngrams = ngrams
        self.seed = int(seed)
        self._buckets = dim - self._DENSE
        self._salt = str(self.seed).encode() + b"|"
        self._codes: dict[str, int] = {}
        self._pairs: dict[tuple[str, str], int] = {}
        self._compiled: Callable[[bytes, bytes, int, bool], np.ndarray] | None = None
        self._resolved = False  # _compiled looked up (on the first transform)

    def _hash(self, token: str) -> int:
        """Twice the token's bucket, plus one for a negative sign."""
        h = zlib.crc32(self._salt + token.encode("utf-8", "surrogatepass"))
        code = 2 * (h % self._buckets) + (0 if (h >> 31) & 1 else 1)
        if len(self._codes) >= _CACHE_SIZE:
            self._codes.clear()
        self._codes[token] = code
        return code

    def _unigrams(self, words: list[str]) -> list[int | None]:
        try:  # every word cached: one C loop, nothing to scan
            return list(map(self._codes.__getitem__, words))
        except KeyError:
            pass
        found = list(map(self._codes.get, words))
        for i in _missing(found):
            found[i] = self._hash(words[i])
        return found

    def _word_bigrams(self, words: list[str]) -> list[int | None]:
        """Codes of the bigrams of consecutive ``words``."""
        try:  # every pair cached: no list of pairs is built
            return list(map(self._pairs.__getitem__, itertools.pairwise(words)))
        except KeyError:
            return self._bigrams(list(itertools.pairwise(words)))

    def _bigrams(self, pairs: list[tuple[str, str]]) -> list[int | None]:
        """Codes of the bigrams ``"a b"``, remembered by the pair of words."""
        found = list(map(self._pairs.get, pairs))
        for i in _missing(found):
            if len(self._pairs) >= _CACHE_SIZE:
                self._pairs.clear()
            found[i] = self._pairs[pairs[i]] = self._hash(" ".join(pairs[i]))
        return found

    def _hashed(self, parts: list[str], times: dict[str, int], lowered: dict[str, str]
                ) -> np.ndarray:
        """Signed bucket counts of the words and bigrams of ``"\n".join(parts)``.

        Joining by a newline never merges or splits a token, so the text's tokens are
        its parts' tokens in order, plus the bigrams across part boundaries: each
        distinct part (``times`` counts how often each occurs) is tokenised once and
        counted as often as it occurs (the last user turn is always a repeat; ``lowered``
        maps each to its lower case). Codes are grouped by that multiplicity and counted
        in integers, one ``bincount`` per group (usually one): the counts are exact, so
        the vector is the same to the bit as summing weighted floats.
        """
        words = {part: _WORD.findall(lowered[part]) for part in times}
        groups: dict[int, list[int | None]] = {}
        for part, k in times.items():
            codes = self._unigrams(words[part])
            if self.ngrams == 2:
                codes += self._word_bigrams(words[part])
            group = groups.get(k)
            if group is None:
                groups[k] = codes
            else:
                group += codes
        if self.ngrams == 2 and len(parts) > 1:  # bigrams across boundaries (empty parts
            ends = [w for w in (words[p] for p in parts) if w]  # are skipped)
            across = self._bigrams([(a[-1], b[0]) for a, b in itertools.pairwise(ends)])
            groups.setdefault(1, []).extend(across)
        size = 2 * self._buckets
        counts = None
        for k, codes in groups.items():
            found = np.bincount(np.array(codes, dtype=np.intp), minlength=size)
            if k != 1:
                found *= k
            if counts is None:
                counts = found
            else:
                counts += found
        assert counts is not None  # parts is never empty
        return (counts[0::2] - counts[1::2]).astype(float)  # positive minus negative signs

    def transform(self, messages: Sequence[Message]) -> np.ndarray:
        """Hash the conversation into a unit vector of length :attr:`dim`."""
        parts = [m.content for m in messages]
        parts.append(next((m.content for m in reversed(messages) if m.role == "user"), ""))
        text = "\n".join(parts)  # what _text_of(messages) is
        times: dict[str, int] = {}
        for part in parts:
            times[part] = times.get(part, 0) + 1
        vec = np.empty(self.dim)
        lowered = {part: part.lower() for part in times}
        if not self._resolved:
            self._compiled, self._resolved = compiled_hashing(), True
        # lower() maps each part on its own: a newline ends a word (final sigma) either way
        low = "\n".join(map(lowered.__getitem__, parts))
        if self._compiled is not None and text.isascii():  # the same counts, compiled
            hashed = self._compiled(low.encode("ascii"), self._salt, self._buckets,
                                    self.ngrams == 2)
        else:
            hashed = self._hashed(parts, times, lowered)
        square = float(hashed.dot(hashed))  # np.linalg.norm is sqrt(x·x), to the bit
        vec[:self._buckets] = hashed / math.sqrt(square) if square > 0 else hashed
        chars = max(len(text), 1)
        stripped = low.strip()
        digits = upper = symbols = code = 0
        for part, k in times.items():  # integer counts: the same as summing per part
            d, u, m, c = _count_chars(part)
            digits, upper, symbols, code = (digits + k * d, upper + k * u,
                                            symbols + k * m, code + k * c)
        vec[self._buckets:] = (
            1.0,
            math.log1p(len(text)) / 10.0,
            digits / chars * 4.0,
            min(code / 10.0, 1.0),
            float(stripped.endswith("?") or stripped.startswith(_WH)),
            min(text.count("\n") / 20.0, 1.0),
            min(symbols / 20.0, 1.0),
            upper / chars * 4.0,
        )
        return vec / math.sqrt(float(vec.dot(vec)))

    def config(self) -> dict[str, Any]:
        """JSON description of this featurizer."""
        return {"kind": "hashing", "dim": self.dim, "ngrams": self.ngrams, "seed": self.seed}


class EmbeddingFeaturizer:
    """Any text embedding, randomly projected to ``dim`` and L2-normalised.

    The projection is a Gaussian matrix drawn from ``seed`` when the first embedding
    reveals the input width, so it is the same in every process with the same seed.

    Args:
        fn: A function mapping a text to a vector (a list or array of floats).
        dim: Length of the produced vectors.
        seed: Seed of the projection.
        name: Identifies the embedding in saved state (a state learned on another
            embedding must not be loaded).
    """

    def __init__(
        self, fn: Callable[[str], Any], dim: int = 64, *, seed: int = 0, name: str = "embedding"
    ) -> None:
        if not callable(fn):
            raise ConfigurationError("EmbeddingFeaturizer needs a callable fn(text) -> vector")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ConfigurationError(f"EmbeddingFeaturizer dim must be an int >= 2, got {dim!r}")
        self.fn = fn
        self.dim = dim
        self.seed = int(seed)
        self.name = name
        self._projection: np.ndarray | None = None

    def transform(self, messages: Sequence[Message]) -> np.ndarray:
        """Embed, project, append a bias and normalise."""
        raw = np.asarray(self.fn(_text_of(messages)), dtype=float).ravel()
        if raw.size == 0 or not np.all(np.isfinite(raw)):
            raise ConfigurationError(
                "the embedding function returned an empty or non-finite vector"
            )
        if self._projection is None or self._projection.shape[1] != raw.size:
            rng = np.random.default_rng(self.seed)
            self._projection = rng.standard_normal((self.dim - 1, raw.size)) / math.sqrt(
                self.dim - 1
            )
        projected = self._projection @ raw
        norm = np.linalg.norm(projected)
        if norm > 0:
            projected = projected / norm
        vec = np.concatenate([projected, [1.0]])
        return vec / np.linalg.norm(vec)

    def config(self) -> dict[str, Any]:
        """JSON description of this featurizer."""
        return {"kind": "embedding", "dim": self.dim, "seed": self.seed, "name": self.name}
