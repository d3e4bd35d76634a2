"""Checks of the arguments of the public entry points: a clear uniscale error or the value.

Every check here raises a :class:`~uniscale.UniScaleError` subclass whose message says
what was wrong and what to pass instead, before anything is changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .arms import Arm, ArmSpace
from .cost import Price, as_price
from .errors import ConfigurationError, InvalidRequestError, NumericalError, UniScaleError
from .features import Featurizer
from .types import Usage

__all__ = ["arm", "arm_space", "count", "featurizer", "price", "prices", "real", "usage"]

MAX_STATE_BYTES = 2 << 30
"""Largest learned statistics a router may allocate (2 GiB)."""


def real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
         error: type[UniScaleError] = ConfigurationError) -> float:
    """``value`` as a finite float in ``[low, high]``, or ``error``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise error(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise error(f"{name} is too large ({str(value)[:20]}...): pass a finite number") \
            from None
    if not math.isfinite(number):
        raise error(f"{name} is {number}: pass a finite number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise error(f"{name} must be between {low:g} and {high:g}, got {number:g}"
                    if low is not None and high is not None else
                    f"{name} must be >= {low:g}, got {number:g}" if low is not None else
                    f"{name} must be <= {high:g}, got {number:g}")
    return number


def count(name: str, value: Any, *, high: int = 10**9,
          error: type[UniScaleError] = ConfigurationError) -> int:
    """``value`` as a whole number in ``[0, high]``, or ``error``."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise error(f"{name} must be a whole number >= 0, got {value!r}")
    if not 0 <= int(value) <= high:
        raise error(f"{name} must be a whole number between 0 and {high}, got {value}")
    return int(value)


def price(model: Any, value: Any) -> Price:
    """A :class:`Price` for ``model`` from a Price, a dict or an ``(input, output)`` pair."""
    if not isinstance(model, str) or not model:
        raise ConfigurationError(f"a model name must be a non-empty string, got {model!r}")
    try:
        return as_price(value)
    except UniScaleError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot read the price of {model!r} from {value!r} ({exc}): use "
            "uniscale.Price(input=..., output=...) in USD per 1M tokens") from None


def prices(value: Any) -> dict[str, Price]:
    """Every model's price from a mapping of model name to price."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"prices must be a dict of model name to uniscale.Price, got {value!r}")
    return {model: price(model, p) for model, p in value.items()}


def arm(value: Any) -> Arm:
    """``value`` if it is an :class:`Arm`."""
    if not isinstance(value, Arm):
        raise ConfigurationError(
            f"expected a uniscale.Arm(model, strategy, n), got {value!r}: find an arm by its "
            "key with router.arms.find(key)")
    return value


def arm_space(value: Any) -> ArmSpace:
    """An :class:`ArmSpace` from an ArmSpace or an iterable of arms."""
    if isinstance(value, ArmSpace):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"arms must be a uniscale.ArmSpace or a list of uniscale.Arm, got {value!r}")
    return ArmSpace(value)


def featurizer(value: Any, slots: int) -> Featurizer:
    """``value`` if it is a featurizer whose statistics for ``slots`` arms fit in memory."""
    if not isinstance(value, Featurizer) or not callable(getattr(value, "transform", None)):
        raise ConfigurationError(
            f"featurizer must have dim, transform(messages) and config() (a "
            f"uniscale.Featurizer), got {type(value).__name__}")
    dim = value.dim
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ConfigurationError(f"featurizer dim must be a whole number >= 1, got {dim!r}")
    need = 2 * max(slots, 1) * int(dim) ** 2 * 8
    if need > MAX_STATE_BYTES:
        raise ConfigurationError(
            f"a featurizer of dim {dim} needs {need / 2**30:.1f} GiB of statistics for "
            f"{slots} arms (limit {MAX_STATE_BYTES / 2**30:.0f} GiB): use dim <= 1024")
    return value


def usage(value: Any) -> Usage:
    """``value`` if it is a :class:`Usage` whose token counts are whole numbers >= 0."""
    if not isinstance(value, Usage):
        raise InvalidRequestError(
            f"usage must be a uniscale.Usage(input_tokens=..., output_tokens=...), "
            f"got {value!r}")
    for name in ("input_tokens", "output_tokens", "cached_input_tokens",
                 "cache_write_tokens", "reasoning_tokens", "calls"):
        count(f"Usage.{name}", getattr(value, name), high=10**12, error=InvalidRequestError)
    return value


def callable_or_none(name: str, value: Any) -> Callable[..., Any] | None:
    """``value`` if it is callable or None."""
    if value is not None and not callable(value):
        raise ConfigurationError(f"{name} must be callable, got {value!r}")
    return value


def router_settings(*, alpha: Any, ridge: Any, arm_ridge: Any, forgetting: Any, hybrid: Any,
                    shared_dim: Any, prune: Any, feedback_ttl: Any, prior_output_tokens: Any,
                    seed: Any, clock: Any, pending_store: Any, backends: Any) -> None:
    """Check the numeric and object settings of a :class:`~uniscale.Router`."""
    real("alpha", alpha, low=0.0, high=1e6)
    real("ridge", ridge, low=1e-8, high=1e8)
    if arm_ridge is not None:
        real("arm_ridge", arm_ridge, low=1e-8, high=1e8)
    real("forgetting", forgetting, low=0.5, high=1.0)
    for name, flag in (("hybrid", hybrid), ("prune", prune)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ConfigurationError(f"{name} must be True or False, got {flag!r}")
    if count("shared_dim", shared_dim, high=64) < 1:
        raise ConfigurationError("shared_dim must be between 1 and 64, got 0")
    real("feedback_ttl", feedback_ttl, low=1e-3, high=1e10)
    real("prior_output_tokens", prior_output_tokens, low=0.0, high=1e7)
    count("seed", seed, high=2**63 - 1)
    if not callable(clock):
        raise ConfigurationError(f"clock must be a function returning seconds, got {clock!r}")
    needs = ("put", "get", "close", "state", "set_state")
    if pending_store is not None and not all(callable(getattr(pending_store, m, None))
                                             for m in needs):
        raise ConfigurationError(
            f"pending_store must be a uniscale PendingStore or RedisPendingStore, got "
            f"{type(pending_store).__name__}")
    if backends is not None and not isinstance(backends, Mapping):
        raise ConfigurationError(
            f"backends must be a dict of model name to backend, got {backends!r}")


def finite_scores(scores: np.ndarray) -> None:
    """Refuse to choose on NaN or infinite arm scores."""
    if not np.all(np.isfinite(scores)):
        raise NumericalError(
            "the learned statistics give non-finite arm scores (a numerical breakdown); "
            "nothing was changed: load the last good state file or start a new Router, and "
            "report this with the state file")


def positive_count(name: str, value: Any, high: int = 10**8) -> int:
    """``value`` as a whole number in ``[1, high]``."""
    number = count(name, value, high=high)
    if number < 1:
        raise ConfigurationError(f"{name} must be a whole number >= 1, got {value!r}")
    return number
