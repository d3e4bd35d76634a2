"""Replay benchmark: policies compared on recorded LLM outcomes.

Load a table (:func:`load_table`), prepare it (:class:`Context`), and run the policies
over seeds (:func:`run_bench`), a willingness-to-pay sweep (:func:`run_sweep`) or a
dynamic scenario (``run_bench(..., scenario="drift")``). The ``uniscale bench`` and
``uniscale demo`` commands wrap these.
"""

from .env import Expected, ReplayBackend, ReplayEnv
from .evalset import EvalSet, run_eval_set
from .hindsight import HINDSIGHT_TEST, Trace
from .metrics import PolicySummary, convex_hull, gap_closed, summarize
from .policies import ALL_POLICIES, HINDSIGHT, LEARNERS, PEERS, RouterSettings, policy_mask
from .report import BenchResult, fixed_points, run_bench, run_sweep, tradeoff_points
from .runner import Context, SeedRun, run_seed
from .scenarios import SCENARIOS, Phase, Scenario, build_scenario
from .stats import Interval, mean_interval, paired_difference
from .table import Table, TableError, load_table, resolve_table
from .trained import TrainedRouter, fit_trained_router

__all__ = [
    "ALL_POLICIES",
    "HINDSIGHT",
    "HINDSIGHT_TEST",
    "LEARNERS",
    "PEERS",
    "SCENARIOS",
    "BenchResult",
    "Context",
    "EvalSet",
    "Expected",
    "Interval",
    "Phase",
    "PolicySummary",
    "ReplayBackend",
    "ReplayEnv",
    "RouterSettings",
    "Scenario",
    "SeedRun",
    "Table",
    "TableError",
    "Trace",
    "TrainedRouter",
    "build_scenario",
    "convex_hull",
    "fit_trained_router",
    "fixed_points",
    "gap_closed",
    "load_table",
    "mean_interval",
    "paired_difference",
    "policy_mask",
    "resolve_table",
    "run_bench",
    "run_eval_set",
    "run_seed",
    "run_sweep",
    "summarize",
    "tradeoff_points",
]
