"""Console output of the benchmark: progress bar and tables (rich when installed)."""

from __future__ import annotations

import sys
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
def progress_bar(total: int, label: str, *, enabled: bool = True) -> Iterator[Any]:
    """A progress bar over ``total`` learner steps; yields ``advance(k)``.

    Uses rich when installed and the output is a terminal, else a plain line on stderr.
    """
    if not enabled or total <= 0:
        yield lambda k: None
        return
    try:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:
        Progress = None  # type: ignore[assignment,misc]
    if Progress is not None:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda k: bar.advance(task, k)
        return
    done = [0]

    def advance(k: int) -> None:
        done[0] += k
        sys.stderr.write(f"\r{label}: {done[0]}/{total}")
        sys.stderr.flush()

    yield advance
    sys.stderr.write("\n")


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


def print_summary(title: str, summary: Mapping[str, PolicySummary],
                  gap: Mapping[str, float]) -> None:
    """The side-by-side table of policies."""
    header = ["policy", "quality", "cost $", "reward", "test quality", "test cost $",
              "test reward", "± seeds", "gap closed"]
    rows = []
    for name, s in summary.items():
        g = gap.get(name, float("nan"))
        rows.append([name, f"{s.quality:.3f}", _usd(s.cost), f"{s.reward:.4f}",
                     f"{s.test_quality:.3f}", _usd(s.test_cost), f"{s.test_reward:.4f}",
                     f"{s.reward_std:.4f}", "" if g != g else f"{g:+.2f}"])
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
