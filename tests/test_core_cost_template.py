"""Input tokens a call bills beyond the request's estimate, learned per context.

A provider-side template the router never sees (few-shot exemplars per task, a system
prompt per tenant) makes a call bill more input than the request's own text; when the
template depends on the request, a per-arm mean mispredicts every request.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

import uniscale as us
from uniscale.cost import estimate_tokens
from uniscale.types import Completion, Request, as_messages

TEMPLATE = {"sql": 2000, "chat": 200}
PRICE = us.Price(input=10.0, output=1.0)
OUT = 20


def _prompt(task: str, i: int) -> str:
    if task == "sql":
        return f"sql: select the rows of table t{i} where the id is {i} and order them"
    return f"chat: tell me something kind about the weather in town number {i}"


def _true_cost(prompt: str) -> float:
    task = prompt.split(":")[0]
    tokens = estimate_tokens(as_messages(prompt)) + TEMPLATE[task]
    return (PRICE.input * tokens + PRICE.output * OUT) / 1e6


def _records(arm: us.Arm, count: int = 40) -> list[us.Outcome]:
    records = []
    for i in range(count):
        for task in TEMPLATE:
            prompt = _prompt(task, i)
            tokens = estimate_tokens(as_messages(prompt)) + TEMPLATE[task]
            records.append(us.Outcome(arm=arm, score=1.0, request=prompt,
                                      usage=us.Usage(tokens, OUT, calls=1)))
    return records


def _router(arm: us.Arm, **kw: object) -> us.Router:
    return us.Router([arm], {"m": PRICE}, seed=0, **kw)  # type: ignore[arg-type]


def test_fit_learns_a_template_that_depends_on_the_request() -> None:
    arm = us.Arm("m", us.Single())
    router = _router(arm)
    router.fit(_records(arm))
    # the per-arm mean alone is 1100 template tokens on both: off by 900 on each
    mean = router.costs.expected_extra_input_tokens(arm)
    assert mean == pytest.approx(1100, rel=0.05)
    for task in TEMPLATE:
        prompt = _prompt(task, 1000)
        predicted = router.decide(prompt).predicted_cost
        tokens = estimate_tokens(as_messages(prompt))
        by_mean = (PRICE.input * (tokens + mean) + PRICE.output * OUT) / 1e6
        true = _true_cost(prompt)
        assert abs(predicted - true) < 0.15 * abs(by_mean - true), task
    sql = _prompt("sql", 1000)
    assert router.decide(sql).predicted_cost == pytest.approx(_true_cost(sql), rel=0.1)


def test_cost_saved_and_loaded_predicts_the_same(tmp_path: object) -> None:
    arm = us.Arm("m", us.Single())
    router = _router(arm)
    router.fit(_records(arm))
    path = f"{tmp_path}/router.json"
    router.save(path)
    loaded = us.Router.load(path)
    for task in TEMPLATE:
        prompt = _prompt(task, 2000)
        assert loaded.decide(prompt).predicted_cost == pytest.approx(
            router.decide(prompt).predicted_cost, rel=1e-9)


class _TemplatedBackend:
    """A provider that prepends a task's template (billed, never seen by the router)."""

    max_samples_per_call = 1

    def __init__(self) -> None:
        self.inner = us.FakeBackend(["answer"], output_tokens=OUT)

    def complete(self, request: Request) -> Completion:
        done = self.inner.complete(request)
        text = request.messages[-1].content
        extra = TEMPLATE[text.split(":")[0]]
        return replace(done, usage=replace(done.usage,
                                           input_tokens=done.usage.input_tokens + extra))


def test_invoke_learns_the_template_online() -> None:
    arm = us.Arm("m", us.Single())
    router = _router(arm, backends={"m": _TemplatedBackend()})
    for i in range(60):
        for task in TEMPLATE:
            result = router.invoke(_prompt(task, i))
            router.feedback(result.decision.id, 1.0)
    mean = router.costs.expected_extra_input_tokens(arm)
    for task in TEMPLATE:
        prompt = _prompt(task, 5000)
        tokens = estimate_tokens(as_messages(prompt))
        billed = (PRICE.input * (tokens + 4 + TEMPLATE[task])
                  + PRICE.output * OUT) / 1e6  # the fake bills 4 tokens per message
        by_mean = (PRICE.input * (tokens + mean) + PRICE.output * OUT) / 1e6
        predicted = router.decide(prompt).predicted_cost
        assert abs(predicted - billed) < 0.15 * abs(by_mean - billed), task


def test_template_of_a_task_free_arm_stays_the_mean() -> None:
    # the same template on every request: the regression cannot beat the mean, and the
    # prediction is the mean's
    arm = us.Arm("m", us.Single())
    router = _router(arm)
    records = [replace(r, usage=us.Usage(estimate_tokens(as_messages(str(r.request))) + 700,
                                         OUT, calls=1)) for r in _records(arm)]
    router.fit(records)
    prompt = _prompt("sql", 3000)
    tokens = estimate_tokens(as_messages(prompt))
    expected = (PRICE.input * (tokens + 700) + PRICE.output * OUT) / 1e6
    assert router.decide(prompt).predicted_cost == pytest.approx(expected, rel=0.02)
    assert math.isclose(router.costs.expected_extra_input_tokens(arm), 700, rel_tol=1e-9)
