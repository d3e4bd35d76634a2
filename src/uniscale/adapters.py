"""What every framework adapter shares: its router settings, and building the router.

The LangChain (``ChatUniScale``) and LlamaIndex (``UniScaleLLM``) adapters take the same
core arguments (:data:`CORE_ARGUMENTS`): ``models``, ``prices``, ``strategies``, ``n``,
``arms``, ``objective``, ``alpha``, ``ridge``, ``featurizer``, ``fallback``,
``state_path``, ``seed``, ``router``, ``baseline``, ``conservative`` and ``log``. This
module imports no framework.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .arms import Arm, ArmSpace
from .errors import ConfigurationError, MissingBackendError
from .features import Featurizer
from .log import open_log
from .objective import Budget, Tradeoff
from .router import Router
from .strategies import SelfConsistency, Single, Strategy

__all__ = ["CORE_ARGUMENTS", "PASS_THROUGH", "STRATEGY_NAMES", "RouterSettings", "as_strategy",
           "build_router", "check_arguments", "context_kwargs", "takes"]

log = logging.getLogger("uniscale")

CORE_ARGUMENTS = ("models", "prices", "strategies", "n", "arms", "objective", "alpha",
                  "ridge", "featurizer", "fallback", "state_path", "seed", "router",
                  "baseline", "conservative", "log")
"""The router settings every UniScale framework adapter takes, in this order."""

STRATEGY_NAMES = ("single", "self-consistency", "best-of-n")
"""Names accepted in ``strategies=`` (``"best-of-n"`` only explains that it needs a scorer)."""

PASS_THROUGH = ("baseline", "conservative", "log")
"""Settings handed to :class:`~uniscale.Router` only when the installed core takes them."""

_STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "single": Single, "one": Single, "self-consistency": SelfConsistency, "sc": SelfConsistency,
}


def check_arguments(given: Iterable[str], known: Iterable[str], owner: str,
                    framework: str) -> None:
    """Refuse constructor arguments that an adapter does not take.

    Args:
        given: The argument names passed.
        known: The names the adapter takes besides :data:`CORE_ARGUMENTS`.
        owner: The adapter's class name, for the message.
        framework: What else it takes, for the message (e.g. "LlamaIndex's LLM fields").

    Raises:
        ConfigurationError: Naming each unknown argument, with the closest known name.
    """
    names = sorted({*known, *CORE_ARGUMENTS})
    unknown = [k for k in given if k not in names]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ConfigurationError(
        f"{owner} got unknown argument(s) {', '.join(hints)}; it takes the core settings "
        f"{', '.join(CORE_ARGUMENTS)} and {framework}")


def as_strategy(value: Strategy | str) -> Strategy:
    """A strategy, or the strategy named ``"single"``, ``"self-consistency"``, ``"best-of-n"``.

    Raises:
        ConfigurationError: An unknown name, ``"best-of-n"`` (it needs a scorer), or a
            value that is neither a name nor a :class:`~uniscale.Strategy`.
    """
    if isinstance(value, Strategy):
        return value
    if not isinstance(value, str):
        raise ConfigurationError(
            f"strategies= takes uniscale strategies or their names {STRATEGY_NAMES}, "
            f"got {value!r}")
    name = value.strip().lower().replace("_", "-")
    if name in ("best-of-n", "bon"):
        raise ConfigurationError(
            "the 'best-of-n' strategy needs a scorer: pass uniscale.BestOfN(scorer=fn) "
            "with fn(prompt, text) -> float (or a uniscale.Judge) instead of its name")
    make = _STRATEGIES.get(name)
    if make is None:
        raise ConfigurationError(
            f"unknown strategy {value!r}: use one of {STRATEGY_NAMES} or a uniscale.Strategy")
    return make()


def takes(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` takes a keyword argument ``name`` (this core version's API)."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def context_kwargs(router: Router, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``context=`` keyword for ``router.decide`` (empty when no context was given).

    Raises:
        ConfigurationError: A context was given but this ``Router.decide`` takes none.
    """
    if context is None:
        return {}
    if not takes(router.decide, "context"):
        raise ConfigurationError(
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
    strategies: Sequence[Strategy | str] | None = None
    n: Sequence[int] | None = None
    arms: ArmSpace | Iterable[Arm] | None = None
    objective: Tradeoff | Budget | None = None
    alpha: float | None = None
    ridge: float | None = None
    featurizer: Featurizer | None = None
    fallback: Sequence[Arm | str] | None = None
    seed: int | None = None
    baseline: Any = None
    conservative: Any = None
    log: Any = None

    def given(self) -> list[str]:
        """Names of the settings that were given."""
        return [k for k, v in vars(self).items() if v is not None]

    def space(self, models: Sequence[str]) -> ArmSpace:
        """The arm space: ``arms``, else models x strategies x n.

        Raises:
            MissingBackendError: ``arms`` use a model that is not in ``models``.
        """
        if self.arms is not None:
            space = self.arms if isinstance(self.arms, ArmSpace) else ArmSpace(self.arms)
            unknown = [m for m in space.models if m not in models]
            if unknown:
                raise MissingBackendError(
                    f"arms= use models {unknown} that are not in models= (known: "
                    f"{sorted(models)}); add their child models")
            return space
        strategies = [as_strategy(s) for s in self.strategies or ("single",)]
        return ArmSpace.product(list(models), strategies, list(self.n or (1,)))

    def fallback_arms(self, space: ArmSpace) -> list[Arm]:
        """``fallback`` as arms of ``space`` (a model name means its n=1 Single arm)."""
        arms: list[Arm] = []
        for item in self.fallback or ():
            if isinstance(item, Arm):
                arms.append(item)
            elif isinstance(item, str) and space.get(item) is not None:
                arms.append(space.find(item))
            elif isinstance(item, str) and item in space.models:
                arms.append(Arm(item, Single(), 1))
            else:
                raise ConfigurationError(
                    f"fallback= item {item!r} is neither an arm, an arm key nor a model of "
                    f"the arms (models: {list(space.models)})")
        return arms

    def extras(self, function: Callable[..., Any], what: str,
               skip: Sequence[str] = ()) -> dict[str, Any]:
        """The pass-through settings given (but ``skip``), checked against ``function``.

        Raises:
            ConfigurationError: A pass-through setting this core does not know.
        """
        out: dict[str, Any] = {}
        for name in PASS_THROUGH:
            value = getattr(self, name)
            if value is None or name in skip:
                continue
            if not takes(function, name):
                raise ConfigurationError(
                    f"{name}= is not supported by the installed uniscale core ({what} takes "
                    f"no {name}=): upgrade uniscale, or leave {name}= out")
            out[name] = value
        return out


def _load(settings: RouterSettings, space: ArmSpace, fallback: list[Arm],
          state_path: str, backends: Mapping[str, Any] | None) -> Router:
    """The router saved at ``state_path``, with the settings given in code."""
    # a decision log is not part of the saved state: attach it after loading if the
    # core's Router.load does not take one
    attach_log = settings.log is not None and not takes(Router.load, "log")
    extras = settings.extras(Router.load, "Router.load",
                             skip=("log",) if attach_log else ())
    kept = [k for k in ("ridge", "seed") if getattr(settings, k) is not None]
    if kept:
        log.warning("uniscale: %s given in code but the state in %s keeps its own "
                    "(they shape the learned statistics)", ", ".join(kept), state_path)
    router = Router.load(
        state_path, backends=backends, arms=space, featurizer=settings.featurizer,
        prices=settings.prices, objective=settings.objective, alpha=settings.alpha,
        fallback=fallback if settings.fallback is not None else None, **extras)
    if attach_log:
        settings.extras(Router, "Router", skip=("baseline", "conservative"))
        router.decision_log = open_log(settings.log)
    return router


def build_router(settings: RouterSettings, models: Sequence[str], state_path: str | None,
                 backends: Mapping[str, Any] | None = None) -> Router:
    """A new router from ``settings``, or the one saved at ``state_path`` when it exists.

    On load, the settings given here win over the saved ones and the learned statistics
    are kept (``uniscale.Router.load`` logs one warning naming what changed). ``ridge`` and
    ``seed`` shape the saved statistics, so a saved state keeps its own: a warning says so
    when they were given.

    Args:
        settings: The core settings given to the adapter.
        models: The model names (keys of the adapter's ``models=``).
        state_path: The learned-state file, if any.
        backends: A backend per model, when the adapter has them already.

    Raises:
        ConfigurationError: No prices for a new router, unknown strategies or
            fallback arms, or a pass-through setting the core does not support.
        StateFileError: The state file cannot be read or does not match the arms.
    """
    space = settings.space(models)
    fallback = settings.fallback_arms(space)
    if state_path and os.path.exists(state_path):
        return _load(settings, space, fallback, state_path, backends)
    if settings.prices is None:
        raise ConfigurationError(
            "the router needs prices= (uniscale.Price per model, USD per 1M tokens), a ready "
            "router=, or a state_path= whose file exists")
    extras = settings.extras(Router, "Router")
    optional = {k: getattr(settings, k) for k in ("alpha", "ridge", "seed")
                if getattr(settings, k) is not None}
    return Router(space, settings.prices, settings.objective, backends,
                  featurizer=settings.featurizer, fallback=fallback, **optional, **extras)
