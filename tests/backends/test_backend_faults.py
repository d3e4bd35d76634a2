"""Fault tests over real HTTP: every fault ends in a served answer or one clear error.

The primary arm runs on one provider, the fallback arm on the other (same loopback
server). After each fault the router's learned state is consistent: no quality update
from a failure, the failure counted, the failed decision closed, the served one awaiting
feedback, the state saved and reloaded unchanged, and the cost of what was served counted.
"""

from __future__ import annotations

import asyncio

import pytest

import uniscale as us
from uniscale.backends import MalformedResponseError, ProviderError
from uniscale.testing.loopback import error

OPENAI = us.Arm("gpt", us.Single())
ANTHROPIC = us.Arm("claude", us.Single())


def _router(make_openai, make_anthropic, prices, primary, *, fallback=True, **options):
    backends = {"gpt": make_openai(**options), "claude": make_anthropic(**options)}
    backup = [ANTHROPIC if primary == OPENAI else OPENAI] if fallback else []
    return us.Router([OPENAI, ANTHROPIC], prices, backends=backends, fallback=backup)


def _check_state(router, result, tmp_path, failed=()):
    assert router.policy.updates == 0  # failures are never learned as quality
    assert router.stats["failures"] == {a.key: 1 for a in failed}
    assert result.failed_arms == tuple(failed)
    assert len(router.pending.state()) == 1  # only the served decision waits for feedback
    path = str(tmp_path / "state.json")
    router.save(path)
    again = us.Router.load(path, backends=router.backends)
    assert again.stats == router.stats
    assert again.pending.state() == router.pending.state()
    assert router.feedback(result.decision.id, score=1.0)
    assert router.policy.updates == 1


def _api(arm):
    return "openai" if arm == OPENAI else "anthropic"


@pytest.mark.parametrize("primary", [OPENAI, ANTHROPIC], ids=["openai", "anthropic"])
@pytest.mark.parametrize(
    ("faults", "served_by_primary"),
    [
        (["hang"], True),                                     # timeout, then the SDK retry
        (["hang", "hang"], False),                            # timeout on every attempt
        ([error(429, retry_after=0.01)], True),               # 429 then 200
        ([error(500, retry_after=0.01)] * 2, False),          # 500 always
        ([error(503, retry_after=0.01)], True),               # one 5xx, then 200
        (["malformed"], False),                               # truncated JSON
        (["garbage"], False),                                 # JSON of the wrong shape
        (["drop"], True),                                     # connection dropped, retried
        (["drop", "drop"], False),                            # dropped on every attempt
    ],
)
def test_fault_ends_served_with_consistent_state(
        server, make_openai, make_anthropic, prices, billed, tmp_path, primary, faults,
        served_by_primary):
    router = _router(make_openai, make_anthropic, prices, primary, timeout=1.0)
    server.script(*faults)

    result = router.invoke("What is 6 * 7?", allowed=[primary])

    assert result.text == "The answer is 42."
    served = primary if served_by_primary else router.fallback[0]
    assert result.decision.arm == served
    price = prices[served.model]
    assert result.cost == pytest.approx(price.cost(billed(_api(served))), rel=1e-12)
    assert result.cost > 0
    if served_by_primary:
        assert len(server.requests) == len(faults) + 1
        _check_state(router, result, tmp_path)
    else:
        assert f"{primary}" in result.errors[0]
        _check_state(router, result, tmp_path, failed=[primary])


def test_retry_after_is_read_from_the_reply(server, make_openai, make_anthropic, prices):
    # a retry-after beyond the SDK's two-minute ceiling is not waited for: the arm fails
    # at once and the fallback serves (with a small value the SDK retries, see above)
    router = _router(make_openai, make_anthropic, prices, OPENAI)
    server.script(error(429, retry_after=600))
    result = router.invoke("What is 6 * 7?", allowed=[OPENAI])
    assert result.decision.arm == ANTHROPIC
    assert [r.api for r in server.requests] == ["openai", "anthropic"]
    assert "429" in result.errors[0]


