"""The core settings ``UniScaleLLM`` accepts, and building (or loading) its router from them.

The argument list is the one every UniScale framework adapter shares: ``models``,
``prices``, ``strategies``, ``n``, ``arms``, ``objective``, ``alpha``, ``ridge``,
``featurizer``, ``fallback``, ``state_path``, ``seed``, ``router``, ``baseline``,
``conservative`` and ``log``.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import uniscale as us

__all__ = ["CORE_ARGUMENTS", "RouterSettings", "as_strategy", "build_router", "context_kwargs",
           "supports"]

log = logging.getLogger("uniscale")

CORE_ARGUMENTS = ("models", "prices", "strategies", "n", "arms", "objective", "alpha",
                  "ridge", "featurizer", "fallback", "state_path", "seed", "router",
                  "baseline", "conservative", "log")
"""The router settings every UniScale framework adapter takes, in this order."""

_STRATEGIES: dict[str, Callable[[], us.Strategy]] = {
    "single": us.Single,
    "self-consistency": us.SelfConsistency,
}

_PASS_THROUGH = ("baseline", "conservative", "log")
"""Settings handed to :class:`uniscale.Router` only when the installed core knows them."""


def as_strategy(value: us.Strategy | str) -> us.Strategy:
    """A strategy, or the strategy named ``"single"``, ``"self-consistency"``, ``"best-of-n"``.

    Raises:
        uniscale.ConfigurationError: An unknown name, ``"best-of-n"`` (it needs a scorer),
            or a value that is neither a name nor a ``uniscale.Strategy``.
    """
    if isinstance(value, us.Strategy):
        return value
    if not isinstance(value, str):
        raise us.ConfigurationError(
            f"strategies= takes uniscale strategies or their names, got {value!r}")
    name = value.strip().lower().replace("_", "-")
    if name in ("best-of-n", "bon"):
        raise us.ConfigurationError(
            "the 'best-of-n' strategy needs a scorer: pass "
            "uniscale.BestOfN(scorer=fn) with fn(prompt, text) -> float instead of its name")
    make = _STRATEGIES.get({"sc": "self-consistency"}.get(name, name))
    if make is None:
        raise us.ConfigurationError(
            f"unknown strategy {value!r}: use 'single', 'self-consistency', 'best-of-n' "
            "(with a scorer) or a uniscale.Strategy")
    return make()


def supports(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` takes a keyword argument ``name`` (this core version's API)."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def context_kwargs(router: us.Router, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``context=`` keyword for ``router.decide`` (empty when no context was given).

    Raises:
        uniscale.ConfigurationError: A context was given but the installed core's
            ``Router.decide`` takes none.
    """
    if context is None:
        return {}
    if not supports(router.decide, "context"):
        raise us.ConfigurationError(
            "context= is not supported by the installed uniscale core (Router.decide takes "
            "no context=): upgrade uniscale, or leave context= out")
    return {"context": context}


