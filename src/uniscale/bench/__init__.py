"""Replay benchmark: policies compared on recorded LLM outcomes.

Load a table (:func:`load_table`), prepare it (:class:`Context`), and run the policies
over seeds (:func:`run_bench`), a willingness-to-pay sweep (:func:`run_sweep`) or a
dynamic scenario (``run_bench(..., scenario="drift")``). The ``uniscale bench`` and
``uniscale demo`` commands wrap these.
"""

from .env import Expected, ReplayBackend, ReplayEnv
from .metrics import PolicySummary, convex_hull, gap_closed, summarize
from .policies import ALL_POLICIES, HINDSIGHT, LEARNERS, RouterSettings
from .report import BenchResult, fixed_points, run_bench, run_sweep, tradeoff_points
from .runner import Context, SeedRun, Trace, run_seed
from .scenarios import SCENARIOS, Phase, Scenario, build_scenario
from .table import Table, load_table, resolve_table

__all__ = [
    "ALL_POLICIES",
    "HINDSIGHT",
    "LEARNERS",
    "SCENARIOS",
    "BenchResult",
    "Context",
    "Expected",
    "Phase",
    "PolicySummary",
    "ReplayBackend",
    "ReplayEnv",
    "RouterSettings",
    "Scenario",
    "SeedRun",
    "Table",
    "Trace",
    "build_scenario",
    "convex_hull",
    "fixed_points",
    "gap_closed",
    "load_table",
    "resolve_table",
    "run_bench",
    "run_seed",
    "run_sweep",
    "summarize",
    "tradeoff_points",
]
