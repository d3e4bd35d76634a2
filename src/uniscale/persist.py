"""Router state to and from files: what is learned, never code (no pickle)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from .arms import Arm, ArmSpace
from .conservative import ConservativeGuard
from .cost import Price, as_price
from .costsaving import restore_costs, snapshot_costs
from .embeddings import WordLlamaFeaturizer
from .errors import (
    ArmSpaceMismatchError,
    ConfigurationError,
    FeaturizerMismatchError,
    StateFileError,
    UniScaleError,
)
from .features import Featurizer, HashingFeaturizer
from .implicit import ImplicitRewards, as_implicit
from .objective import Budget, Objective, Tradeoff
from .policy.linucb import LinUCB
from .statecheck import check_meta, check_policy
from .store.file import breathe, read_state, write_state
from .store.memory import Pending
from .strategies import SelfConsistency, Single, Strategy

if TYPE_CHECKING:
    from .router import Router

__all__ = ["load_router", "snapshot_router", "write_snapshot"]

log = logging.getLogger("uniscale")

PENDING_VALUES = ("predicted_cost", "charged", "created", "observed_cost", "observed",
                  "input_tokens")
"""Columns of the ``pending_values`` array: one row per saved pending decision
(``observed`` is 1 when ``observed_cost`` is known, else 0 and the cost is 0)."""
PIECE = 256
"""Pending decisions turned into columns per step while saving."""


def _arm_config(arm: Arm) -> dict[str, Any]:
    strategy = arm.strategy.to_config()
    strategy["instruction"] = arm.strategy.instruction
    return {"model": arm.model, "strategy": strategy, "n": arm.n, "key": arm.key}


def _objective_config(objective: Objective) -> dict[str, Any]:
    if isinstance(objective, Tradeoff):
        return {"kind": "tradeoff", **asdict(objective)}
    return {"kind": "budget", **asdict(objective)}


def snapshot_router(router: Router) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Copy ``router``'s configuration and learned state (call under the router's lock).

    Only copies are made here (arrays, small dicts, the pending decisions); turning them
    into JSON and writing happen in :func:`write_snapshot`, outside the lock.
    """
    policy_meta, arrays = router.policy.state()
    implicit_meta, implicit_arrays = (None, {}) if router.implicit is None \
        else router.implicit.state()
    pending = router.pending
    meta = {
        "arms": [_arm_config(a) for a in router.arms],
        "prices": {m: asdict(p) for m, p in router.costs.prices.items()},
        "objective": _objective_config(router.objective),
        "featurizer": router.featurizer.config(),
        "policy_config": router.policy.config(),
        "policy": copy.deepcopy(policy_meta),
        "cost_model": {"state": copy.deepcopy(router.costs.state()),
                       "prior_output_tokens": router.costs.prior_output_tokens,
                       **snapshot_costs(router)},
        "pacer": router.pacer.state(),
        "pending": pending.snapshot() if hasattr(pending, "snapshot") else pending.state(),
        "rng": copy.deepcopy(router.rng.bit_generator.state),
        "settings": {"prune": router.prune, "feedback_ttl": pending.ttl,
                     "on_invalid_feedback": router.on_invalid_feedback,
                     "fallback": [a.key for a in router.fallback], "seed": router.seed,
                     "context_dim": router.context.dim,
                     "max_pending": int(getattr(pending, "max_pending", 10_000)),
                     "exploration": router.exploration, "temperature": router.temperature,
                     "alpha_decay": router.alpha_decay},
        "stats": copy.deepcopy(router.stats),
        "guard": None if router.guard is None else copy.deepcopy(router.guard.state()),
        "implicit": copy.deepcopy(implicit_meta),
    }
    copies = {name: np.array(value, dtype=float)
              for name, value in {**arrays, **router.costs.arrays(),
                                  **implicit_arrays}.items()}
    return meta, copies


