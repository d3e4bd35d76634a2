"""The ``uniscale report`` and ``uniscale evaluate`` commands (decision logs)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .explain import usd

__all__ = ["LOG_COMMANDS", "add_log_commands", "run_log_command"]

LOG_COMMANDS = ("report", "evaluate")


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

    ev = sub.add_parser("evaluate", help="off-policy estimate of another configuration's "
                        "reward on a decision log (IPS, SNIPS, doubly robust)")
    ev.add_argument("log", type=Path, help="the decision log (Router(log=...))")
    ev.add_argument("--alpha", type=float, default=None,
                    help="exploration width of the target (default: the logged one)")
    ev.add_argument("--wtp", type=float, default=None,
                    help="willingness to pay of the target, USD per unit of quality "
                    "(default: the logged λ); the reward is score − cost / W")
    ev.add_argument("--temperature", type=float, default=None,
                    help="softmax temperature of the target (default: greedy)")
    ev.add_argument("--state", type=Path, default=None,
                    help="evaluate a saved router (Router.save) instead of --alpha; the "
                    "log must carry features (log_features=True)")
    ev.add_argument("--json", type=Path, default=None, help="write the estimates here")


def run_log_command(args: argparse.Namespace) -> int:
    """Run a log command parsed by :func:`add_log_commands`."""
    return _report(args) if args.command == "report" else _evaluate(args)


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


def _evaluate(args: argparse.Namespace) -> int:
    from .bench.console import _table, say
    from .logread import read_log
    from .ope import RouterTarget, TargetPolicy, evaluate

    target: Any
    if args.state is not None:
        from .router import Router

        target = RouterTarget(Router.load(str(args.state)), temperature=args.temperature)
        what = f"router {args.state}"
    else:
        target = TargetPolicy(alpha=args.alpha, willingness_to_pay=args.wtp,
                              temperature=args.temperature)
        what = (f"alpha {'as logged' if args.alpha is None else args.alpha}, "
                f"W {'as logged' if args.wtp is None else args.wtp}, "
                + ("greedy" if args.temperature is None else f"softmax T={args.temperature}"))
    rep = evaluate(read_log(args.log), target, willingness_to_pay=args.wtp)
    say(f"{args.log}: {rep.decisions} decisions with feedback; target: {what}")
    rows = [[name + (" (biased)" if e.biased else ""), f"{e.value:.4f}",
             f"[{e.low:.4f}, {e.high:.4f}]"] for name, e in rep.estimates.items()]
    rows.append(["logging policy (observed)", f"{rep.logged:.4f}", ""])
    _table("estimated mean reward per request", ["estimator", "value", "95% interval"], rows)
    say(f"effective sample size {rep.effective_size:.0f}, target agrees with the served arm "
        f"on {100 * rep.agreement:.0f}% of decisions; read {rep.recommended.upper()} first")
    say(rep.note)
    if args.json is not None:
        args.json.write_text(json.dumps(rep.as_dict(), indent=2))
        say(f"wrote {args.json}")
    return 0
