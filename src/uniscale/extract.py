"""Answer extraction and voting for self-consistency."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["Extractor", "extract_answer", "majority_vote", "normalize_text", "vote_counts"]

Extractor = Callable[[str], "str | None"]
"""Maps a generated text to the answer it gives, or ``None`` when it gives none."""

_BOXED = re.compile(r"\\boxed\s*\{")
_ANSWER_LINE = re.compile(
    r"(?:final answer|the answer is|answer)\s*(?:is)?\s*[:=]?\s*(.+)", re.IGNORECASE
)
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def _boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}``, braces balanced."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    start = matches[-1].end()
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def _clean_number(token: str) -> str:
    token = token.replace(",", "").replace("$", "")
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    if token in ("", "-"):
        return "0"
    if token.startswith("-0") and token.strip("-0.") == "":
        return "0"
    return token


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation at the ends, fold white space."""
    text = " ".join(text.lower().split())
    return text.strip(" .,:;!?\"'`*()[]")


def _normalize_answer(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    numbers = _NUMBER.findall(raw)
    words = normalize_text(_NUMBER.sub(" ", raw))
    if len(numbers) == 1 and len(words) <= 12:
        return _clean_number(numbers[0])
    return normalize_text(raw) or None


def extract_answer(text: str) -> str | None:
    """The answer a generated text gives.

    Tried in order: the last ``\\boxed{...}``; the last "answer:" / "the answer is" line;
    the last number; the whole text, normalised. Numbers lose thousands separators,
    currency signs and trailing zeros so that ``"1,000.0"`` and ``"$1000"`` vote together.

    Args:
        text: A generated sample.

    Returns:
        The normalised answer, or ``None`` for a blank text.
    """
    boxed = _boxed(text)
    if boxed is not None:
        return _normalize_answer(boxed)
    for line in reversed(text.strip().splitlines()):
        match = _ANSWER_LINE.search(line)
        if match:
            answer = _normalize_answer(match.group(1))
            if answer is not None:
                return answer
    numbers = _NUMBER.findall(text)
    if numbers:
        return _clean_number(numbers[-1])
    return normalize_text(text) or None


def vote_counts(answers: Sequence[str | None]) -> tuple[dict[str, int], dict[str, int]]:
    """Votes per answer and the index of each answer's first vote (``None`` does not vote)."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        counts[answer] = counts.get(answer, 0) + 1
        first.setdefault(answer, i)
    return counts, first


def majority_vote(answers: Sequence[str | None]) -> tuple[int, float]:
    """Index of the first sample giving the most frequent answer, and its vote share.

    ``None`` answers (failed extraction) do not vote. Ties go to the answer seen first.

    Args:
        answers: One extracted answer per sample.

    Returns:
        ``(index, share)``; ``(0, 0.0)`` when no sample gave an answer.
    """
    counts, first = vote_counts(answers)
    if not counts:
        return 0, 0.0
    best = max(counts, key=lambda a: (counts[a], -first[a]))
    voters = sum(counts.values())
    return first[best], counts[best] / voters
