"""The core settings ChatUniScale takes, and building (or loading) its router from them.

Every UniScale framework adapter takes the same core arguments (:data:`CORE_ARGUMENTS`):
``models``, ``prices``, ``strategies``, ``n``, ``arms``, ``objective``, ``alpha``,
``ridge``, ``featurizer``, ``fallback``, ``state_path``, ``seed``, ``router``,
``baseline``, ``conservative`` and ``log``.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import uniscale as us

__all__ = ["CORE_ARGUMENTS", "STRATEGY_NAMES", "as_strategy", "check_arguments",
           "make_router", "takes"]

log = logging.getLogger("uniscale")

CORE_ARGUMENTS = ("models", "prices", "strategies", "n", "arms", "objective", "alpha",
                  "ridge", "featurizer", "fallback", "state_path", "seed", "router",
                  "baseline", "conservative", "log")
"""The router settings every UniScale framework adapter takes."""

STRATEGY_NAMES = ("single", "self-consistency", "best-of-n")
"""Names accepted in ``strategies=`` (``"best-of-n"`` only explains that it needs a scorer)."""

PASS_THROUGH = ("baseline", "conservative", "log")
"""Settings given to :class:`uniscale.Router` only when the installed core takes them."""


def check_arguments(given: Iterable[str], known: Iterable[str], owner: str) -> None:
    """Refuse constructor arguments that ``owner`` does not take.

    Raises:
        uniscale.ConfigurationError: Naming each unknown argument, with the closest known
            name when there is one.
    """
    names = sorted(known)
    unknown = [k for k in given if k not in names]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise us.ConfigurationError(
        f"{owner} got unknown argument(s) {', '.join(hints)}; it takes the core "
        f"settings {', '.join(CORE_ARGUMENTS)} and LangChain's chat-model fields")


def as_strategy(value: us.Strategy | str) -> us.Strategy:
    """A strategy, or the one named ``"single"`` or ``"self-consistency"`` (``"sc"``).

    Raises:
        uniscale.ConfigurationError: An unknown name, ``"best-of-n"`` (it needs a scorer),
            or a value that is neither a name nor a ``uniscale.Strategy``.
    """
    if isinstance(value, us.Strategy):
        return value
    if not isinstance(value, str):
        raise us.ConfigurationError(
            f"strategies= takes uniscale strategies or their names {STRATEGY_NAMES}, "
            f"got {value!r}")
    name = value.strip().lower().replace("_", "-")
    if name in ("single", "one"):
        return us.Single()
    if name in ("self-consistency", "sc"):
        return us.SelfConsistency()
    if name in ("best-of-n", "bon"):
        raise us.ConfigurationError(
            "the 'best-of-n' strategy needs a scorer: pass uniscale.BestOfN(scorer=fn) "
            "with fn(prompt, text) -> float (or a uniscale.Judge) instead of its name")
    raise us.ConfigurationError(
        f"unknown strategy {value!r}: use one of {STRATEGY_NAMES} or a uniscale.Strategy")


def takes(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` takes a keyword argument ``name`` (this core version's API)."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _space(models: Sequence[str], strategies: Sequence[us.Strategy | str] | None,
           n: Sequence[int] | None, arms: Iterable[us.Arm] | None) -> us.ArmSpace:
    if arms is not None:
        space = arms if isinstance(arms, us.ArmSpace) else us.ArmSpace(arms)
        unknown = [m for m in space.models if m not in models]
        if unknown:
            raise us.MissingBackendError(
                f"arms= use models {unknown} that are not in models= (known: "
                f"{sorted(models)}); add their chat models")
        return space
    chosen = [as_strategy(s) for s in strategies or ("single",)]
    return us.ArmSpace.product(list(models), chosen, list(n or (1,)))


def _fallback(items: Sequence[us.Arm | str] | None, space: us.ArmSpace) -> list[us.Arm]:
    out: list[us.Arm] = []
    for item in items or ():
        if isinstance(item, us.Arm):
            out.append(item)
        elif isinstance(item, str) and space.get(item) is not None:
            out.append(space.find(item))
        elif isinstance(item, str) and item in space.models:
            out.append(us.Arm(item, us.Single(), 1))
        else:
            raise us.ConfigurationError(
                f"fallback= item {item!r} is neither an arm, an arm key nor a model of the "
                f"arms (models: {list(space.models)})")
    return out


def _extras(settings: Mapping[str, Any], function: Callable[..., Any], what: str
            ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in PASS_THROUGH:
        value = settings.get(name)
        if value is None:
            continue
        if not takes(function, name):
            raise us.ConfigurationError(
                f"{name}= is not supported by the installed uniscale core ({what} takes no "
                f"{name}=): upgrade uniscale, or leave {name}= out")
        out[name] = value
    return out


def make_router(models: Sequence[str], backends: Mapping[str, Any],
                settings: Mapping[str, Any], state_path: str | None) -> us.Router:
    """A new router from ``settings``, or the one saved at ``state_path`` when it exists.

    On load the settings given in code win over the saved ones and the learned statistics
    are kept; ``uniscale.Router.load`` logs one warning naming what changed. ``ridge`` and
    ``seed`` shape the saved statistics, so a saved state keeps its own (a warning says so
    when they were given).

    Args:
        models: The model names (keys of ``models=``).
        backends: A backend per model.
        settings: The core settings given (``None`` values: not given).
        state_path: The learned-state file, if any.

    Raises:
        uniscale.ConfigurationError: Unknown strategies or fallback arms, a missing price,
            or a pass-through setting the installed core does not take.
        uniscale.StateFileError: The state file cannot be read or does not match the arms.
    """
    space = _space(models, settings.get("strategies"), settings.get("n"),
                   settings.get("arms"))
    given_fallback = settings.get("fallback")
    fallback = _fallback(given_fallback, space)
    if state_path and os.path.exists(state_path):
        kept = [k for k in ("ridge", "seed") if settings.get(k) is not None]
        if kept:
            log.warning("uniscale: %s given in code, but the state in %s keeps its own "
                        "(they shape the learned statistics)", ", ".join(kept), state_path)
        return us.Router.load(
            state_path, backends=backends, arms=space, featurizer=settings.get("featurizer"),
            prices=settings.get("prices"), objective=settings.get("objective"),
            alpha=settings.get("alpha"),
            fallback=fallback if given_fallback is not None else None,
            **_extras(settings, us.Router.load, "Router.load"))
    optional = {k: settings[k] for k in ("alpha", "ridge", "seed")
                if settings.get(k) is not None}
    return us.Router(space, settings.get("prices") or {}, settings.get("objective"), backends,
                     featurizer=settings.get("featurizer"), fallback=fallback, **optional,
                     **_extras(settings, us.Router, "Router"))