def _pending_columns(pending: list[Any], dim: int
                     ) -> tuple[dict[str, list[str]], np.ndarray, np.ndarray]:
    """Pending decisions as columns: ids and arm keys, contexts ``(n, dim)`` and
    :data:`PENDING_VALUES` ``(n, 6)``.

    Made :data:`PIECE` decisions per step: the rows never become JSON objects, so a
    save encodes two lists of short strings and two arrays instead of one object per
    decision, and it allocates only a few objects per step (no garbage-collector pause).
    """
    ids: list[str] = []
    keys: list[str] = []
    contexts = np.empty((len(pending), dim))
    values = np.empty((len(pending), len(PENDING_VALUES)))
    for start in range(0, len(pending), PIECE):
        breathe()
        piece = [p if isinstance(p, Pending) else _pending_item(p)
                 for p in pending[start:start + PIECE]]
        stop = start + len(piece)
        ids += [p.id for p in piece]
        keys += [p.arm for p in piece]
        np.stack([p.x for p in piece], out=contexts[start:stop])
        rows = values[start:stop]
        rows[:, 0] = [p.predicted_cost for p in piece]  # one list per column: the save
        rows[:, 1] = [p.charged for p in piece]  # makes few objects the collector tracks,
        rows[:, 2] = [p.created for p in piece]  # so it sets off no full collection
        seen = [p.observed_cost for p in piece]
        rows[:, 3] = [0.0 if cost is None else cost for cost in seen]
        rows[:, 4] = [cost is not None for cost in seen]
        rows[:, 5] = [p.input_tokens for p in piece]
    return {"arms": keys, "ids": ids}, contexts, values


def _pending_item(row: Mapping[str, Any]) -> Pending:
    """A :class:`Pending` from a shared store's JSON-ready row."""
    return Pending(**{**row, "x": np.asarray(row["x"], dtype=float)})


def write_snapshot(snapshot: tuple[dict[str, Any], dict[str, np.ndarray]], path: str) -> None:
    """Write a :func:`snapshot_router` snapshot to ``path`` atomically.

    Pending decisions are saved as columns (state format 2): ``meta["pending"]`` holds
    their ids and arm keys, the arrays ``pending_x`` and ``pending_values`` the rest.
    """
    meta, arrays = snapshot
    columns, contexts, values = _pending_columns(meta["pending"],
                                                 int(meta["policy_config"]["dim"]))
    write_state(path, {**meta, "pending": columns},
                {**arrays, "pending_x": contexts, "pending_values": values})


def _pending_items(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
                   ) -> list[dict[str, Any]]:
    """The saved pending decisions: from columns (format 2), or rows with their contexts
    in ``pending_x`` or inline (format 1)."""
    saved = meta["pending"]
    if isinstance(saved, Mapping):
        return [{"id": i, "arm": arm, "x": x, "predicted_cost": cost, "charged": charged,
                 "created": created, "observed_cost": seen if flag else None,
                 "input_tokens": int(tokens)}
                for i, arm, x, (cost, charged, created, seen, flag, tokens)
                in zip(saved["ids"], saved["arms"], arrays["pending_x"],
                       arrays["pending_values"].tolist(), strict=True)]
    items = [dict(item) for item in saved]
    stacked = arrays.get("pending_x")
    if stacked is not None:
        for item, x in zip(items, stacked, strict=True):
            item["x"] = x
    return items


def _strategy(config: Mapping[str, Any]) -> Strategy:
    kinds: dict[str, type[Strategy]] = {"single": Single, "sc": SelfConsistency}
    kind = kinds.get(config["name"])
    if kind is None:
        raise ConfigurationError(
            f"the saved arms use strategy {config['name']!r}, which carries a callable: "
            "pass arms= (the same ArmSpace you saved with) to Router.load"
        )
    extra = {"early_stop": config["early_stop"]} if config.get("early_stop") else {}
    return kind(variant=config["variant"], instruction=config.get("instruction"),
                temperature=config["temperature"], **extra)


def _check_arms(saved: list[dict[str, Any]], arms: ArmSpace | Iterable[Arm] | None) -> ArmSpace:
    if arms is None:
        return ArmSpace(Arm(a["model"], _strategy(a["strategy"]), int(a["n"])) for a in saved)
    space = arms if isinstance(arms, ArmSpace) else ArmSpace(arms)
    mine = {a.key for a in space}
    theirs = {a["key"] for a in saved}
    if mine != theirs:
        raise ArmSpaceMismatchError(
            f"the state was saved with another arm space: missing {sorted(theirs - mine)}, "
            f"extra {sorted(mine - theirs)}. Load with the saved arms, then add or remove "
            "arms with Router.add_arm / Router.remove_arm"
        )
    return space


