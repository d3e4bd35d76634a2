"""Checks of a state file's content before anything is built from it.

A valid checksum only says the file is what some writer wrote; these checks make sure
that what it holds is a state this version can use: every meta field of the right type
and range, every array of the shape the meta implies (checked before anything of that
size is allocated), finite, and the matrices symmetric and positive (semi-)definite.
Every failure is a :class:`~uniscale.StateFileError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import StateFileError
from .policy.refit import PRIOR_FLOOR, PRIOR_LOW

__all__ = ["check_meta", "check_policy"]

MAX_ARMS = 100_000
MAX_PENDING = 1_000_000
_HINT = "restore the file from a backup or start a new Router"


def _fail(field: str, value: Any, want: str) -> StateFileError:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return StateFileError(f"state field {field} is {text}, expected {want}; {_HINT}")


def _dict(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(field, value, "an object")
    return value


def _list(value: Any, field: str, most: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > most:
        raise _fail(field, value, f"a list of at most {most} items")
    return value


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _fail(field, value, "a string")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, value, "true or false")
    return value


def _int(value: Any, field: str, low: int = 0, high: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(field, value, f"a whole number in [{low}, {high}]")
    return value


def _num(value: Any, field: str, low: float = -math.inf, high: float = math.inf,
         *, open_low: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) \
        and math.isfinite(float(value)) and low <= float(value) <= high \
        and not (open_low and float(value) == low)
    if not ok:
        side = "(" if open_low else "["
        raise _fail(field, value, f"a finite number in {side}{low:g}, {high:g}]")
    return float(value)


def _numbers(value: Any, field: str, low: float = -math.inf) -> None:
    for key, number in _dict(value, field).items():
        _str(key, f"{field} key")
        _num(number, f"{field}[{key!r}]", low)


def _array(arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in arrays:
        raise StateFileError(f"state array {name} is missing; {_HINT}")
    value = arrays[name]
    if value.shape != shape:
        raise StateFileError(
            f"state array {name} has shape {value.shape}, but the arms and dimensions "
            f"saved with it need {shape}; {_HINT}")
    return value


def _symmetric_psd(name: str, stack: np.ndarray, shift: float) -> None:
    """Every matrix of ``stack`` symmetric, and positive definite once ``shift`` is added."""
    if stack.size == 0:
        return
    mats = stack.reshape((-1, *stack.shape[-2:]))
    scale = max(float(np.max(np.abs(mats))), 1.0)
    if not np.allclose(mats, np.swapaxes(mats, -1, -2), rtol=0.0, atol=1e-9 * scale):
        raise StateFileError(f"state array {name} is not symmetric; {_HINT}")
    eye = np.eye(mats.shape[-1]) * shift
    try:
        np.linalg.cholesky(mats + eye)
    except np.linalg.LinAlgError:
        raise StateFileError(
            f"state array {name} is not positive semi-definite (it cannot be a sum of "
            f"outer products); {_HINT}") from None


def _arms(meta: Mapping[str, Any]) -> list[str]:
    keys = []
    for i, arm in enumerate(_list(meta.get("arms"), "arms", MAX_ARMS)):
        arm = _dict(arm, f"arms[{i}]")
        _str(arm.get("model"), f"arms[{i}].model")
        _int(arm.get("n"), f"arms[{i}].n", 1, 10_000)
        strategy = _dict(arm.get("strategy"), f"arms[{i}].strategy")
        _str(strategy.get("name"), f"arms[{i}].strategy.name")
        keys.append(_str(arm.get("key"), f"arms[{i}].key"))
    if not keys:
        raise _fail("arms", [], "at least one arm")
    return keys


def _settings(meta: Mapping[str, Any], keys: list[str]) -> int:
    settings = _dict(meta.get("settings"), "settings")
    _bool(settings.get("prune"), "settings.prune")
    _num(settings.get("feedback_ttl"), "settings.feedback_ttl", 1e-3, 1e10)
    if settings.get("on_invalid_feedback") not in ("raise", "ignore"):
        raise _fail("settings.on_invalid_feedback", settings.get("on_invalid_feedback"),
                    "'raise' or 'ignore'")
    for i, key in enumerate(_list(settings.get("fallback"), "settings.fallback", MAX_ARMS)):
        if key not in keys:
            raise _fail(f"settings.fallback[{i}]", key, "the key of a saved arm")
    _int(settings.get("seed"), "settings.seed")
    _int(settings.get("max_pending", 10_000), "settings.max_pending", 1, 10**8)
    if settings.get("exploration", "ucb") not in ("ucb", "softmax", "thompson"):
        raise _fail("settings.exploration", settings.get("exploration"),
                    "'ucb', 'softmax' or 'thompson'")
    _num(settings.get("temperature", 0.05), "settings.temperature", 1e-12, 1e12)
    if settings.get("alpha_decay") is not None:
        _num(settings.get("alpha_decay"), "settings.alpha_decay", 1e-12, 1e12)
    return _int(settings.get("context_dim", 0), "settings.context_dim", 0, 65_536)


def _prices_and_objective(meta: Mapping[str, Any]) -> None:
    for model, price in _dict(meta.get("prices"), "prices").items():
        price = _dict(price, f"prices[{model!r}]")
        for name in ("input", "output"):
            _num(price.get(name), f"prices[{model!r}].{name}", 0.0)
        for name in ("cached_input", "cache_write"):
            if price.get(name) is not None:
                _num(price.get(name), f"prices[{model!r}].{name}", 0.0)
        extra = set(price) - {"input", "output", "cached_input", "cache_write"}
        if extra:
            raise _fail(f"prices[{model!r}]", sorted(extra), "only Price fields")
    objective = _dict(meta.get("objective"), "objective")
    kind = objective.get("kind")
    if kind == "tradeoff":
        _num(objective.get("willingness_to_pay"), "objective.willingness_to_pay", 0.0,
             open_low=True)
    elif kind == "budget":
        _num(objective.get("per_request"), "objective.per_request", 0.0, open_low=True)
        _num(objective.get("step"), "objective.step", 0.0, open_low=True)
        _num(objective.get("initial_multiplier"), "objective.initial_multiplier", 0.0)
    else:
        raise _fail("objective.kind", kind, "'tradeoff' or 'budget'")
    pacer = _dict(meta.get("pacer"), "pacer")
    _num(pacer.get("multiplier"), "pacer.multiplier", 0.0, 1e12)
    _num(pacer.get("spent"), "pacer.spent")
    _int(pacer.get("requests"), "pacer.requests")


def _policy_config(meta: Mapping[str, Any], context_dim: int) -> dict[str, Any]:
    config = dict(_dict(meta.get("policy_config"), "policy_config"))
    feat = _dict(meta.get("featurizer"), "featurizer")
    feat_dim = _int(feat.get("dim"), "featurizer.dim", 1, 65_536)
    dim = _int(config.get("dim"), "policy_config.dim", 1, 65_536)
    if dim != feat_dim + context_dim:
        raise _fail("policy_config.dim", dim,
                    f"featurizer.dim + settings.context_dim = {feat_dim + context_dim}")
    _num(config.get("alpha"), "policy_config.alpha", 0.0, 1e6)
    _num(config.get("ridge"), "policy_config.ridge", 1e-8, 1e8)
    if config.get("arm_ridge") is not None:
        _num(config.get("arm_ridge"), "policy_config.arm_ridge", 1e-8, 1e8)
    _num(config.get("forgetting"), "policy_config.forgetting", 0.5, 1.0)
    _bool(config.get("hybrid"), "policy_config.hybrid")
    _int(config.get("shared_dim"), "policy_config.shared_dim", 1, 64)
    _int(config.get("refactor_every", 1000), "policy_config.refactor_every", 0)
    _int(config.get("projection_seed", 0), "policy_config.projection_seed")
    if config.get("precision", "float64") not in ("float64", "float32"):
        raise _fail("policy_config.precision", config["precision"], "'float64' or 'float32'")
    if config.get("blas_threads") is not None:
        _int(config["blas_threads"], "policy_config.blas_threads", 1, 4096)
    known = {"dim", "alpha", "ridge", "arm_ridge", "forgetting", "hybrid", "shared_dim",
             "refactor_every", "projection_seed", "precision", "blas_threads"}
    if set(config) - known:
        raise _fail("policy_config", sorted(set(config) - known), "only LinUCB settings")
    return config


def _policy_arrays(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                   config: Mapping[str, Any], keys: list[str]) -> None:
    policy = _dict(meta.get("policy"), "policy")
    slots = [_str(s, "policy.slots[]") for s in _list(policy.get("slots"), "policy.slots",
                                                     MAX_ARMS)]
    columns = [_str(c, "policy.columns[]") for c in _list(policy.get("columns"),
                                                         "policy.columns", MAX_ARMS)]
    if len(set(slots)) != len(slots) or len(set(columns)) != len(columns):
        raise _fail("policy.slots", slots, "distinct slot and column names")
    missing = sorted(set(keys) - set(slots))
    if missing:
        raise _fail("policy.slots", slots, f"a slot for every saved arm (missing {missing})")
    prior = _num(policy.get("prior_scale"), "policy.prior_scale", 0.0, 1.0, open_low=True)
    _int(policy.get("updates"), "policy.updates")
    K, d = len(slots), int(config["dim"])
    k = int(config["shared_dim"]) * len(columns) if config["hybrid"] else 0
    shapes = {"A_raw": (K, d, d), "B": (K, d, k), "b": (K, d), "counts": (K,),
              "S_zz": (k, k), "zr": (k,), "desc": (K, len(columns))}
    values = {name: _array(arrays, name, shape) for name, shape in shapes.items()}
    counts = values["counts"]
    if np.any(counts < 0):
        raise StateFileError(f"state array counts holds negative counts; {_HINT}")
    # rewards lie in [0, 1], so (sum r x_i)^2 <= count * sum x_i^2 (Cauchy-Schwarz)
    diag = np.einsum("kii->ki", values["A_raw"])
    if np.any(np.abs(values["b"]) > np.sqrt(counts[:, None] * np.maximum(diag, 0.0))
              * (1 + 1e-6) + 1e-9):
        raise StateFileError(
            f"state array b is larger than scores in [0, 1] on the saved contexts allow; "
            f"{_HINT}")
    if k and np.any(np.abs(values["zr"]) > np.sqrt(
            counts.sum() * np.maximum(np.diag(values["S_zz"]), 0.0)) * (1 + 1e-6) + 1e-9):
        raise StateFileError(
            f"state array zr is larger than scores in [0, 1] on the saved contexts allow; "
            f"{_HINT}")
    prior = PRIOR_FLOOR if prior < PRIOR_LOW else prior  # as the policy will lift it
    ridge = float(config.get("arm_ridge") or config["ridge"]) * prior
    _symmetric_psd("A_raw", values["A_raw"], ridge)
    _symmetric_psd("S_zz", values["S_zz"], float(config["ridge"]) * prior)


def _pending_columns(saved: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                     slots: set[str], dim: int) -> None:
    """Pending decisions saved as columns (format 2): ids, arm keys and two arrays."""
    if set(saved) != {"arms", "ids"}:
        raise _fail("pending", sorted(saved), "the keys 'arms' and 'ids'")
    ids = _list(saved["ids"], "pending.ids", MAX_PENDING)
    keys = _list(saved["arms"], "pending.arms", MAX_PENDING)
    if len(keys) != len(ids):
        raise _fail("pending.arms", f"{len(keys)} keys", f"one per id ({len(ids)})")
    for i, value in enumerate(ids):
        _str(value, f"pending.ids[{i}]")
    if len(set(ids)) != len(ids):
        raise _fail("pending.ids", "repeated ids", "distinct decision ids")
    for i, key in enumerate(keys):
        if key not in slots:
            raise _fail(f"pending.arms[{i}]", key, "the key of a saved arm")
    _array(arrays, "pending_x", (len(ids), dim))
    values = _array(arrays, "pending_values", (len(ids), 6))  # persist.PENDING_VALUES
    cost, _, _, seen, flag, tokens = values.T
    for name, bad in (("predicted_cost", cost < 0), ("observed_cost", seen < 0),
                      ("observed", (flag != 0) & (flag != 1)),
                      ("observed_cost without observed", (flag == 0) & (seen != 0)),
                      ("input_tokens", (tokens < 0) | (tokens != np.floor(tokens))
                       | (tokens > 2**53))):
        if np.any(bad):
            row = int(np.argmax(bad))
            raise StateFileError(
                f"state array pending_values row {row} holds an invalid {name} "
                f"({values[row].tolist()}); {_HINT}")


def _pending(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], slots: set[str],
             dim: int) -> None:
    if isinstance(meta.get("pending"), Mapping):
        _pending_columns(meta["pending"], arrays, slots, dim)
        return
    items = _list(meta.get("pending"), "pending", MAX_PENDING)
    stacked = "pending_x" in arrays
    if stacked:
        _array(arrays, "pending_x", (len(items), dim))
    for i, item in enumerate(items):
        field = f"pending[{i}]"
        item = _dict(item, field)
        _str(item.get("id"), f"{field}.id")
        if item.get("arm") not in slots:
            raise _fail(f"{field}.arm", item.get("arm"), "the key of a saved arm")
        x = item.get("x")
        if stacked and x is not None:
            raise _fail(f"{field}.x", x, "no inline context (they are in pending_x)")
        if not stacked:
            if not isinstance(x, list) or len(x) != dim:
                raise _fail(f"{field}.x", x, f"a list of {dim} numbers")
            for j, value in enumerate(x):
                _num(value, f"{field}.x[{j}]")
        _num(item.get("predicted_cost"), f"{field}.predicted_cost", 0.0)
        _num(item.get("charged"), f"{field}.charged")
        _num(item.get("created"), f"{field}.created")
        if item.get("observed_cost") is not None:
            _num(item.get("observed_cost"), f"{field}.observed_cost", 0.0)
        _int(item.get("input_tokens", 0), f"{field}.input_tokens")


def _stats(meta: Mapping[str, Any]) -> None:
    stats = _dict(meta.get("stats"), "stats")
    for name, value in stats.items():
        if name == "failures":
            for arm, count in _dict(value, "stats.failures").items():
                _int(count, f"stats.failures[{arm!r}]")
        elif name in ("failed_cost",):
            _num(value, f"stats.{name}", 0.0)
        elif name == "eval_set":  # what fit() found on an eval set (a report)
            _dict(value, "stats.eval_set")
        else:  # counters (decisions, feedback, evicted, fitted, ...)
            _int(value, f"stats.{_str(name, 'stats key')}")
    _dict(meta.get("rng"), "rng")


def _cost_extras(cost: Mapping[str, Any], keys: list[str]) -> None:
    """Samples per call and judges' spend (:mod:`uniscale.costsaving`; absent before)."""
    for model, per_call in _dict(cost.get("samples_per_call", {}),
                                 "cost_model.samples_per_call").items():
        _int(per_call, f"cost_model.samples_per_call[{_str(model, 'model')!r}]", 1)
    for key, spend in _dict(cost.get("judges", {}), "cost_model.judges").items():
        field = f"cost_model.judges[{key!r}]"
        if key not in keys or not isinstance(spend, list) or len(spend) != 2:
            raise _fail(field, spend, "[judgements, usd] of a saved arm")
        _int(spend[0], f"{field}[0]")
        _num(spend[1], f"{field}[1]", 0.0)


