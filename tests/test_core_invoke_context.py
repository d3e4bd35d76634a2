"""``Router.invoke(..., context=...)``: side features reach the decision when running too."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import uniscale as us


def _router() -> us.Router:
    arms = [us.Arm("sql-model", us.Single()), us.Arm("chat-model", us.Single())]
    prices = {"sql-model": us.Price(1, 1), "chat-model": us.Price(1, 1)}
    backends = {m: us.FakeBackend(["ok"]) for m in prices}
    return us.Router(arms, prices, us.Tradeoff(10.0), backends, seed=0)


def test_invoke_learns_an_arm_that_depends_only_on_the_context_task() -> None:
    router = _router()
    rng = np.random.default_rng(0)
    for _ in range(300):
        task = "sql" if rng.random() < 0.5 else "chat"
        r = router.invoke("the same words every time", context={"task": task})
        right = r.decision.arm.model.startswith(task)
        router.feedback(r.decision.id, float(rng.random() < (0.9 if right else 0.2)))
    for task in ("sql", "chat"):
        picks = [router.invoke("the same words every time", context={"task": task})
                 .decision.arm.model for _ in range(20)]
        assert picks.count(f"{task}-model") >= 18, (task, picks)


def test_ainvoke_passes_the_context_and_refuses_a_bad_one() -> None:
    router = _router()
    r = asyncio.run(router.ainvoke("q", context={"task": "sql"}))
    assert r.text == "ok"
    with pytest.raises(us.InvalidFeaturesError, match="mapping"):
        asyncio.run(router.ainvoke("q", context="sql"))  # type: ignore[arg-type]
    with pytest.raises(us.InvalidFeaturesError, match="mapping"):
        router.invoke("q", context="sql")  # type: ignore[arg-type]
    assert router.stats["decisions"] == 1