def _check_featurizer(saved: dict[str, Any], featurizer: Featurizer | None) -> Featurizer:
    if featurizer is None:
        if saved.get("kind") == "wordllama":
            return WordLlamaFeaturizer.from_config(saved)
        if saved.get("kind") != "hashing":
            raise FeaturizerMismatchError(
                f"the state was learned with featurizer {saved}; pass that featurizer "
                "to Router.load(featurizer=...)"
            )
        return HashingFeaturizer(int(saved["dim"]), ngrams=int(saved["ngrams"]),
                                 seed=int(saved["seed"]))
    if featurizer.config() != saved:
        raise FeaturizerMismatchError(
            f"the state was learned with featurizer {saved}, not {featurizer.config()}: "
            "load with the featurizer it was saved with"
        )
    return featurizer


def _objective(config: Mapping[str, Any]) -> Objective:
    config = dict(config)
    kind = config.pop("kind")
    return Tradeoff(**config) if kind == "tradeoff" else Budget(**config)


def _price_text(prices: Mapping[str, Price]) -> dict[str, tuple[float, ...]]:
    return {m: tuple(v for v in asdict(p).values() if v is not None) for m, p in prices.items()}


def _settings(meta: Mapping[str, Any], space: ArmSpace, code: Mapping[str, Any]
              ) -> tuple[dict[str, Any], list[str]]:
    """The effective settings: what the code passed wins over what the file holds.

    Returns the settings and, for each one the code changed, ``"name saved -> code"``.
    """
    settings = meta["settings"]
    saved: dict[str, Any] = {
        "prices": {m: Price(**p) for m, p in meta["prices"].items()},
        "objective": _objective(meta["objective"]),
        "alpha": float(meta["policy_config"]["alpha"]),
        "fallback": [space.find(k) for k in settings["fallback"]],
        "prune": bool(settings["prune"]),
        "feedback_ttl": float(settings["feedback_ttl"]),
        "on_invalid_feedback": settings["on_invalid_feedback"],
        "prior_output_tokens": float(meta["cost_model"]["prior_output_tokens"]),
        "max_pending": int(settings.get("max_pending", 10_000)),
        "exploration": str(settings.get("exploration", "ucb")),
        "temperature": float(settings.get("temperature", 0.05)),
    }
    effective = dict(saved)
    changed: list[str] = []
    old: Any
    new: Any
    for name, value in code.items():
        if value is None or name not in saved:
            continue
        if name == "prices":
            value = {m: as_price(p) for m, p in value.items()}
            old, new = _price_text(saved[name]), _price_text(value)
        elif name == "fallback":
            value = [a if isinstance(a, Arm) else space.find(str(a)) for a in value]
            old, new = [a.key for a in saved[name]], [a.key for a in value]
        else:
            old, new = saved[name], value
        if old != new:
            changed.append(f"{name} {old!r} -> {new!r}")
        effective[name] = value
    return effective, changed


def _restore_implicit(router: Router, path: str, meta: Mapping[str, Any],
                      arrays: Mapping[str, np.ndarray], code: Any) -> None:
    """Implicit rewards as saved (settings, waiting and learned rewards), or as the code
    passes them now (:meth:`ImplicitRewards.from_state`)."""
    saved = meta.get("implicit")
    if saved is None:
        router.implicit = as_implicit(code)
        return
    try:
        router.implicit = ImplicitRewards.from_state(dict(saved), dict(arrays), code)
    except ConfigurationError:
        raise  # a saved reward function that the code did not pass again
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateFileError(f"state file {path} holds unreadable implicit rewards: {exc}") \
            from exc