def check_meta(meta: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Check every field of a state's metadata and the arrays' shapes and values.

    Raises:
        StateFileError: The first field that is missing, of the wrong type or range, or
            an array of the wrong shape, non-finite, asymmetric or indefinite.
    """
    meta = _dict(meta, "meta")
    for name, value in arrays.items():
        if not np.all(np.isfinite(value)):
            raise StateFileError(f"state array {name} holds NaN or infinite values; {_HINT}")
    keys = _arms(meta)
    context_dim = _settings(meta, keys)
    _prices_and_objective(meta)
    config = _policy_config(meta, context_dim)
    _policy_arrays(meta, arrays, config, keys)
    cost = _dict(meta.get("cost_model"), "cost_model")
    _num(cost.get("prior_output_tokens"), "cost_model.prior_output_tokens", 0.0, 1e7)
    state = _dict(cost.get("state"), "cost_model.state")
    for name in ("tokens", "count", "extra_input", "extra_calls"):
        if name in state:
            _numbers(state[name], f"cost_model.state.{name}",
                     -math.inf if name == "extra_input" else 0.0)
    _cost_extras(cost, keys)
    _pending(meta, arrays, set(_dict(meta["policy"], "policy")["slots"]), int(config["dim"]))
    _stats(meta)


def check_policy(policy: Any, probe_dim: int) -> None:
    """After the inverses were rebuilt: the shared Schur complement is positive definite
    and every arm's estimate on a probe context is finite."""
    if getattr(policy, "hybrid", False) and policy.A0.size:
        _symmetric_psd("the shared model (A0)", policy.A0[None], 0.0)
    probe = np.full(probe_dim, 1.0 / math.sqrt(probe_dim))
    mean, width = policy.estimate(probe, np.arange(len(policy.slots)))
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(width))):
        raise StateFileError(f"the saved statistics give non-finite estimates; {_HINT}")
