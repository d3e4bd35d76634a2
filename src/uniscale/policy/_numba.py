"""Compiled kernels of LinUCB's decide and update (the optional ``uniscale[fast]`` extra).

This module imports ``numba`` and is itself imported only by
:func:`uniscale.policy.kernels.compiled`, the first time a policy needs it. Every kernel
does exactly what the numpy code of :class:`~uniscale.policy.LinUCB` does, in one call
instead of a dozen small numpy calls: that path stays the reference, and the tests run
both. Arrays are the policy's own (see :mod:`uniscale.policy.linucb` for the layout);
the per-arm inverses may be float32, everything else is float64.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

__all__ = ["bonus_rank", "decide", "estimate", "rank", "update"]

# sums may be reassociated (vectorised); NaN and infinity keep their IEEE meaning
_jit = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})
_exact = numba.njit(cache=True, nogil=True)


@_exact
def _quadratic_weights(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """``out`` with ``packed(M) · out == xᵀMx`` (off-diagonal products counted twice)."""
    d = x.shape[0]
    start = 0
    for i in range(d):
        xi = x[i]
        twice = 2.0 * xi
        seg = out[start:start + d - i]
        seg[0] = xi * xi
        for j in range(1, d - i):  # one segment per row: it vectorises
            seg[j] = twice * x[i + j]
        start += d - i


@_jit
def _dot(a: Any, b: Any) -> float:  # pragma: no cover - compiled
    """``a · b`` in the dtype of ``a`` (reassociated: vectorised; ``a`` is not empty)."""
    acc = a[0] * b[0]
    for j in range(1, a.shape[0]):
        acc += a[j] * b[j]
    return acc


@_exact
def _shared_context(P: Any, x: Any, root: float, out: Any) -> None:  # pragma: no cover
    """``out = [root, P x]``."""
    out[0] = root
    for i in range(P.shape[0]):
        out[i + 1] = _dot(P[i], x)


@_exact
def estimate(x: Any, w: Any, q: Any, bt: Any, nq: Any, P: Any, slots: Any, inv_sigma: float,
             mean: Any, width: Any) -> None:  # pragma: no cover
    """Fill ``mean`` and ``width`` of the arms in ``slots`` for context ``x``.

    Args:
        x: Context, float64 ``(d,)``.
        w: Packed inverses ``(K, d(d+1)/2)``.
        q: ``[C_aᵀ; θ̂_aᵀ]`` per arm, ``(K, s+1, d)``.
        bt: ``β̃_a``, ``(K, s)``.
        nq: ``N_a``, ``(K, s, s)``.
        P: Projection of the shared context, ``(s-1, d)``.
        slots: Arms to score, ``(n,)``.
        inv_sigma: ``1/σ`` of the lazy forgetting.
        mean: Output, ``(n,)``.
        width: Output, ``(n,)``.
    """
    s = bt.shape[1]
    weights = np.empty(w.shape[1], dtype=w.dtype)
    _quadratic_weights(x, weights)
    xs = np.empty(s)
    if s:
        _shared_context(P, x, 1.0, xs)
    y = np.empty(s + 1)
    r = np.empty(s)
    for t in range(slots.shape[0]):
        a = slots[t]
        var = float(_dot(w[a], weights))
        for i in range(s + 1):
            y[i] = _dot(q[a, i], x)
        m = y[s]
        for i in range(s):
            r[i] = xs[i] - y[i]
            m += r[i] * bt[a, i]
        for i in range(s):
            acc = 0.0
            for j in range(s):
                acc += nq[a, i, j] * r[j]
            var += r[i] * acc
        var *= inv_sigma
        mean[t] = m
        width[t] = math.sqrt(var) if var > 0.0 else 0.0


@_jit
def update(slot: int, x: Any, reward: float, root: float, w: Any, araw: Any, q: Any,
           v: Any, mom: Any, P: Any, m: Any, b0: Any, beta: Any, bt: Any, nq: Any,
           cols: Any, vals: Any, nz_cols: Any, nz_vals: Any) -> None:  # pragma: no cover
    """Rank-one update of arm ``slot`` with ``(x, reward)`` (stored units: weight ``root²``).

    Mirrors ``LinUCB._update`` (without the lazy-forgetting bookkeeping, done by the
    caller) and ``LinUCB._shared_update``; ``Σ x xᵀ`` is added at once (no queue).
    ``cols``/``vals`` are the arm's non-zero descriptor entries, ``nz_cols``/``nz_vals``
    every arm's (zero-padded).
    """
    d, s = x.shape[0], bt.shape[1]
    K = w.shape[0]
    xt = x * root
    rt = reward * root
    row = w[slot]
    # u = A⁻¹x from the packed triangle: row i of the triangle holds A[i, i:]; each loop
    # reads or writes one array segment (so it vectorises)
    u = np.zeros(d)
    start = 0
    for i in range(d):
        xi = xt[i]
        seg = row[start:start + d - i]
        tail = xt[i:]
        ui = 0.0
        for j in range(d - i):
            ui += seg[j] * tail[j]
        below = u[i:]
        for j in range(1, d - i):
            below[j] += seg[j] * xi
        u[i] += ui
        start += d - i
    c = 1.0
    for i in range(d):
        c += xt[i] * u[i]
    uc = u / c
    ar = araw[slot]
    start = 0
    for i in range(d):
        ui, xi = u[i], xt[i]
        seg = row[start:start + d - i]
        for j in range(d - i):
            seg[j] -= ui * uc[i + j]
        sums = ar[start:start + d - i]
        for j in range(d - i):
            sums[j] += xi * xt[i + j]
        start += d - i
    y = np.empty(s + 1)
    for i in range(s + 1):
        y[i] = _dot(q[slot, i], xt)
    e = (rt - y[s]) / c
    for j in range(d):
        q[slot, s, j] += u[j] * e
    mo = mom[slot]
    if s == 0:
        for j in range(d):
            mo[0, j] += rt * xt[j]
            mo[1, j] += root * xt[j]
        mo[0, d] += rt * root
        mo[1, d] += root * root
        return
    xs = np.empty(s)
    _shared_context(P, xt, root, xs)
    r = np.empty(s)
    dv = np.empty(s)
    b0b = np.empty(s)
    for i in range(s):
        r[i] = xs[i] - y[i]
        for j in range(d):
            q[slot, i, j] += r[i] * uc[j]
        dv[i] = e * y[i] + xs[i] * (y[s] + (c - 1.0) * e)
        v[slot, i] += dv[i]
        b0b[i] = rt * xs[i] - dv[i]
    # moments: Σ [x_s, r, 1] ⊗ [x, x_s, 1]
    for i in range(s + 2):
        left = xs[i] if i < s else (rt if i == s else root)
        for j in range(d):
            mo[i, j] += left * xt[j]
        for j in range(s):
            mo[i, d + j] += left * xs[j]
        mo[i, d + s] += left * root
    # shared block: A₀ += c w wᵀ for w = desc ⊗ (r / c)
    wb = r / c
    k = m.shape[0]
    nblocks = cols.shape[0]
    dtm = np.zeros((s, k))
    for p in range(nblocks):
        base = cols[p] * s
        value = vals[p]
        for i in range(s):
            out, mrow = dtm[i], m[base + i]
            for j in range(k):
                out[j] += value * mrow[j]
    t = np.zeros(k)
    step = np.zeros(k)
    for i in range(s):
        for j in range(k):
            t[j] += wb[i] * dtm[i, j]
            step[j] += b0b[i] * dtm[i, j]
    nw = np.zeros(s)
    for i in range(s):
        for j in range(s):
            nw[i] += nq[slot, i, j] * wb[j]
    quad = 0.0
    dot_bt = 0.0
    dot_b0 = 0.0
    for i in range(s):
        quad += wb[i] * nw[i]
        dot_bt += wb[i] * bt[slot, i]
        dot_b0 += nw[i] * b0b[i]
    gain = c / (1.0 + c * quad)
    shift = -gain * (dot_bt + dot_b0)
    for i in range(k):
        gi = gain * t[i]
        mrow = m[i]
        for j in range(k):
            mrow[j] -= gi * t[j]
    for p in range(nblocks):
        base = cols[p] * s
        for i in range(s):
            b0[base + i] += vals[p] * b0b[i]
    for j in range(k):
        beta[j] += step[j] + shift * t[j]
    tb = np.zeros(s)
    for a in range(K):
        for i in range(s):
            acc = 0.0
            acc_beta = 0.0
            for p in range(nz_cols.shape[1]):
                base = nz_cols[a, p] * s + i
                acc += nz_vals[a, p] * t[base]
                acc_beta += nz_vals[a, p] * beta[base]
            tb[i] = acc
            bt[a, i] = acc_beta
        for i in range(s):
            gi = gain * tb[i]
            for j in range(s):
                nq[a, i, j] -= gi * tb[j]


@_exact
def rank(mean: Any, width: Any, costs: Any, alpha: float, lam: float, prune: bool, ucb: Any,
         raw: Any, keep: Any, score: Any) -> tuple[int, int, int, bool]:  # pragma: no cover
    """Bounds, pruning and scores of one decision (see :func:`uniscale.policy.kernels.rank`).

    Returns:
        ``(first best arm, arms tied with it, arms pruned, all scores finite)``.
    """
    n = mean.shape[0]
    finite = True
    for a in range(n):
        ucb[a] = mean[a] + alpha * width[a]
        raw[a] = ucb[a] - lam * costs[a]
        keep[a] = True
        if not math.isfinite(raw[a]):
            finite = False
    pruned = 0
    if prune and n > 1:
        order = np.argsort(costs, kind="mergesort")
        best = mean[order[0]] - alpha * width[order[0]]
        for j in range(1, n):
            a = order[j]
            if not ucb[a] >= best:
                keep[a] = False
                pruned += 1
            lower = mean[a] - alpha * width[a]
            if lower > best:
                best = lower
    top = -np.inf
    for a in range(n):
        score[a] = raw[a] if keep[a] else -np.inf
        if score[a] > top:
            top = score[a]
    first, ties = -1, 0
    for a in range(n):
        if score[a] >= top - 1e-12:
            ties += 1
            if first < 0:
                first = a
    return first, ties, pruned, finite


@_exact
def bonus_rank(width: Any, mom: Any, slots: Any, sigma: float, decay: float, mean: Any,
               costs: Any, alpha: float, lam: float, prune: bool, bonus: Any, ucb: Any,
               raw: Any, keep: Any, score: Any) -> tuple[int, int, int, bool]:  # pragma: no cover
    """The exploration bonus (``width / sqrt(1 + n_a / decay)``, ``n_a`` the arm's
    discounted feedbacks read from the moments; ``decay = 0``: the width itself), then
    :func:`rank` on it."""
    if decay > 0.0:
        s = mom.shape[1] - 2
        c = mom.shape[2] - 1
        for t in range(slots.shape[0]):
            n = mom[slots[t], s + 1, c] * sigma
            bonus[t] = width[t] / math.sqrt(1.0 + n / decay)
    else:
        for t in range(slots.shape[0]):
            bonus[t] = width[t]
    return rank(mean, bonus, costs, alpha, lam, prune, ucb, raw, keep, score)


@_exact
def decide(x: Any, w: Any, q: Any, bt: Any, nq: Any, P: Any, slots: Any, inv_sigma: float,
           mom: Any, sigma: float, decay: float, costs: Any, alpha: float, lam: float,
           prune: bool, out: Any, keep: Any) -> tuple[int, int, int, bool]:  # pragma: no cover
    """:func:`estimate`, then :func:`bonus_rank`, in one call: ``out`` rows are the mean,
    width, bonus, upper bound, raw score and score of the arms in ``slots``."""
    estimate(x, w, q, bt, nq, P, slots, inv_sigma, out[0], out[1])
    return bonus_rank(out[1], mom, slots, sigma, decay, out[0], costs, alpha, lam, prune,
                      out[2], out[3], out[4], keep, out[5])