@dataclass(frozen=True)
class RouterSettings:
    """The router settings passed to an adapter (``None``: not given, the core's default).

    Attributes:
        prices: Price per model (``uniscale.Price``, ``{"input":, "output":}`` or a pair).
        strategies: Strategies (or their names) crossed with the models and ``n``.
        n: Sample counts crossed with the models and strategies.
        arms: Explicit arms instead of that product.
        objective: ``uniscale.Tradeoff`` or ``uniscale.Budget``.
        alpha: Exploration width of LinUCB.
        ridge: Ridge prior precision.
        featurizer: Context featurizer.
        fallback: Arms (or arm keys, or model names for their single-sample arm) tried in
            order when the chosen arm fails.
        seed: Seed of the router.
        baseline: Baseline arm of conservative exploration (cores that support it).
        conservative: Conservative-exploration setting (cores that support it).
        log: Decision log (cores that support it).
    """

    prices: Mapping[str, Any] | None = None
    strategies: Sequence[us.Strategy | str] | None = None
    n: Sequence[int] | None = None
    arms: us.ArmSpace | Iterable[us.Arm] | None = None
    objective: us.Tradeoff | us.Budget | None = None
    alpha: float | None = None
    ridge: float | None = None
    featurizer: us.Featurizer | None = None
    fallback: Sequence[us.Arm | str] | None = None
    seed: int | None = None
    baseline: Any = None
    conservative: Any = None
    log: Any = None

    def given(self) -> list[str]:
        """Names of the settings that were given."""
        return [k for k, v in vars(self).items() if v is not None]

    def space(self, models: Sequence[str]) -> us.ArmSpace:
        """The arm space: ``arms``, else models x strategies x n."""
        if self.arms is not None:
            return self.arms if isinstance(self.arms, us.ArmSpace) else us.ArmSpace(self.arms)
        strategies = [as_strategy(s) for s in self.strategies or ("single",)]
        return us.ArmSpace.product(list(models), strategies, list(self.n or (1,)))

    def fallback_arms(self, space: us.ArmSpace) -> list[us.Arm]:
        """``fallback`` as arms of ``space`` (a model name means its n=1 Single arm)."""
        arms: list[us.Arm] = []
        for item in self.fallback or ():
            if isinstance(item, us.Arm):
                arms.append(item)
            elif isinstance(item, str) and space.get(item) is not None:
                arms.append(space.find(item))
            elif isinstance(item, str) and item in space.models:
                arms.append(us.Arm(item, us.Single(), 1))
            else:
                raise us.ConfigurationError(
                    f"fallback= item {item!r} is neither an arm, an arm key nor a model of "
                    f"the arms (models: {list(space.models)})")
        return arms

    def extras(self, function: Callable[..., Any], what: str,
               skip: Sequence[str] = ()) -> dict[str, Any]:
        """The pass-through settings given (but ``skip``), checked against ``function``.

        Raises:
            uniscale.ConfigurationError: A pass-through setting this core does not know.
        """
        out: dict[str, Any] = {}
        for name in _PASS_THROUGH:
            value = getattr(self, name)
            if value is None or name in skip:
                continue
            if not supports(function, name):
                raise us.ConfigurationError(
                    f"{name}= is not supported by the installed uniscale core ({what} takes "
                    f"no {name}=): upgrade uniscale, or leave {name}= out")
            out[name] = value
        return out


def _load(settings: RouterSettings, space: us.ArmSpace, fallback: list[us.Arm],
          state_path: str) -> us.Router:
    """The router saved at ``state_path``, with the settings given in code."""
    # a decision log is not part of the saved state: attach it after loading if the
    # core's Router.load does not take one
    attach_log = settings.log is not None and not supports(us.Router.load, "log")
    extras = settings.extras(us.Router.load, "Router.load",
                             skip=("log",) if attach_log else ())
    kept = [k for k in ("ridge", "seed") if getattr(settings, k) is not None]
    if kept:
        log.warning("uniscale: %s given in code but the state in %s keeps its own "
                    "(they shape the learned statistics)", ", ".join(kept), state_path)
    router = us.Router.load(
        state_path, arms=space, featurizer=settings.featurizer, prices=settings.prices,
        objective=settings.objective, alpha=settings.alpha,
        fallback=fallback if settings.fallback is not None else None, **extras)
    if attach_log:
        settings.extras(us.Router, "Router", skip=("baseline", "conservative"))
        from uniscale.log import open_log

        router.decision_log = open_log(settings.log)
    return router


def build_router(settings: RouterSettings, models: Sequence[str],
                 state_path: str | None) -> us.Router:
    """A new router from ``settings``, or the one saved at ``state_path`` when it exists.

    On load, the settings given here win over the saved ones and the learned statistics
    are kept (``uniscale.Router.load`` logs one warning naming what changed). ``ridge`` and
    ``seed`` shape the saved statistics, so a saved state keeps its own: a warning says so
    when they were given.

    Raises:
        uniscale.ConfigurationError: No prices for a new router, unknown strategies or
            fallback arms, or a pass-through setting the core does not support.
        uniscale.StateFileError: The state file cannot be read or does not match the arms.
    """
    space = settings.space(models)
    fallback = settings.fallback_arms(space)
    if state_path and os.path.exists(state_path):
        return _load(settings, space, fallback, state_path)
    if settings.prices is None:
        raise us.ConfigurationError(
            "the router needs prices= (uniscale.Price per model, USD per 1M tokens), a ready "
            "router=, or a state_path= whose file exists")
    extras = settings.extras(us.Router, "Router")
    optional = {k: getattr(settings, k) for k in ("alpha", "ridge", "seed")
                if getattr(settings, k) is not None}
    return us.Router(space, settings.prices, settings.objective,
                     featurizer=settings.featurizer, fallback=fallback, **optional, **extras)
