"""``uniscale bench --context task``: what a user knows about each request, given to all.

A user's app usually knows which task a request belongs to and can pass it as
``Router.decide(..., context={"task": "sql"})`` (or ``Outcome(context=...)`` to
:meth:`Router.fit`). With ``--context task`` the bench passes each prompt's ``dataset``
field as ``context={"task": dataset}`` to the UniScale learners, and appends the very
vector the router encodes it into (:class:`~uniscale.context.ContextEncoder`, same width
and seed) to the feature vectors of the ``trained-router`` and of the peers: every
policy sees the same features. A table with a single dataset has nothing to tell: the
option is then a no-op (and the bench says so).

Measured, train prompts only (``OPENBLAS_NUM_THREADS=1 python benchmarks/warm_resplit.py
TABLE --seeds 8 [--context task]``; uniscale, the trained router, paired difference):
the task lifts both, the trained router as much or more, so it decides no contest:

* routerbench (2 datasets): 0.8260, 0.8279, −0.0019 ± 0.0018 without; 0.8293, 0.8299,
  −0.0007 ± 0.0013 with (a tie either way);
* faithful_cot (10 datasets): 0.7670, 0.7560, +0.0109 ± 0.0031 without; 0.7749, 0.7696,
  +0.0053 ± 0.0048 with (with 64 buckets instead of 16, fewer collisions of the 10
  tasks: 0.7786, 0.7828, −0.0042 ± 0.0017);
* paretobandit (30 datasets): 0.9143, 0.9126, +0.0016 ± 0.0004 without; 0.9137,
  0.9130, +0.0007 ± 0.0007 with.

Sharing evidence across arms does not turn the task into an edge: with an eval set
every arm has its own records of every task, fit keeps the disjoint model on most
faithful_cot resplits, and the held-out squared error of the score with and without
sharing differs by under 0.5%.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..context import ContextEncoder
from ..errors import ConfigurationError
from .table import Table

__all__ = ["CONTEXT_DIM", "CONTEXT_FIELDS", "SideContext", "check_context", "side_context"]

CONTEXT_FIELDS: Mapping[str, str] = {"task": "the table's dataset column"}
"""Context fields ``--context`` accepts, and the table column each one is read from."""

CONTEXT_DIM = 16
"""Hashed side-feature buckets of the bench's routers (``Router(context_dim=...)``)."""


def check_context(field: str | None) -> str | None:
    """The ``--context`` field, checked before any work.

    Raises:
        ConfigurationError: For a field the bench cannot fill from a table.
    """
    if field is None or field == "":
        return None
    if field not in CONTEXT_FIELDS:
        known = ", ".join(f"{k} ({v})" for k, v in CONTEXT_FIELDS.items())
        raise ConfigurationError(f"unknown --context field {field!r}: choose {known}, or "
                                 "leave --context out")
    return field


@dataclass(frozen=True)
class SideContext:
    """The side features of every prompt of a table.

    Attributes:
        field: The context field (``"task"``).
        values: ``(P,)`` the field's value per table row.
    """

    field: str
    values: tuple[str, ...]

    def of(self, prompt: int) -> dict[str, Any]:
        """The ``context=`` mapping of table row ``prompt``."""
        return {self.field: self.values[int(prompt)]}

    def matrix(self, seed: int, dim: int = CONTEXT_DIM) -> np.ndarray:
        """``(P, dim)`` the vectors a router with ``seed`` and ``context_dim=dim`` encodes."""
        encoder = ContextEncoder(dim, seed=seed)
        codes = {v: encoder.encode({self.field: v}) for v in set(self.values)}
        return np.stack([codes[v] for v in self.values])


def side_context(table: Table, field: str | None) -> SideContext | None:
    """The side context of ``table`` for ``field`` (None without one, or one dataset).

    Raises:
        ConfigurationError: For an unknown field.
    """
    if check_context(field) is None or len(set(table.datasets)) < 2:
        return None
    return SideContext(str(field), tuple(str(d) for d in table.datasets))
