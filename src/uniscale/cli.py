"""The ``uniscale`` command: ``uniscale bench TABLE ...`` and ``uniscale demo``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uniscale", description="UniScale: replay benchmark and offline demo.")
    parser.add_argument("--version", action="version", version=f"uniscale {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="replay a recorded-outcome table through the policies")
    bench.add_argument("table", help="a .jsonl.gz table, or a bare name (date_mot, ...)")
    goal = bench.add_mutually_exclusive_group()
    goal.add_argument("--wtp", type=float, help="willingness to pay, USD per unit of quality "
                      "(default: a value where the fixed arms' trade-off is real)")
    goal.add_argument("--budget", type=float, help="mean USD per request to track")
    bench.add_argument("--seeds", type=int, default=None,
                       help="number of seeds (default: as many as it takes for a 95%% "
                       "interval of ± --ci on uniscale's test reward, at least 5, at most "
                       "--max-seeds; --sweep then runs 5 per W)")
    bench.add_argument("--ci", type=float, default=0.01,
                       help="target half width of that interval (default 0.01)")
    bench.add_argument("--max-seeds", type=int, default=64,
                       help="cap on the seeds added for --ci (default 64)")
    bench.add_argument("--seed-base", type=int, default=0, help="first seed (default 0)")
    bench.add_argument("--policies", default=None,
                       help="comma-separated policies (default: all of them)")
    bench.add_argument("--warm-start", action="store_true",
                       help="learn the train split run through every arm first (an eval "
                       "set), then run online on the test part")
    bench.add_argument("--context", default=None, metavar="FIELD",
                       help="'task': pass each prompt's dataset as context={'task': ...} "
                       "to the learners, and the same encoded side features to the "
                       "trained router and the peers (a no-op on a one-dataset table)")
    bench.add_argument("--sweep", action="store_true",
                       help="run a range of willingness-to-pay values (the frontier)")
    bench.add_argument("--sweep-wtp", type=_floats, default=None,
                       help="comma-separated W values for --sweep (default: from the table)")
    bench.add_argument("--scenario", default=None,
                       help="budget-shift, price-change, model-added or drift")
    bench.add_argument("--json", type=Path, default=None, help="write every figure here")
    bench.add_argument("--plot", type=Path, default=None, help="write the figure here (PNG)")
    bench.add_argument("--data-dir", type=Path, default=None,
                       help="folder searched first for a bare table name")
    bench.add_argument("--aggregate", choices=("vote", "best"), default=None,
                       help="how n samples combine: majority vote, or best score (an exact "
                       "checker or verifier); default: what the table declares, else vote")
    bench.add_argument("--n-grid", type=_ints, default=None,
                       help="candidate sample counts, e.g. 1,3,5,10,20,40")
    bench.add_argument("--alpha", type=float, default=None, help="LinUCB exploration width")
    bench.add_argument("--ridge", type=float, default=None, help="LinUCB ridge prior")
    bench.add_argument("--arm-ridge", type=float, default=None,
                       help="prior precision of each arm's own part (default: --ridge)")
    bench.add_argument("--dim", type=int, default=None, help="hashing featurizer width")
    bench.add_argument("--tune", action="store_true",
                       help="pick each learner's alpha/hybrid on a train-split-only stream")
    bench.add_argument("--limit", type=int, default=None,
                       help="use only this many prompts (a deterministic subset)")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.add_argument("--feedback-delay", type=int, default=None, metavar="K",
                       help="scores reach the online learners K requests late")
    bench.add_argument("--feedback-rate", type=float, default=None, metavar="R",
                       help="share of requests scored at all, in (0, 1]")
    bench.add_argument("--label-noise", type=float, default=None, metavar="P",
                       help="probability that a score arrives flipped (1 - score)")
    bench.add_argument("--implicit-reward", default=None, metavar="KIND",
                       help="'agreement': the vote share stands in for a missing score")

    demo = sub.add_parser("demo", help="offline demo on the tables shipped in the package")
    demo.add_argument("--out", type=Path, default=Path("uniscale-demo.png"),
                      help="frontier plot to write (default ./uniscale-demo.png)")
    demo.add_argument("--json", type=Path, default=None, help="write every figure here")
    demo.add_argument("--seeds", type=int, default=3,
                      help="seed scale: 3 runs each table's default number of seeds")
    demo.add_argument("--small", action="store_true", help="a quick, smaller run")
    demo.add_argument("--limit", type=int, default=None,
                      help="use only this many prompts per table")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    from .bench.tunecmd import add_tune_command
    from .logcli import add_log_commands

    add_tune_command(sub)
    add_log_commands(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("uniscale")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        from . import __version__

        return str(__version__)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``uniscale`` command.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    from .errors import UniScaleError
    from .logcli import LOG_COMMANDS, run_log_command

    args = _parser().parse_args(argv)
    try:
        with _one_blas_thread():
            if args.command == "bench":
                from .bench.command import bench_command

                return bench_command(args)
            if args.command == "tune":
                from .bench.tunecmd import tune_command

                return tune_command(args)
            if args.command in LOG_COMMANDS:
                return run_log_command(args)
            from .bench.demo import demo_command

            return demo_command(args)
    except (UniScaleError, FileNotFoundError, ImportError) as exc:  # ImportError: an extra
        print(f"uniscale: error: {exc}", file=sys.stderr)
        return 2


def _one_blas_thread() -> Any:
    """Small matrix work runs faster on one BLAS thread (and shares the machine better)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the bench extra
        return contextlib.nullcontext()
    return threadpool_limits(1)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
