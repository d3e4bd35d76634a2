"""Tables of ``benchmarks/overhead.py``: timings, decide time against K, memory, targets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGETS_US = {"pair_24_64": 60.0, "decide_96_256": 1000.0, "decide_384_64": 2000.0}
TARGET_MIB = 60.0


@dataclass(frozen=True)
class Row:
    """One printed line."""

    arms: int
    dim: int
    name: str
    decide: float
    feedback: float
    pair: float
    cpu: float
    featurize: float | None
    state_bytes: int


# -- printing -------------------------------------------------------------------------------
def _fmt_bytes(n: int) -> str:
    if n <= 0:
        return "n/a"
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}×" if ours > 0 and math.isfinite(theirs) else "-"


def print_table(rows: list[Row]) -> None:
    """The overhead table, ratios theirs / ours against the shape's 'uniscale' row."""
    header = (f"{'K':>3} {'d':>4}  {'library':<24} {'decide µs':>9} {'feedback µs':>11} "
              f"{'d+f µs':>8} {'d+f cpu µs':>10} {'featurize µs':>12} {'ratio dec':>9} "
              f"{'ratio d+f':>9} {'stats':>10}")
    print(header)
    print("-" * len(header))
    ref: dict[tuple[int, int], Row] = {(r.arms, r.dim): r for r in rows if r.name == "uniscale"}
    for i, row in enumerate(rows):
        if i and (row.arms, row.dim) != (rows[i - 1].arms, rows[i - 1].dim):
            print()
        base = ref.get((row.arms, row.dim), row)
        feat = f"{row.featurize:12.1f}" if row.featurize is not None else f"{'':>12}"
        print(f"{row.arms:>3} {row.dim:>4}  {row.name:<24} {row.decide:9.1f} "
              f"{row.feedback:11.1f} {row.pair:8.1f} {row.cpu:10.1f} {feat} "
              f"{_ratio(row.decide, base.decide):>9} {_ratio(row.pair, base.pair):>9} "
              f"{_fmt_bytes(row.state_bytes):>10}")
    print()


MEMORY_GROUPS = {
    "A_raw": ("_araw",),  # Σ x xᵀ per arm, packed
    "A_inv": ("_w",),  # per-arm inverses, packed
    "moments": ("_mom", "_q", "_v", "_bt", "_nq"),  # compressed cross terms and caches
    "A0_inv": ("_m", "_szz0"),  # shared block
}


def print_memory(memory: list[tuple[int, int, dict[str, int]]]) -> None:
    """Bytes of the default router's policy arrays per shape, and of the whole router."""
    header = (f"{'K':>3} {'d':>4} {'k':>4}  " + " ".join(f"{g:>10}" for g in MEMORY_GROUPS)
              + f" {'other':>10} {'total':>10} {'router':>10}")
    print("Router statistics memory (bytes of the hybrid LinUCB policy arrays, k = shared "
          "width; router = every array the Router holds)")
    print(header)
    print("-" * len(header))
    for arms, dim, sizes in memory:
        groups = [sum(sizes.get(n, 0) for n in names) for names in MEMORY_GROUPS.values()]
        other = sizes["total"] - sum(groups)
        print(f"{arms:>3} {dim:>4} {sizes['k']:>4}  "
              + " ".join(f"{_fmt_bytes(g):>10}" for g in groups)
              + f" {_fmt_bytes(other):>10} {_fmt_bytes(sizes['total']):>10}"
              f" {_fmt_bytes(sizes['router']):>10}")
    print()


def print_linear(dim: int, points: list[tuple[int, float]]) -> float:
    """Decide time against K with a least-squares line; returns the worst relative gap."""
    ks = np.array([k for k, _ in points], dtype=float)
    us = np.array([u for _, u in points])
    slope, offset = np.polyfit(ks, us, 1)
    fit = offset + slope * ks
    gap = float(np.max(np.abs(us - fit) / us))
    print(f"Decide time against K (d = {dim}, default router): fit {offset:.1f} µs + "
          f"{slope:.2f} µs × K")
    print(f"{'K':>5} {'decide µs':>10} {'fit µs':>8} {'µs/arm':>8} {'× vs first K':>13}")
    for k, u, f in zip(ks, us, fit, strict=True):
        print(f"{int(k):>5} {u:10.1f} {f:8.1f} {u / k:8.2f} "
              f"{u / us[0]:6.2f} (K {k / ks[0]:.0f}×)")
    print(f"largest gap to the line: {gap:.0%}")
    print()
    return gap


def print_targets(rows: list[Row], memory: list[tuple[int, int, dict[str, int]]],
                  gap: float | None) -> None:
    """Each target of the fast path with the figure of this run (judged on wall-clock
    medians; the thread-CPU figures, which leave out time other processes took, are
    printed beside them)."""
    by = {(r.arms, r.dim, r.name): r for r in rows}
    checks: list[tuple[str, str, bool | None]] = []
    ours, mab = by.get((24, 64, "uniscale")), by.get((24, 64, "mabwiser LinUCB"))
    prompt = by.get((24, 64, "uniscale prompt"))
    if ours:
        checks.append(("K=24 d=64 decide(features)+feedback ≤ 60 µs",
                       f"{ours.pair:.1f} µs (cpu {ours.cpu:.1f} µs)",
                       ours.pair <= TARGETS_US["pair_24_64"]))
        if mab:
            ratio = mab.pair / ours.pair
            checks.append(("… ≥ 30× faster than MABWiser LinUCB",
                           f"{ratio:.1f}× (cpu {mab.cpu / ours.cpu:.1f}×)", ratio >= 30))
        if prompt:
            checks.append(("decide(prompt)+feedback ≤ 2× that", f"{prompt.pair:.1f} µs "
                           f"({prompt.pair / ours.pair:.2f}×; cpu {prompt.cpu:.1f} µs, "
                           f"{prompt.cpu / ours.cpu:.2f}×)", prompt.pair <= 2 * ours.pair))
    for (k, d), key, limit in (((96, 256), "decide_96_256", "1 ms"),
                               ((384, 64), "decide_384_64", "2 ms")):
        for name in ("uniscale", "uniscale float64"):  # float64: the reference, no target
            row = by.get((k, d, name))
            if row:
                checks.append((f"K={k} d={d} {name} decide ≤ {limit}", f"{row.decide:.0f} µs",
                               row.decide <= TARGETS_US[key] if name == "uniscale" else None))
    for arms, dim, sizes in memory:
        if (arms, dim) == (96, 256):
            mib = sizes["router"] / (1 << 20)
            checks.append(("K=96 d=256 router memory ≤ 60 MiB", f"{mib:.1f} MiB",
                           mib <= TARGET_MIB))
    if gap is not None:
        checks.append(("decide time linear in K (gap to a line ≤ 25%)", f"{gap:.0%}",
                       gap <= 0.25))
    if not checks:
        return
    print("Targets (issue 14), this run:")
    for what, figure, ok in checks:
        mark = "ref   " if ok is None else "met   " if ok else "MISSED"
        print(f"  {mark}  {what:<52} {figure}")
    print()


