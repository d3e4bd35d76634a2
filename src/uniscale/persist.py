"""Router state to and from files: what is learned, never code (no pickle)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .arms import Arm, ArmSpace
from .cost import Price
from .errors import (
    ArmSpaceMismatchError,
    ConfigurationError,
    FeaturizerMismatchError,
    StateFileError,
)
from .features import Featurizer, HashingFeaturizer
from .objective import Budget, Objective, Tradeoff
from .policy.linucb import LinUCB
from .store.file import read_state, write_state
from .strategies import SelfConsistency, Single, Strategy

if TYPE_CHECKING:
    from .router import Router

__all__ = ["load_router", "save_router"]


def _arm_config(arm: Arm) -> dict[str, Any]:
    strategy = arm.strategy.to_config()
    strategy["instruction"] = arm.strategy.instruction
    return {"model": arm.model, "strategy": strategy, "n": arm.n, "key": arm.key}


def _objective_config(objective: Objective) -> dict[str, Any]:
    if isinstance(objective, Tradeoff):
        return {"kind": "tradeoff", **asdict(objective)}
    return {"kind": "budget", **asdict(objective)}


def save_router(router: Router, path: str) -> None:
    """Write ``router``'s configuration and learned state to ``path``."""
    policy_meta, arrays = router.policy.state()
    meta = {
        "arms": [_arm_config(a) for a in router.arms],
        "prices": {m: asdict(p) for m, p in router.costs.prices.items()},
        "objective": _objective_config(router.objective),
        "featurizer": router.featurizer.config(),
        "policy_config": router.policy.config(),
        "policy": policy_meta,
        "cost_model": {"state": router.costs.state(),
                       "prior_output_tokens": router.costs.prior_output_tokens},
        "pacer": router.pacer.state(),
        "pending": router.pending.state(),
        "rng": router.rng.bit_generator.state,
        "settings": {"prune": router.prune, "feedback_ttl": router.pending.ttl,
                     "on_invalid_feedback": router.on_invalid_feedback,
                     "fallback": [a.key for a in router.fallback], "seed": router.seed},
        "stats": router.stats,
    }
    write_state(path, meta, arrays)


def _strategy(config: Mapping[str, Any]) -> Strategy:
    kinds: dict[str, type[Strategy]] = {"single": Single, "sc": SelfConsistency}
    kind = kinds.get(config["name"])
    if kind is None:
        raise ConfigurationError(
            f"the saved arms use strategy {config['name']!r}, which carries a callable: "
            "pass arms= (the same ArmSpace you saved with) to Router.load"
        )
    return kind(variant=config["variant"], instruction=config.get("instruction"),
                temperature=config["temperature"])


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


def load_router(cls: type[Router], path: str, *, backends: Mapping[str, Any] | None,
                featurizer: Featurizer | None, arms: ArmSpace | Iterable[Arm] | None,
                clock: Callable[[], float]) -> Router:
    """Rebuild a router from a state file."""
    meta, arrays = read_state(path)
    try:
        saved_arms = list(meta["arms"])
        feat_config = dict(meta["featurizer"])
        objective_config = dict(meta["objective"])
        kind = objective_config.pop("kind")
        prices = {m: Price(**p) for m, p in meta["prices"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise StateFileError(f"state file {path} lacks a field it needs: {exc}") from exc
    space = _check_arms(saved_arms, arms)
    feat = _check_featurizer(feat_config, featurizer)
    objective: Objective = Tradeoff(**objective_config) if kind == "tradeoff" \
        else Budget(**objective_config)
    settings = meta["settings"]
    config = meta["policy_config"]
    router = cls(
        space, prices, objective, backends, featurizer=feat, alpha=config["alpha"],
        ridge=config["ridge"], arm_ridge=config.get("arm_ridge"),
        forgetting=config["forgetting"], hybrid=config["hybrid"],
        shared_dim=config["shared_dim"], prune=settings["prune"],
        feedback_ttl=settings["feedback_ttl"],
        on_invalid_feedback=settings["on_invalid_feedback"],
        fallback=[space.find(k) for k in settings["fallback"]],
        prior_output_tokens=meta["cost_model"]["prior_output_tokens"],
        seed=settings["seed"], clock=clock,
    )
    try:
        router.policy = LinUCB.from_state(config, meta["policy"], arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise StateFileError(f"state file {path} holds inconsistent statistics: {exc}") from exc
    missing = [a.key for a in space if a.key not in router.policy.slots]
    if missing:
        raise ArmSpaceMismatchError(f"the saved statistics lack arms {missing}")
    router.costs.set_state(meta["cost_model"]["state"])
    router.pacer.set_state(meta["pacer"])
    router.pending.set_state(meta["pending"])
    router.rng.bit_generator.state = meta["rng"]
    router.stats = meta["stats"]
    return router
