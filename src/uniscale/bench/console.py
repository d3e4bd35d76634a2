"""Console output of the benchmark: progress bar and tables (rich when installed)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from .metrics import PolicySummary

__all__ = ["print_adaptation", "print_frontier", "print_summary", "progress_bar", "say"]


def _rich() -> Any:
    try:
        import rich.console
    except ImportError:
        return None
    console = rich.console.Console()
    if not console.is_terminal or console.width < 120:
        console = rich.console.Console(width=150)
    return console


def say(text: str = "") -> None:
    """Print a line."""
    print(text, flush=True)


@contextmanager
def progress_bar(total: int, label: str, *, enabled: bool = True, every: float = 5.0
                 ) -> Iterator[Any]:
    """Progress over ``total`` learner steps; yields ``advance(k)``.

    A rich bar when the error stream is a terminal and rich is installed; otherwise a
    plain line on stderr every ``every`` seconds (logs and CI show that the run moves).
    """
    if not enabled or total <= 0:
        yield lambda k: None
        return
    if sys.stderr.isatty():
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
        except ImportError:
            pass
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), transient=True) as bar:
                task = bar.add_task(label, total=total)
                yield lambda k: bar.advance(task, k)
            return
    started = time.monotonic()
    state = {"done": 0, "last": started}

    def advance(k: int) -> None:
        state["done"] += k
        now = time.monotonic()
        if now - state["last"] >= every or state["done"] >= total:
            state["last"] = now
            done = min(state["done"], total)
            sys.stderr.write(f"{label}: {done}/{total} steps ({100 * done / total:.0f}%), "
                             f"{now - started:.0f}s\n")
            sys.stderr.flush()

    yield advance


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    console = _rich()
    if console is not None:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    say(title)
    say("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                  for i, (h, w) in enumerate(zip(header, widths, strict=True))))
    for row in rows:
        say("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def _usd(value: float) -> str:
    return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.4f}"


LABELS = {"best-fixed": "best-fixed (train)",
          "best-fixed-hindsight": "best-fixed (test hindsight)"}
"""Console labels of policies whose name alone could mislead."""


def _pm(value: float) -> str:
    return "n/a" if math.isnan(value) else f"±{value:.4f}"


def print_summary(title: str, summary: Mapping[str, PolicySummary],
                  gap: Mapping[str, float], gap_trained: Mapping[str, float] | None = None
                  ) -> None:
    """The side-by-side table of policies (test part), intervals and paired differences."""
    header = ["policy (test part)", "quality", "cost $", "reward", "±95%", "Δ uniscale",
              "±95% Δ", "vs uniscale", "gap→oracle", "gap→trained"]
    rows = []
    trained = gap_trained or {}
    for name, s in summary.items():
        g, gt = gap.get(name, float("nan")), trained.get(name, float("nan"))
        paired = s.paired
        rows.append([LABELS.get(name, name), f"{s.test_quality:.3f}", _usd(s.test_cost),
                     f"{s.test_reward:.4f}", _pm(s.ci95.half_width),
                     "" if paired is None else f"{paired.mean:+.4f}",
                     "" if paired is None else _pm(paired.half_width),
                     "" if paired is None else s.verdict().split(" ")[0],
                     "" if g != g else f"{g:+.2f}", "" if gt != gt else f"{gt:+.2f}"])
    _table(title, header, rows)


def print_frontier(title: str, sweep: Mapping[str, Any]) -> None:
    """Each policy's test (cost, quality) per willingness to pay, against the hull."""
    header = ["policy", "W $", "test cost $", "test quality", "Δq vs hull @cost",
              "cost saved @quality"]
    rows = []
    for name, points in sweep["frontier"].items():
        for p in points:
            gain, saving = p["quality_gain"], p["cost_saving"]
            rows.append([name, _usd(p["wtp"]), _usd(p["cost"]), f"{p['quality']:.3f}",
                         "n/a" if gain != gain else f"{gain:+.3f}",
                         "n/a" if saving != saving else f"{100 * saving:+.0f}%"])
    _table(title, header, rows)


def print_adaptation(title: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Requests each learner took to settle after each phase change."""
    header = ["change", "policy", "before", "first window", "steady", "requests to settle"]
    out = []
    for r in rows:
        req = r["requests"]
        out.append([r["phase"], r["policy"], f"{r['before']:.4g}", f"{r['after']:.4g}",
                    f"{r['steady']:.4g}",
                    "n/a" if req is None else f"{req} (±{r['tolerance']:.3g}, w={r['window']})"])
    _table(title, header, out)
