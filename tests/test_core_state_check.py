"""Crafted state files with a valid checksum: refused with StateFileError, never used."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import uniscale as us
from uniscale.store.file import _decode, _digest, _encode


@pytest.fixture
def saved(router: us.Router, tmp_path: Path) -> dict[str, Any]:
    for i in range(20):
        d = router.decide(f"question {i} about {'math' if i % 2 else 'code'}")
        router.feedback(d.id, float(i % 3 == 0))
    router.decide("still pending")
    path = tmp_path / "good.json"
    router.save(str(path))
    return json.loads(path.read_text())


def rewrite(doc: dict[str, Any], path: Path, change: Callable[[dict[str, Any],
            dict[str, np.ndarray]], None]) -> str:
    """Apply ``change`` to the meta and arrays, recompute the checksum, write."""
    doc = json.loads(json.dumps(doc))
    arrays = {k: _decode(v) for k, v in doc["arrays"].items()}
    change(doc["meta"], arrays)
    doc["arrays"] = {k: _encode(v) for k, v in arrays.items()}
    doc["sha256"] = _digest(doc["meta"], arrays)
    path.write_text(json.dumps(doc))
    return str(path)


def _set(path: str, value: Any) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    def change(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        *parents, last = path.split(".")
        node: Any = meta
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is KeyError:
            del node[key]
        else:
            node[key] = value
    return change


def _array(name: str, fn: Callable[[np.ndarray], np.ndarray]
           ) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    def change(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        arrays[name] = fn(arrays[name].copy())
    return change


def _column(a: np.ndarray, j: int, value: float) -> np.ndarray:
    a[:, j] = value
    return a


def _indefinite(a: np.ndarray) -> np.ndarray:
    a[0] -= 50.0 * np.eye(a.shape[1])
    return a


def _asymmetric(a: np.ndarray) -> np.ndarray:
    a[0, 0, 1] += 1.0
    return a


def _nan(a: np.ndarray) -> np.ndarray:
    a[0, 0, 0] = np.nan
    return a


MUTATIONS = {
    "dim=40000": _set("featurizer.dim", 40_000),
    "policy dim=40000": _set("policy_config.dim", 40_000),
    "prior_scale NaN": _set("policy.prior_scale", float("nan")),
    "prior_scale 0": _set("policy.prior_scale", 0.0),
    "updates -1": _set("policy.updates", -1),
    "stats x": _set("stats", "x"),
    "stats.decisions -3": _set("stats.decisions", -3),
    "stats.evicted x": _set("stats.evicted", "x"),
    "stats.failed_cost NaN": _set("stats.failed_cost", float("nan")),
    "pending x short": _array("pending_x", lambda a: a[:, :2]),
    "pending x missing": _array("pending_x", lambda a: a[:0]),
    "pending x NaN": _array("pending_x", lambda a: a * np.nan),
    "pending arm ghost": _set("pending.arms.0", "ghost/single/1"),
    "pending arms short": _set("pending.arms", []),
    "pending id int": _set("pending.ids.0", 5),
    "pending ids repeated": lambda meta, arrays: (meta["pending"]["ids"].append("x"),
                                                  meta["pending"]["ids"].append("x"),
                                                  meta["pending"]["arms"].extend(
                                                      meta["pending"]["arms"] * 2),
                                                  arrays.update(
                                                      pending_x=np.repeat(
                                                          arrays["pending_x"], 3, 0),
                                                      pending_values=np.repeat(
                                                          arrays["pending_values"], 3, 0))),
    "pending extra key": _set("pending.x", []),
    "pending cost NaN": _array("pending_values", lambda a: a * np.nan),
    "pending cost negative": _array("pending_values", lambda a: a - 5.0),
    "pending observed 0.5": _array("pending_values", lambda a: _column(a, 4, 0.5)),
    "pending cost unobserved": _array("pending_values",
                                      lambda a: _column(_column(a, 4, 0.0), 3, 2.0)),
    "pending tokens 1.5": _array("pending_values", lambda a: _column(a, 5, 1.5)),
    "pending values wide": _array("pending_values", lambda a: np.hstack([a, a])),
    "alpha -1": _set("policy_config.alpha", -1.0),
    "alpha string": _set("policy_config.alpha", "1"),
    "ridge 1e-320": _set("policy_config.ridge", 1e-320),
    "forgetting 1e-300": _set("policy_config.forgetting", 1e-300),
    "hybrid 1": _set("policy_config.hybrid", 1),
    "shared_dim 0": _set("policy_config.shared_dim", 0),
    "unknown policy setting": _set("policy_config.gamma", 1.0),
    "prices missing": _set("prices", KeyError),
    "price string": _set("prices.small.input", "cheap"),
    "price extra field": _set("prices.small.discount", 0.5),
    "objective kind": _set("objective.kind", "greedy"),
    "willingness 0": _set("objective.willingness_to_pay", 0.0),
    "pacer NaN": _set("pacer.multiplier", float("nan")),
    "pacer requests -1": _set("pacer.requests", -1),
    "settings missing": _set("settings", KeyError),
    "ttl 0": _set("settings.feedback_ttl", 0),
    "fallback ghost": _set("settings.fallback", ["ghost/single/1"]),
    "on_invalid maybe": _set("settings.on_invalid_feedback", "maybe"),
    "seed -1": _set("settings.seed", -1),
    "exploration greedy": _set("settings.exploration", "greedy"),
    "temperature nan": _set("settings.temperature", float("nan")),
    "arms empty": _set("arms", []),
    "arms not a list": _set("arms", {"a": 1}),
    "arm n 0": _set("arms.0.n", 0),
    "rng not a dict": _set("rng", 5),
    "rng garbage": _set("rng", {"bit_generator": "PCG64", "state": "x"}),
    "prior tokens NaN": _set("cost_model.prior_output_tokens", float("nan")),
    "cost tokens negative": _set("cost_model.state.tokens", {"small/single": -5.0}),
    "counts negative": _array("counts", lambda a: a - 100.0),
    "A_raw indefinite": _array("A_raw", _indefinite),
    "A_raw asymmetric": _array("A_raw", _asymmetric),
    "A_raw NaN": _array("A_raw", _nan),
    "A_raw wrong shape": _array("A_raw", lambda a: a[:, :-1, :-1]),
    "b huge": _array("b", lambda a: a + 1e299),
    "zr huge": _array("zr", lambda a: a + 1e200),
    "desc missing": _set("arms", KeyError),
    "samples per call 0": _set("cost_model.samples_per_call", {"small": 0}),
    "samples per call text": _set("cost_model.samples_per_call", {"small": "8"}),
    "samples per call list": _set("cost_model.samples_per_call", [8]),
    "judge of a ghost arm": _set("cost_model.judges", {"ghost/bon/3": [1, 0.1]}),
    "judge spend negative": _set("cost_model.judges", {"small/single/1": [1, -0.1]}),
    "judge spend short": _set("cost_model.judges", {"small/single/1": [1]}),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_crafted_state_is_refused(saved: dict[str, Any], tmp_path: Path, case: str) -> None:
    path = rewrite(saved, tmp_path / "bad.json", MUTATIONS[case])
    with pytest.raises(us.StateFileError) as info:
        us.Router.load(path)
    if case == "A_raw NaN":
        assert "NaN" in str(info.value)


def as_format_1(doc: dict[str, Any], *, inline: bool) -> dict[str, Any]:
    """``doc`` as state format 1 wrote it: one object per pending decision, contexts in
    the ``pending_x`` array or inline."""
    doc = json.loads(json.dumps(doc))
    arrays = {k: _decode(v) for k, v in doc["arrays"].items()}
    columns, x, values = doc["meta"]["pending"], arrays.pop("pending_x"), \
        arrays.pop("pending_values")
    rows = []
    for i, (key, row) in enumerate(zip(columns["ids"], values.tolist(), strict=True)):
        rows.append({"id": key, "arm": columns["arms"][i], "predicted_cost": row[0],
                     "charged": row[1], "created": row[2],
                     "observed_cost": row[3] if row[4] else None,
                     "input_tokens": int(row[5])})
        if inline:
            rows[-1]["x"] = x[i].tolist()
    if not inline:
        arrays["pending_x"] = x
    doc["meta"]["pending"] = rows
    doc["version"] = 1
    doc["arrays"] = {k: _encode(v) for k, v in arrays.items()}
    doc["sha256"] = _digest(doc["meta"], arrays)
    return doc


FORMAT_1 = {
    "pending x short": _set("pending.0.x", [0.0, 1.0]),
    "pending arm ghost": _set("pending.0.arm", "ghost/single/1"),
    "pending id int": _set("pending.0.id", 5),
    "pending cost NaN": _set("pending.0.predicted_cost", float("nan")),
    "pending tokens -1": _set("pending.0.input_tokens", -1),
}


@pytest.mark.parametrize("case", sorted(FORMAT_1))
def test_crafted_format_1_state_is_refused(saved: dict[str, Any], tmp_path: Path,
                                           case: str) -> None:
    path = rewrite(as_format_1(saved, inline=True), tmp_path / "bad.json", FORMAT_1[case])
    with pytest.raises(us.StateFileError):
        us.Router.load(path)


@pytest.mark.parametrize("inline", [True, False])
def test_format_1_state_loads_as_format_2(router: us.Router, tmp_path: Path,
                                          inline: bool) -> None:
    """Files written before pending decisions were saved as columns load the same."""
    decisions = [router.decide(f"waiting {i}") for i in range(5)]
    router.observe(decisions[2].id, us.Usage(input_tokens=30, output_tokens=50))
    router.save(str(tmp_path / "now.json"))
    doc = json.loads((tmp_path / "now.json").read_text())
    assert doc["version"] == 2 and sorted(doc["meta"]["pending"]) == ["arms", "ids"]
    (tmp_path / "old.json").write_text(json.dumps(as_format_1(doc, inline=inline)))
    old, now = us.Router.load(str(tmp_path / "old.json")), us.Router.load(
        str(tmp_path / "now.json"))
    for a, b in zip(list(old.pending), list(now.pending), strict=True):
        assert (a.id, a.arm, a.predicted_cost, a.charged, a.created, a.observed_cost,
                a.input_tokens) == (b.id, b.arm, b.predicted_cost, b.charged, b.created,
                                    b.observed_cost, b.input_tokens)
        assert np.array_equal(a.x, b.x)
    assert len(list(old.pending)) == 5 and old.pending.get(decisions[2].id).observed_cost
    old.save(str(tmp_path / "old2.json"))  # saved again in format 2, byte for byte
    now.save(str(tmp_path / "now2.json"))
    assert (tmp_path / "old2.json").read_bytes() == (tmp_path / "now2.json").read_bytes()


def test_state_without_a_counter_loads_and_counts_from_zero(saved: dict[str, Any],
                                                            tmp_path: Path) -> None:
    loaded = us.Router.load(rewrite(saved, tmp_path / "old.json", _set("stats.decisions",
                                                                        KeyError)))
    loaded.decide("counted from zero")
    assert loaded.stats["decisions"] == 1 and loaded.stats["feedback"] == 20


def test_unchanged_rewrite_loads(saved: dict[str, Any], tmp_path: Path) -> None:
    path = rewrite(saved, tmp_path / "same.json", lambda meta, arrays: None)
    loaded = us.Router.load(path)
    assert loaded.policy.updates == 20 and len(loaded.pending) == 1


def test_huge_array_shape_is_refused_before_decoding(saved: dict[str, Any],
                                                     tmp_path: Path) -> None:
    doc = json.loads(json.dumps(saved))
    doc["arrays"]["A_raw"]["shape"] = [40_000, 40_000, 40]
    (tmp_path / "big.json").write_text(json.dumps(doc))
    with pytest.raises(us.StateFileError, match="does not match its data length"):
        us.Router.load(str(tmp_path / "big.json"))


def test_npz_inflation_is_bounded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__meta__.npy", b"\0" * 64)
        archive.writestr("a_A_raw.npy", b"\0" * (64 << 20))  # 64 MiB of zeros
    path = tmp_path / "bomb.npz"
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 1 << 20
    with pytest.raises(us.StateFileError, match="inflate"):
        us.Router.load(str(path))


def test_npz_written_by_numpy_savez_loads(router: us.Router, tmp_path: Path) -> None:
    """The archive a save writes piece by piece is the one numpy.savez writes (files
    written by earlier versions, with savez, load the same)."""
    for i in range(40):
        router.decide(f"waiting {i}")
    router.save(str(tmp_path / "pieces.npz"))
    with np.load(tmp_path / "pieces.npz", allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    np.savez(tmp_path / "savez.npz", **members)
    ours, theirs = (us.Router.load(str(tmp_path / name)) for name in ("pieces.npz", "savez.npz"))
    ours.save(str(tmp_path / "ours.json"))
    theirs.save(str(tmp_path / "theirs.json"))
    assert (tmp_path / "ours.json").read_bytes() == (tmp_path / "theirs.json").read_bytes()
    assert len(theirs.pending) == 40
