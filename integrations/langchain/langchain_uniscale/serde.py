"""LangChain serialisation (``dumpd`` / ``load``) and JSON dumps of ChatUniScale.

``dumpd(chat)`` gives a constructor that ``langchain_core.load.load`` turns back into
an equal ChatUniScale (a new router: the learned state lives in ``state_path`` /
:meth:`~langchain_uniscale.ChatUniScale.save`). That works when every child is
LangChain-serialisable (``ChatOpenAI``, ``ChatAnthropic``, ...) and every setting is
plain data: strategies given by name (or as the default ``Single()`` /
``SelfConsistency()``), prices, objective, ``n``, fallback models or arm keys, ... A
ChatUniScale holding something else (a ready ``router=``, a custom featurizer or
strategy, explicit ``arms=``, a callable log) serialises as LangChain's
``"not_implemented"`` whose ``repr`` names every part that cannot be serialised, so
``load`` fails with that list instead of building a different router.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from langchain_core.load import dumpd

from uniscale import Arm, Price, SelfConsistency, Single, Strategy, extract_answer

if TYPE_CHECKING:
    from .chat_models import ChatUniScale

__all__ = ["json_value", "lc_kwargs", "not_serialisable", "strategy_name"]

_PLAIN = (str, int, float, bool, type(None))


def strategy_name(strategy: Any) -> str | None:
    """The name a strategy can be given by (``None``: it needs its object)."""
    if isinstance(strategy, str):
        return strategy
    if isinstance(strategy, Single) and strategy == Single():
        return "single"
    if (isinstance(strategy, SelfConsistency) and strategy == SelfConsistency()
            and strategy.extractor is extract_answer):
        return "self-consistency"
    return None


def _arm_key(item: Any) -> Any:
    return item.key if isinstance(item, Arm) else item


def json_value(name: str, value: Any) -> Any:
    """A JSON-ready description of setting ``name`` (for ``model_dump_json``)."""
    if value is None or isinstance(value, _PLAIN):
        return value
    if name == "strategies":
        return [strategy_name(s) or (s.to_config() if isinstance(s, Strategy) else repr(s))
                for s in value]
    if name in ("arms", "fallback"):
        return [_arm_key(a) for a in value]
    if name == "baseline":
        return _arm_key(value)
    config = getattr(value, "config", None)
    if callable(config):  # a featurizer
        return config()
    return repr(value)


def _has_not_implemented(tree: Any) -> bool:
    if isinstance(tree, dict):
        return tree.get("type") == "not_implemented" or any(
            _has_not_implemented(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_not_implemented(v) for v in tree)
    return False


def not_serialisable(chat: ChatUniScale, router_given: bool) -> list[str]:
    """What keeps ``chat`` from a faithful ``dumpd`` (empty when nothing does)."""
    problems: list[str] = []
    for name, child in chat.models.items():
        if not child.is_lc_serializable() or _has_not_implemented(dumpd(child)):
            problems.append(f"child {name!r} ({type(child).__name__}) is not "
                            "LangChain-serialisable")
    if router_given:
        problems.append("router= (a ready router; give its settings instead)")
    for index, strategy in enumerate(chat.strategies or ()):
        if strategy_name(strategy) is None:
            problems.append(f"strategies[{index}] ({strategy!r}) has no name")
    if chat.arms is not None:
        problems.append("arms= (give models, strategies and n instead)")
    if chat.featurizer is not None:
        problems.append(f"featurizer= ({type(chat.featurizer).__name__})")
    for name in ("conservative", "log"):
        if not isinstance(getattr(chat, name), _PLAIN):
            problems.append(f"{name}= ({type(getattr(chat, name)).__name__})")
    return problems


def _prices(prices: dict[str, Any] | None) -> dict[str, Any] | None:
    if prices is None:
        return None
    return {m: dataclasses.asdict(p) if isinstance(p, Price) else p for m, p in prices.items()}


def lc_kwargs(chat: ChatUniScale, base: dict[str, Any], names: Iterable[str]
              ) -> dict[str, Any]:
    """The constructor kwargs of ``dumpd(chat)``: LangChain's, with plain-data settings.

    Args:
        chat: A ChatUniScale that :func:`not_serialisable` found no problem with.
        base: The kwargs LangChain's ``Serializable.to_json`` collected.
        names: The core settings to write out (given or not, so that ``load`` does not
            take an environment default instead).
    """
    kwargs = {k: v for k, v in base.items() if k != "router"}
    for name in names:
        kwargs[name] = getattr(chat, name)
    kwargs["prices"] = _prices(chat.prices)
    if chat.strategies is not None:
        kwargs["strategies"] = [strategy_name(s) for s in chat.strategies]
    if chat.objective is not None:
        kwargs["objective"] = dataclasses.asdict(chat.objective)
    if chat.fallback is not None:
        kwargs["fallback"] = [_arm_key(a) for a in chat.fallback]
    kwargs["baseline"] = _arm_key(chat.baseline)
    return {k: v for k, v in kwargs.items() if v is not None or k == "state_path"}
