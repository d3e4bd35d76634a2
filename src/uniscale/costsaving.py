"""What a router's cost predictions need beyond the cost model's learned sums.

``decide`` prices each arm from the cost model's token and sample counts
(:meth:`~uniscale.cost.CostModel.state`) and from two figures that live elsewhere:

- the samples one call returns, per model: read from each backend's
  ``max_samples_per_call``, and backends are not saved. ``SelfConsistency`` or ``BestOfN``
  with ``n = 5`` on a backend with native ``n`` is one call paying for the input once;
  priced at one sample per call it pays for the input five times (on a prompt of 2,000
  tokens at USD 5 per 1M input tokens, 0.05 instead of 0.01 USD);
- what each :class:`~uniscale.Judge` of a ``BestOfN`` arm has spent per judgement: kept in
  the judge, which is code passed again with ``Router.load(arms=...)`` and so starts from
  its ``expected_cost``.

Both are saved next to the cost model (``cost_model.samples_per_call`` and
``cost_model.judges``), so that a router loaded without backends, or with freshly built
judges, decides as the router that was saved. A file without them (saved before they
were) loads as then: one sample per call until backends are attached, judges from their
``expected_cost``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .judge import Judge

if TYPE_CHECKING:
    from .arms import Arm
    from .router import Router

__all__ = ["restore_costs", "snapshot_costs"]


def _judge(arm: Arm) -> Judge | None:
    scorer = getattr(arm.strategy, "scorer", None)
    return scorer if isinstance(scorer, Judge) else None


def snapshot_costs(router: Router) -> dict[str, Any]:
    """``samples_per_call`` per model and ``judges``: per ``BestOfN`` arm with a judge,
    ``[judgements, usd]`` that judge has spent (call under the router's lock)."""
    judges: dict[str, list[float]] = {}
    for arm in router.arms:
        judge = _judge(arm)
        if judge is not None:
            judgements, usd = judge.spent()
            judges[arm.key] = [judgements, usd]
    return {"samples_per_call": dict(router.costs.samples_per_call), "judges": judges}


def restore_costs(router: Router, saved: Mapping[str, Any]) -> None:
    """Restore :func:`snapshot_costs` into a router just built from a state file.

    The saved samples per call fill in the models without a backend: a backend passed
    to ``Router.load`` (or later, :meth:`Router.set_backend`) still sets its model's
    figure, as without a saved one. A judge's saved spend is restored only into a judge
    that has judged nothing yet: one that has (the same judge object, still in use in
    this process) already holds what it spent, the saved figures included.

    Args:
        router: The loaded router (its backends attached, its arms checked).
        saved: The file's ``cost_model`` object.
    """
    per_call = saved.get("samples_per_call") or {}
    router.costs.samples_per_call = {**{str(m): int(v) for m, v in per_call.items()},
                                     **router.costs.samples_per_call}
    spent = saved.get("judges") or {}
    for arm in router.arms:
        judge = _judge(arm)
        if judge is None or arm.key not in spent:
            continue
        judgements, usd = spent[arm.key]
        judge.restore_spent(judgements, usd)
