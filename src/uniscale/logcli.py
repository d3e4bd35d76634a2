"""The ``uniscale report`` and ``uniscale evaluate`` commands (decision logs)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .explain import usd

__all__ = ["LOG_COMMANDS", "add_log_commands", "run_log_command"]

LOG_COMMANDS = ("report",)


def add_log_commands(sub: Any) -> None:
    """Add the log commands to the ``uniscale`` parser's subcommands."""
    report = sub.add_parser("report", help="what a decision log says (tables, plot, JSON)")
    report.add_argument("log", type=Path, help="the decision log (Router(log=...))")
    report.add_argument("--plot", type=Path, default=None,
                        help="write spend, quality and arm shares over time here (PNG)")
    report.add_argument("--json", type=Path, default=None, help="write every figure here")
    report.add_argument("--windows", type=int, default=20,
                        help="time windows of the arm shares (default 20)")
    report.add_argument("--top", type=int, default=10, help="arms listed (default 10)")


def run_log_command(args: argparse.Namespace) -> int:
    """Run a log command parsed by :func:`add_log_commands`."""
    return _report(args)


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: float, fmt: str = ".3f") -> str:
    return "n/a" if value != value else format(value, fmt)


def _seconds(value: float) -> str:
    if value != value:
        return "n/a"
    return f"{value:.3g} s" if value < 120 else f"{value / 60:.3g} min"


def _report(args: argparse.Namespace) -> int:
    from .bench.console import _table, say
    from .logread import read_log
    from .logreport import log_timeline, summarize_log

    records = list(read_log(args.log, pending=True))
    s = summarize_log(records)
    if not s.requests:
        say(f"{args.log}: no decisions logged yet")
        return 0
    say(f"{args.log}: {s.requests} decisions from {_when(s.start)} to {_when(s.end)}")
    rows = [
        ["requests", str(s.requests)],
        ["feedback", f"{s.answered} ({100 * s.feedback_rate:.1f}%)"],
        ["feedback delay", f"median {_seconds(s.delay_median)}, p90 {_seconds(s.delay_p90)}"],
        ["spend", f"{usd(s.spend)} ({s.observed} observed, predicted {usd(s.predicted_spend)})"],
        ["mean cost", usd(s.mean_cost)],
        ["mean score", _num(s.mean_score)],
        ["mean reward (score − λ·cost)", _num(s.mean_reward, ".4f")],
        ["λ first / last / mean", f"{s.lam_first:.4g} / {s.lam_last:.4g} / {s.lam_mean:.4g}"],
        ["exploration", ", ".join(s.exploration)
         + f" (mean propensity {s.mean_propensity:.3f})"],
    ]
    _table("summary", ["figure", "value"], rows)
    _table("arm mix", ["arm", "requests", "share", "mean score", "mean cost"],
           [[a.arm, str(a.requests), f"{100 * a.share:.1f}%", _num(a.mean_score),
             usd(a.mean_cost)] for a in s.arms[:args.top]])
    if len(s.arms) > args.top:
        say(f"... and {len(s.arms) - args.top} more arms (--top to list them)")
    _table("models", ["model", "share"],
           [[m, f"{100 * v:.1f}%"] for m, v in s.models.items()])
    timeline = log_timeline(records, windows=args.windows)
    if args.plot is not None:
        from .logplot import plot_log

        plot_log(timeline, s, args.plot, title=args.log.name)
        say(f"wrote {args.plot}")
    if args.json is not None:
        out = {"summary": s.as_dict(), "timeline": {
            "window_end": timeline.window_end.tolist(),
            "shares": {k: v.tolist() for k, v in timeline.shares.items()},
            "spend": timeline.spend.tolist(),
            "lam": timeline.lam.tolist()}}
        args.json.write_text(json.dumps(out, indent=2))
        say(f"wrote {args.json}")
    return 0
