"""Turning a caller's request into what the router decides on, and checking numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .arms import Arm, ArmSpace
from .cost import estimate_tokens
from .errors import (
    ConfigurationError,
    InvalidFeaturesError,
    InvalidRequestError,
    InvalidScoreError,
    NoArmAllowedError,
    UniScaleError,
)
from .features import Featurizer, HashingFeaturizer
from .types import Message, as_messages
from .validate import count

__all__ = ["ArmSelector", "bounded", "check_number", "context_of", "messages_of", "select_arms"]

ArmSelector = Iterable[Arm | str] | Callable[[Arm], bool]
"""Arms, arm keys, or a predicate over arms."""


def messages_of(request: Any) -> tuple[Message, ...]:
    """The messages of a request, or an :class:`InvalidRequestError` saying what to pass."""
    try:
        return as_messages(request)
    except UniScaleError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidRequestError(
            f"cannot read a request from {type(request).__name__} ({exc}): pass a prompt "
            "string, a uniscale.Message, a {'role': ..., 'content': ...} dict or a list "
            "of them") from None


def bounded(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to unit length when it is longer (shorter vectors are kept as they are).

    The statistics add up outer products of contexts, so an unbounded context would let
    one request swamp (or overflow) everything learned.
    """
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0:
        return x
    unit = x / top
    length = float(np.linalg.norm(unit))
    if top * length <= 1.0 + 1e-9:
        return x
    return unit / length


def _vector(raw: Any, dim: int, what: str) -> np.ndarray:
    if dim and type(raw) is np.ndarray and raw.dtype == np.float64 and raw.shape == (dim,):
        x = raw.copy()
        # |x|² <= 1 + 1e-9 means finite (NaN and infinity fail it) and |x| <= 1 + 5e-10:
        # bounded() would keep x as it is; anything else takes the checks below
        if float(x.dot(x)) <= 1.0 + 1e-9:
            return x
    try:
        given = np.asarray(raw)
        if given.dtype.kind not in "biuf":
            raise TypeError(f"its values are of type {given.dtype}")
        x = np.array(given, dtype=float)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidFeaturesError(
            f"{what} is not a vector of real numbers ({exc}): pass a float array of length "
            f"{dim}") from None
    if x.shape != (dim,):
        raise InvalidFeaturesError(
            f"{what} has shape {x.shape}, expected ({dim},): pass a vector as long as the "
            "featurizer's dim, or pass the prompt instead"
        )
    if not np.all(np.isfinite(x)):
        raise InvalidFeaturesError(f"{what} contains NaN or infinity: clean it first")
    return bounded(x)


def context_of(featurizer: Featurizer, request: Any, features: Any, input_tokens: Any
               ) -> tuple[np.ndarray, int]:
    """The context vector and input-token count of a request (or of given features).

    Features longer than 1 (Euclidean) are scaled to unit length; featurizer output is
    checked the same way.
    """
    tokens = None if input_tokens is None else count(
        "input_tokens", input_tokens, error=InvalidRequestError)
    if features is not None:
        x = _vector(features, featurizer.dim, "features")
        if tokens is None:
            tokens = estimate_tokens(messages_of(request)) if request is not None else 0
        return x, tokens
    if request is None:
        raise InvalidRequestError("decide() needs a prompt, messages, or features=")
    messages = messages_of(request)
    try:
        raw = featurizer.transform(messages)
    except UniScaleError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"the featurizer {type(featurizer).__name__} failed on this request "
            f"({type(exc).__name__}: {exc}): fix the featurizer or pass features=") from exc
    if type(featurizer) is HashingFeaturizer:  # a fresh unit vector: nothing to check
        x = raw
    else:
        x = _vector(raw, featurizer.dim, f"the output of {type(featurizer).__name__}")
    return x, estimate_tokens(messages) if tokens is None else tokens


def select_arms(arms: ArmSpace, allowed: ArmSelector | None) -> list[Arm]:
    """The arms a request may use: all of them, or those ``allowed`` names."""
    if allowed is None:
        return list(arms)
    if callable(allowed):
        try:
            chosen = [a for a in arms if allowed(a)]
        except UniScaleError:
            raise
        except Exception as exc:
            raise ConfigurationError(
                f"the allowed= predicate raised {type(exc).__name__}: {exc}; it must take "
                "a uniscale.Arm and return True or False") from exc
    else:
        if isinstance(allowed, (str, bytes)) or not isinstance(allowed, Iterable):
            raise ConfigurationError(
                f"allowed= must be a list of arms or arm keys, or a predicate; got "
                f"{allowed!r}")
        chosen = []
        for item in allowed:
            if isinstance(item, str):
                chosen.append(arms.find(item))
            elif isinstance(item, Arm):
                arms.index(item)
                chosen.append(item)
            else:
                raise ConfigurationError(
                    f"allowed= holds {item!r}: list uniscale.Arm values or arm keys")
        chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise NoArmAllowedError(
            "allowed= leaves no arm to choose from: allow at least one arm of the router"
        )
    return chosen


def check_number(name: str, value: Any, upper: float | None) -> float:
    """``value`` as a float, or an :class:`InvalidScoreError` saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidScoreError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidScoreError(f"{name} is too large: pass a finite number") from None
    if not math.isfinite(number):
        raise InvalidScoreError(f"{name} is {number}: pass a finite number")
    if number < 0 or (upper is not None and number > upper):
        bound = f"between 0 and {upper:g}" if upper is not None else ">= 0"
        raise InvalidScoreError(f"{name} must be {bound}, got {number}: rescale it")
    return number
