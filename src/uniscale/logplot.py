"""The plot of ``uniscale report --plot``: spend and quality, arm shares, λ over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .logreport import LogSummary, Timeline
from .plotting import pyplot

__all__ = ["plot_log"]


def plot_log(timeline: Timeline, summary: LogSummary, path: str | Path, *,
             title: str = "decision log") -> None:
    """Draw three panels over the request count and write a PNG.

    Top: cumulative spend (left axis) and running mean quality (right axis). Middle:
    share of each arm per window (stacked). Bottom: λ of each decision.
    """
    plt = pyplot()
    n = len(timeline.spend)
    steps = np.arange(1, n + 1)
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(9, 9), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 3, 1.4]})
    top.plot(steps, timeline.spend, color="tab:red", lw=1.8, label="cumulative spend")
    top.set_ylabel("cumulative spend (USD)", color="tab:red")
    top.tick_params(axis="y", labelcolor="tab:red")
    qual = top.twinx()
    qual.plot(steps, timeline.quality, color="tab:blue", lw=1.8, label="mean quality so far")
    qual.set_ylabel("mean quality so far", color="tab:blue")
    qual.tick_params(axis="y", labelcolor="tab:blue")
    qual.set_ylim(0, 1.02)
    top.set_title(f"{title}: {summary.requests} requests, {summary.spend:.4g} USD, "
                  f"mean quality {summary.mean_score:.3f}, "
                  f"feedback {100 * summary.feedback_rate:.0f}%")
    top.grid(alpha=0.3)
    ends = timeline.window_end
    starts = np.concatenate([[0], ends[:-1]])
    centers = (starts + ends) / 2
    widths = np.maximum(ends - starts, 1)
    bottom = np.zeros(len(ends))
    colors = plt.get_cmap("tab10").colors
    for i, (arm, share) in enumerate(timeline.shares.items()):
        color = "0.75" if arm == "other" else colors[i % len(colors)]
        mid.bar(centers, share, width=widths, bottom=bottom, color=color, label=arm,
                edgecolor="white", linewidth=0.4)
        bottom = bottom + share
    mid.set_ylim(0, 1)
    mid.set_ylabel("arm share per window")
    mid.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    low.plot(steps, timeline.lam, color="0.2", lw=1.2)
    low.set_ylabel("λ (quality per USD)")
    low.set_xlabel("request")
    low.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
