"""Plots: quality–cost frontiers and scenario timelines (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..plotting import pyplot

__all__ = ["plot_frontiers", "plot_timeline"]

_STYLE = {
    "uniscale": ("tab:red", "o", "-"),
    "routing-only": ("tab:blue", "s", "--"),
    "tts-only": ("tab:green", "^", "--"),
    "best-fixed": ("black", "D", ":"),
    "trained-router": ("tab:brown", "P", "-."),
    "paretobandit": ("tab:olive", "v", "-."),
    "mabwiser-linucb": ("tab:cyan", "h", "-."),
    "random": ("tab:gray", "x", ":"),
    "oracle": ("tab:purple", "*", ":"),
}


def _frontier(ax: Any, sweep: Mapping[str, Any], title: str) -> None:
    fixed = sweep["fixed_arms"]
    costs = np.array([p["cost"] for p in fixed])
    quals = np.array([p["quality"] for p in fixed])
    ax.scatter(costs, quals, s=14, color="0.65", label="fixed arms", zorder=2)
    hull = np.array(sweep["hull"])
    ax.plot(hull[:, 0], hull[:, 1], color="0.35", lw=1.2, label="fixed arms' hull", zorder=2)
    frontier = sweep["frontier"]
    same = [n for n in ("routing-only", "tts-only") if "uniscale" in frontier
            and n in frontier and frontier[n] and frontier[n] == frontier["uniscale"]]
    names = sorted(frontier, key=lambda n: n == "uniscale")  # uniscale drawn last, on top
    for name in names:
        points = frontier[name]
        if name in ("random", "best-fixed") or not points:
            continue
        color, marker, line = _STYLE.get(name, ("tab:orange", "o", "-"))
        label = (f"uniscale (= {' = '.join(same)} here)" if name == "uniscale" and same
                 else name)
        pts = sorted(points, key=lambda p: p["cost"])
        ax.plot([p["cost"] for p in pts], [p["quality"] for p in pts], color=color,
                marker=marker, ls=line, lw=2.2 if name == "uniscale" else 1.4,
                ms=6 if name == "uniscale" else 4, label=label,
                zorder=4 if name == "uniscale" else 3)
    ax.set_xscale("log")
    ax.set_xlabel("mean cost per request (USD, test part)")
    ax.set_ylabel("mean quality (test part)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)


def _budget_panel(ax: Any, budget: Mapping[str, Any]) -> None:
    """Running mean cost per request of each policy against the budget's target line."""
    for name, values in budget["series"].items():
        values = np.asarray(values, dtype=float)
        running = np.cumsum(values) / np.arange(1, len(values) + 1)
        color, _, line = _STYLE.get(name, ("tab:orange", "o", "-"))
        ax.plot(np.arange(1, len(values) + 1), running, color=color, ls=line,
                lw=2.2 if name == "uniscale" else 1.4, label=name)
    ax.axhline(budget["target"], color="black", lw=1.2, ls="--",
               label=f"target {budget['target']:.3g} USD")
    ax.set_yscale("log")
    ax.set_xlabel("request (test part)")
    ax.set_ylabel("running mean cost per request (USD)")
    ax.set_title(budget.get("title", "Budget"), fontsize=10)
    ax.grid(True, which="both", alpha=0.25)


def plot_frontiers(sweeps: Sequence[tuple[str, Mapping[str, Any]]], path: str | Path, *,
                   budget: Mapping[str, Any] | None = None) -> Path:
    """Draw one frontier panel per table (policies across W vs the fixed arms) and,
    optionally, a ``Budget`` panel (running mean cost against the target line).

    Args:
        sweeps: ``(title, sweep)`` pairs; each sweep as returned by
            :func:`uniscale.bench.report.run_sweep` (every W of it is drawn).
        path: Image file to write.
        budget: ``{"title", "target", "series": {policy: per-request cost}}``.

    Returns:
        The path written.
    """
    plt = pyplot()
    n = len(sweeps) + (budget is not None)
    fig, axes = plt.subplots(1, n, figsize=(5.4 * n, 4.5), squeeze=False)
    for ax, (title, sweep) in zip(axes[0], sweeps, strict=False):
        _frontier(ax, sweep, title)
        ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    if budget is not None:
        ax = axes[0][-1]
        _budget_panel(ax, budget)
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_timeline(series: Mapping[str, np.ndarray], starts: Sequence[int],
                  labels: Sequence[str], path: str | Path, *, ylabel: str,
                  window: int = 50, title: str = "") -> Path:
    """Rolling mean of a per-request series per policy, with the phase changes marked.

    Args:
        series: Per-request values per policy (averaged over seeds).
        starts: First request of each phase.
        labels: Label of each phase.
        path: Image file to write.
        ylabel: What the series is.
        window: Rolling window.
        title: Figure title.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        w = max(1, min(window, len(values) // 4))
        rolling = np.convolve(values, np.ones(w) / w, mode="valid")
        color, _, line = _STYLE.get(name, ("tab:orange", "o", "-"))
        ax.plot(np.arange(w - 1, len(values)), rolling, color=color, ls=line, label=name)
    top = ax.get_ylim()[1]
    for start, label in zip(starts, labels, strict=True):
        ax.axvline(start, color="0.5", lw=0.8)
        ax.text(start, top, f" {label}", fontsize=7, va="top", rotation=90)
    ax.set_xlabel("request")
    ax.set_ylabel(f"{ylabel} (rolling mean of {window})")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.25)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
