"""Constructor settings: refused when unknown, strategies by name, settings in code win."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_uniscale import ChatUniScale
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us
from uniscale.adapters import RouterSettings, build_router, takes

MakeChat = Callable[..., ChatUniScale]


def test_an_unknown_argument_is_a_clear_error(make_chat: MakeChat) -> None:
    with pytest.raises(us.ConfigurationError, match=r"'temprature' \(did you mean 'temperature'"):
        make_chat(temprature=0.2)
    with pytest.raises(us.ConfigurationError, match="unknown argument"):
        make_chat(router_options={"alpha": 0.3})


def test_strategies_by_name(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=["single", "self-consistency"], n=[1, 3])
    assert sorted(a.key for a in chat.router.arms) == [
        "large/sc/3", "large/single/1", "small/sc/3", "small/single/1"]
    with pytest.raises(us.ConfigurationError, match="needs a scorer"):
        make_chat(strategies=["best-of-n"], n=[3])
    with pytest.raises(us.ConfigurationError, match="unknown strategy 'majority'"):
        make_chat(strategies=["majority"])


def test_core_settings_reach_the_router(make_chat: MakeChat) -> None:
    chat = make_chat(alpha=0.3, ridge=2.0, seed=7, fallback=["large"],
                     objective=us.Budget(0.001))
    router = chat.router
    assert router.policy.alpha == 0.3 and router.seed == 7
    assert router.fallback == (us.Arm("large", us.Single(), 1),)
    assert isinstance(router.objective, us.Budget)
    arms = [us.Arm("small", us.Single()), us.Arm("large", us.SelfConsistency(), 3)]
    assert [a.key for a in make_chat(arms=arms).router.arms] == ["small/single/1",
                                                                 "large/sc/3"]


def test_a_ready_router_with_settings_is_refused() -> None:
    router = us.Router(us.ArmSpace.product(["a"]), {"a": us.Price(1, 1)})
    with pytest.raises(us.ConfigurationError, match="either router= or"):
        ChatUniScale(models={"a": ScriptedChatModel()}, router=router, alpha=0.5)


def test_context_and_log_pass_through_to_the_router(make_chat: MakeChat) -> None:
    records: list[dict[str, Any]] = []
    chat = make_chat(log=records.append)
    context = {"tenant": "acme", "tier": 2}
    chat.invoke("hello", config={"metadata": {"uniscale_context": context}})
    list(chat.stream("hello", config={"metadata": {"uniscale_context": {"tier": 3}}}))
    chat.invoke("no context")
    decisions = [r for r in records if r.get("context", 0) != 0]
    assert [r["context"] for r in decisions] == [context, {"tier": 3}, None]
    with pytest.raises(us.ConfigurationError, match="must be a mapping"):
        chat.invoke("hello", config={"metadata": {"uniscale_context": "acme"}})


def test_a_pass_through_setting_the_core_lacks_is_a_clear_error() -> None:
    if takes(us.Router, "baseline"):
        pytest.skip("this core takes baseline=")
    settings = RouterSettings(baseline="small/single/1", prices={"small": us.Price(1, 1)})
    with pytest.raises(us.ConfigurationError, match="baseline= is not supported"):
        build_router(settings, ["small"], None)


def test_reload_with_a_price_changed_in_code(make_chat: MakeChat, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "state.json")
    chat = make_chat(state_path=path)
    for i in range(10):
        chat.feedback(chat.invoke(f"question {i}"), 0.5)
    chat.save()
    learned = chat.router.policy.state()[0]
    cut = us.Price(0.05, 0.2)
    with caplog.at_level(logging.WARNING, logger="uniscale"):
        again = ChatUniScale(models=chat.models, prices={"small": cut,
                                                         "large": us.Price(2.5, 10.0)},
                             state_path=path)
    assert again.router.costs.price("small") == cut  # the price in code wins
    assert again.router.stats["feedback"] == 10
    assert again.router.policy.state()[0] == learned  # the statistics are kept
    warnings = [r for r in caplog.records if r.name == "uniscale" and "prices" in r.message]
    assert len(warnings) == 1


@pytest.mark.slow
def test_mypy_sees_the_real_types(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent("""
        from langchain_uniscale import ChatUniScale
        chat = ChatUniScale(models={})
        reveal_type(chat.feedback("id", 1.0))
        reveal_type(chat.router)
        reveal_type(chat.prices)
    """))
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                           "--cache-dir", str(tmp_path / "cache"), str(script)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    out = done.stdout
    assert re.search(r'Revealed type is "(builtins\.)?bool"', out), out
    assert 'Revealed type is "uniscale.router.Router | None"' in out, out
    assert "uniscale.cost.Price" in out, out
