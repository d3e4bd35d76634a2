"""The decision log: records, threads, rotation, reading back."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import uniscale as us
from uniscale.logread import read_events


def _router(arms: us.ArmSpace, prices: dict[str, us.Price], log: Any, **kw: Any) -> us.Router:
    return us.Router(arms, prices, us.Tradeoff(0.01), featurizer=us.HashingFeaturizer(16),
                     log=log, seed=0, **kw)


def test_decision_and_feedback_records(tmp_path: Path, arms: us.ArmSpace,
                                       prices: dict[str, us.Price]) -> None:
    path = tmp_path / "logs" / "decisions.jsonl"
    router = _router(arms, prices, path, log_features=True)
    d = router.decide("What is 17*23?")
    router.feedback(d.id, 0.75, cost=0.001)
    router.close()
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    assert [r["type"] for r in lines] == ["decision", "feedback"]
    dec, fb = lines
    assert dec["id"] == d.id == fb["id"] and dec["arm"] == d.arm.key
    assert dec["propensity"] == d.propensity and dec["cost_weight"] == d.cost_weight
    assert dec["predicted_cost"] == d.predicted_cost
    assert dec["candidates"]["arm"] == [c.arm.key for c in d.candidates]
    assert dec["candidates"]["quality"] == [c.quality for c in d.candidates]
    assert dec["candidates"]["score"] == [c.score for c in d.candidates]
    x = router.featurizer.transform(us.types.as_messages("What is 17*23?"))
    assert dec["features"] == np.asarray(x).tolist()
    assert (fb["score"], fb["cost"]) == (0.75, 0.001)
    assert fb["time"] >= dec["time"]
    (logged,) = us.read_log(path)
    assert isinstance(logged, us.LoggedDecision)
    assert (logged.id, logged.arm, logged.score, logged.cost) == (d.id, d.arm.key, 0.75, 0.001)
    assert np.array_equal(logged.features, x)
    assert logged.candidates is not None
    assert logged.candidates.arms == tuple(c.arm.key for c in d.candidates)


def test_features_digest_unless_asked(tmp_path: Path, arms: us.ArmSpace,
                                      prices: dict[str, us.Price]) -> None:
    path = tmp_path / "d.jsonl"
    router = _router(arms, prices, path)
    a, b = router.decide("same prompt"), router.decide("same prompt")
    c = router.decide("another prompt")
    router.close()
    recs = list(us.read_log(path, pending=True))
    assert [r.id for r in recs] == [a.id, b.id, c.id]
    assert all(r.features is None and r.score is None and not r.answered for r in recs)
    assert recs[0].features_digest == recs[1].features_digest != recs[2].features_digest
    assert list(us.read_log(path)) == []  # no feedback: nothing to learn from


def test_callable_log_and_observed_cost(arms: us.ArmSpace, prices: dict[str, us.Price],
                                        backends: dict[str, us.FakeBackend]) -> None:
    records: list[dict[str, Any]] = []
    router = us.Router(arms, prices, us.Tradeoff(0.01), backends, log=records.append, seed=0)
    r = router.invoke("What is 6*7?")
    router.feedback(r.decision.id, 1.0)
    assert [x["type"] for x in records] == ["decision", "cost", "feedback"]
    assert records[1]["cost"] == pytest.approx(r.cost)
    assert records[2]["cost"] is None


def test_eight_threads_every_record_exactly_once_across_rotations(
        tmp_path: Path, arms: us.ArmSpace, prices: dict[str, us.Price]) -> None:
    path = tmp_path / "decisions.jsonl"
    sink = us.DecisionLog(path, max_bytes=150_000)
    router = _router(arms, prices, sink)
    given: dict[str, float] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(500):
                d = router.decide(f"thread {t} request {i}")
                score = ((t * 500 + i) % 11) / 10
                router.feedback(d.id, score)
                with lock:
                    given[d.id] = score
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    router.close()
    assert not errors
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 4  # rotated several times
    for f in files:  # every file is whole JSON lines
        assert all(json.loads(line)["id"] for line in f.read_text().splitlines())
    events = list(read_events(path))
    kinds = Counter((e["type"], e["id"]) for e in events)
    assert len(given) == 4000
    assert {k for k, _ in kinds} == {"decision", "feedback"}
    assert all(v == 1 for v in kinds.values())
    assert {i for k, i in kinds if k == "decision"} == set(given)
    assert {i for k, i in kinds if k == "feedback"} == set(given)
    joined = {r.id: r.score for r in us.read_log(path)}
    assert joined == given
    assert router.stats["decisions"] == router.stats["feedback"] == 4000


def test_truncated_last_line_is_skipped_and_bad_lines_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    good = {"type": "decision", "time": 1.0, "id": "a", "arm": "small/single/1"}
    path.write_text(json.dumps(good) + "\n" + '{"type": "feedback", "ti')
    assert [r.id for r in us.read_log(path, pending=True)] == ["a"]
    path.write_text('{"type": "feedb\n' + json.dumps(good) + "\n")
    with pytest.raises(us.LogFileError, match=r"d.jsonl:1 is not a JSON record"):
        list(us.read_log(path))
    with pytest.raises(us.LogFileError, match="no decision log"):
        list(us.read_log(tmp_path / "missing.jsonl"))


def test_bad_log_setting_is_a_clear_error(arms: us.ArmSpace,
                                          prices: dict[str, us.Price]) -> None:
    with pytest.raises(us.ConfigurationError, match="log= must be a file path or a callable"):
        _router(arms, prices, 42)
    with pytest.raises(us.ConfigurationError, match="max_bytes"):
        us.DecisionLog("x.jsonl", max_bytes=-1)
