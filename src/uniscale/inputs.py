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
    InvalidScoreError,
    NoArmAllowedError,
)
from .features import Featurizer
from .types import as_messages

__all__ = ["ArmSelector", "check_number", "context_of", "select_arms"]

ArmSelector = Iterable[Arm | str] | Callable[[Arm], bool]
"""Arms, arm keys, or a predicate over arms."""


def context_of(featurizer: Featurizer, request: Any, features: Any, input_tokens: int | None
               ) -> tuple[np.ndarray, int]:
    """The context vector and input-token count of a request (or of given features)."""
    if features is not None:
        x = np.asarray(features, dtype=float)
        if x.shape != (featurizer.dim,):
            raise InvalidFeaturesError(
                f"features have shape {x.shape}, expected ({featurizer.dim},): pass "
                "a vector as long as the featurizer's dim, or pass the prompt instead"
            )
        if not np.all(np.isfinite(x)):
            raise InvalidFeaturesError("features contain NaN or infinity: clean them first")
        tokens = input_tokens
        if tokens is None:
            tokens = estimate_tokens(as_messages(request)) if request is not None else 0
        return x.copy(), int(tokens)
    if request is None:
        raise ConfigurationError("decide() needs a prompt, messages, or features=")
    messages = as_messages(request)
    x = np.asarray(featurizer.transform(messages), dtype=float)
    tokens = estimate_tokens(messages) if input_tokens is None else int(input_tokens)
    return x, tokens


def select_arms(arms: ArmSpace, allowed: ArmSelector | None) -> list[Arm]:
    """The arms a request may use: all of them, or those ``allowed`` names."""
    if allowed is None:
        return list(arms)
    if callable(allowed):
        chosen = [a for a in arms if allowed(a)]
    else:
        chosen = [a if isinstance(a, Arm) else arms.find(a) for a in allowed]
        for arm in chosen:
            arms.index(arm)
    if not chosen:
        raise NoArmAllowedError(
            "allowed= leaves no arm to choose from: allow at least one arm of the router"
        )
    return chosen


def check_number(name: str, value: Any, upper: float | None) -> float:
    """``value`` as a float, or an :class:`InvalidScoreError` saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidScoreError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidScoreError(f"{name} is {number}: pass a finite number")
    if number < 0 or (upper is not None and number > upper):
        bound = f"between 0 and {upper:g}" if upper is not None else ">= 0"
        raise InvalidScoreError(f"{name} must be {bound}, got {number}: rescale it")
    return number