def load_router(cls: type[Router], path: str, *, backends: Mapping[str, Any] | None,
                featurizer: Featurizer | None, arms: ArmSpace | Iterable[Arm] | None,
                clock: Callable[[], float], settings: Mapping[str, Any] | None = None,
                pending_store: Any = None) -> Router:
    """Rebuild a router from a state file.

    Settings given in ``settings`` (``prices``, ``objective``, ``alpha``, ``fallback``,
    ``prune``, ``feedback_ttl``, ``on_invalid_feedback``, ``prior_output_tokens``; ``None``
    = keep the saved one) win over the saved ones; the learned statistics are kept either
    way, and one warning names every setting that differs from the file.
    """
    meta, arrays = read_state(path)
    try:
        return _build(cls, path, meta, arrays, backends=backends, featurizer=featurizer,
                      arms=arms, clock=clock, settings=settings, pending_store=pending_store)
    except StateFileError as exc:
        if str(path) in str(exc):
            raise
        raise type(exc)(f"state file {path}: {exc}") from exc
    except UniScaleError:
        raise  # the caller's own arguments (arms=, featurizer=, prices=, ...)
    except Exception as exc:  # anything the checks did not foresee is still a state error
        raise StateFileError(
            f"state file {path} cannot be used ({type(exc).__name__}: {exc}); restore it "
            "from a backup or start a new Router") from exc


def _build(cls: type[Router], path: str, meta: dict[str, Any], arrays: dict[str, Any], *,
           backends: Mapping[str, Any] | None, featurizer: Featurizer | None,
           arms: ArmSpace | Iterable[Arm] | None, clock: Callable[[], float],
           settings: Mapping[str, Any] | None, pending_store: Any) -> Router:
    check_meta(meta, arrays)
    try:
        saved_arms = list(meta["arms"])
        feat_config = dict(meta["featurizer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StateFileError(f"state file {path} lacks a field it needs: {exc}") from exc
    space = _check_arms(saved_arms, arms)
    feat = _check_featurizer(feat_config, featurizer)
    try:
        effective, changed = _settings(meta, space, settings or {})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, UniScaleError) and not isinstance(exc, StateFileError):
            raise
        raise StateFileError(f"state file {path} holds unreadable settings: {exc}") from exc
    if changed:
        log.warning("uniscale: settings passed to Router.load replace those saved in %s "
                    "(learned statistics kept): %s", path, "; ".join(changed))
    config = dict(meta["policy_config"], alpha=effective["alpha"])
    router = cls(
        space, effective["prices"], effective["objective"], backends, featurizer=feat,
        alpha=config["alpha"], ridge=config["ridge"], arm_ridge=config.get("arm_ridge"),
        forgetting=config["forgetting"], hybrid=config["hybrid"],
        shared_dim=config["shared_dim"], prune=effective["prune"],
        feedback_ttl=effective["feedback_ttl"],
        on_invalid_feedback=effective["on_invalid_feedback"],
        fallback=effective["fallback"],
        prior_output_tokens=effective["prior_output_tokens"],
        max_pending=effective["max_pending"],
        seed=meta["settings"]["seed"], clock=clock, pending_store=pending_store,
        context_dim=int(meta["settings"].get("context_dim", 0)),
        exploration=effective["exploration"], temperature=effective["temperature"],
        alpha_decay=meta["settings"].get("alpha_decay"),
    )
    try:
        router.policy = LinUCB.from_state(config, meta["policy"], arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise StateFileError(f"state file {path} holds inconsistent statistics: {exc}") from exc
    missing = [a.key for a in space if a.key not in router.policy.slots]
    if missing:
        raise ArmSpaceMismatchError(f"the saved statistics lack arms {missing}")
    try:
        router.costs.set_state(meta["cost_model"]["state"], arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise StateFileError(f"state file {path} holds an inconsistent cost model: {exc}") \
            from exc
    restore_costs(router, meta["cost_model"])  # samples per call, judges' spend
    pacer = dict(meta["pacer"])
    if type(router.objective) is not type(_objective(meta["objective"])):
        pacer["multiplier"] = router.pacer.multiplier  # λ learned for another kind of goal
    router.pacer.set_state(pacer)
    router.pending.set_state(_pending_items(meta, arrays))
    router.rng.bit_generator.state = meta["rng"]
    router.stats = {**router.stats, **meta["stats"]}  # counters a file lacks start at 0
    _restore_implicit(router, path, meta, arrays, (settings or {}).get("implicit_reward"))
    check_policy(router.policy, router.policy.dim)
    guard = meta.get("guard")
    if guard is not None:
        try:
            space.find(str(guard["baseline"]))
            router.guard = ConservativeGuard.from_state(guard, router.policy.dim)
        except (KeyError, TypeError, ValueError, UniScaleError) as exc:
            raise StateFileError(f"state file {path} holds an unreadable baseline: {exc}") \
                from exc
    return router