@pytest.mark.parametrize("primary", [OPENAI, ANTHROPIC], ids=["openai", "anthropic"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_fallback_gives_one_clear_error(server, make_openai, make_anthropic, prices,
                                           primary, mode):
    router = _router(make_openai, make_anthropic, prices, primary, fallback=False)
    server.default = error(500, retry_after=0.01)
    with pytest.raises(us.AllSamplesFailedError) as caught:
        if mode == "sync":
            router.invoke("What is 6 * 7?", allowed=[primary])
        else:
            asyncio.run(router.ainvoke("What is 6 * 7?", allowed=[primary]))
    assert "HTTP 500" in str(caught.value)
    assert isinstance(caught.value.errors[0], ProviderError)
    assert caught.value.errors[0].status_code == 500
    assert len(server.requests) == 2  # the first attempt and one SDK retry
    assert router.stats["failures"] == {primary.key: 1}
    assert router.pending.state() == [] and router.policy.updates == 0


def test_malformed_json_is_a_clear_backend_error(server, make_openai, make_anthropic):
    request = us.Request((us.Message("user", "hi"),))
    for backend in (make_openai(), make_anthropic()):
        server.script("malformed")
        with pytest.raises(MalformedResponseError, match="malformed response"):
            backend.complete(request)


def test_failed_anthropic_samples_are_dropped_and_the_rest_counted(
        server, make_anthropic, prices, billed):
    router = us.Router([us.Arm("claude", us.SelfConsistency(), 5)], prices,
                       backends={"claude": make_anthropic(max_retries=0)})
    server.script(error(500), error(500))  # two of the five concurrent calls fail
    result = router.invoke("What is 6 * 7?")
    assert len(server.requests) == 5
    assert len(result.samples) == 3
    assert len(result.errors) == 2
    usage = billed("anthropic")
    assert usage.calls == 3 and result.usage == usage
    assert result.cost == pytest.approx(prices["claude"].cost(usage), rel=1e-12)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_server_rejecting_n_falls_back_to_parallel_requests(
        server, make_openai, prices, billed, mode):
    server.accept_n = False
    backend = make_openai(max_retries=0)
    router = us.Router([us.Arm("gpt", us.SelfConsistency(), 5)], prices,
                       backends={"gpt": backend})
    server.script("ok", error(500), error(500))  # the n=5 call is refused; 2 singles fail
    if mode == "sync":
        result = router.invoke("What is 6 * 7?")
    else:
        result = asyncio.run(router.ainvoke("What is 6 * 7?"))
    bodies = [r.body for r in server.requests]
    assert bodies[0]["n"] == 5 and all("n" not in b for b in bodies[1:])
    assert len(bodies) == 6
    assert len(result.samples) == 3
    assert backend.max_samples_per_call == 1
    usage = billed("openai")
    assert result.usage == usage and usage.calls == 3
    assert result.cost == pytest.approx(prices["gpt"].cost(usage), rel=1e-12)
    server.reset()
    arm = router.arms[0]
    assert router.costs.calls(arm) == 1  # still believed until the next decision
    router.invoke("What is 6 * 7?")  # from now on the core makes five single calls
    assert [("n" in r.body) for r in server.requests] == [False] * 5
    assert router.costs.calls(arm) == 5  # and predicts that each pays for the input


def test_server_ignoring_n_gets_the_missing_samples(server, make_openai, prices, billed):
    server.honour_n = False
    backend = make_openai()
    completion = backend.complete(us.Request((us.Message("user", "hi"),), n=4))
    assert len(completion.samples) == 4
    assert [r.body.get("n") for r in server.requests] == [4, None, None, None]
    assert completion.usage == billed("openai")


def test_a_bad_request_is_not_mistaken_for_a_refused_n(server, make_openai):
    backend = make_openai()
    server.default = error(400)
    with pytest.raises(ProviderError, match="HTTP 400"):
        backend.complete(us.Request((us.Message("user", "hi"),), n=3))
    assert backend.max_samples_per_call == 128
    assert len(server.requests) == 4  # the n=3 call, then three single calls to check


@pytest.mark.parametrize("primary", [OPENAI, ANTHROPIC], ids=["openai", "anthropic"])
def test_async_fault_ends_in_the_fallback(server, make_openai, make_anthropic, prices, billed,
                                          tmp_path, primary):
    router = _router(make_openai, make_anthropic, prices, primary)
    server.script(error(500, retry_after=0.01), error(500, retry_after=0.01))
    result = asyncio.run(router.ainvoke("What is 6 * 7?", allowed=[primary]))
    served = router.fallback[0]
    assert result.decision.arm == served and result.text == "The answer is 42."
    assert result.cost == pytest.approx(prices[served.model].cost(billed(_api(served))))
    _check_state(router, result, tmp_path, failed=[primary])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_billed_but_malformed_reply_is_charged(server, make_openai, make_anthropic, prices,
                                               billed, mode):
    router = _router(make_openai, make_anthropic, prices, OPENAI)
    server.script("billed_no_message")
    if mode == "sync":
        result = router.invoke("What is 6 * 7?", allowed=[OPENAI])
    else:
        result = asyncio.run(router.ainvoke("What is 6 * 7?", allowed=[OPENAI]))
    assert result.decision.arm == ANTHROPIC
    lost = prices["gpt"].cost(us.Usage(1000, 5000))
    assert lost == pytest.approx(0.0525)
    assert router.stats["failed_cost"] == pytest.approx(lost, rel=1e-12)
    assert router.pacer.spent == pytest.approx(lost + result.cost, rel=1e-12)


def test_billed_but_malformed_reply_without_fallback_is_charged(
        server, make_openai, make_anthropic, prices):
    router = _router(make_openai, make_anthropic, prices, OPENAI, fallback=False)
    server.script("billed_no_message")
    with pytest.raises(us.AllSamplesFailedError):
        router.invoke("What is 6 * 7?", allowed=[OPENAI])
    assert router.pacer.spent == pytest.approx(prices["gpt"].cost(us.Usage(1000, 5000)))
