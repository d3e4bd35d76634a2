"""Output tokens per sample as a function of the request: a ridge model in log space.

A code prompt may cost six times a trivia prompt on the same arm; a running mean cannot
know that. For each (model, strategy) this model fits ``log tokens ≈ wᵀ[x, 1]`` by ridge
regression on the request's context vector ``x``, shrunk towards the prior (``w = 0`` for
the context, ``log prior_tokens`` for the bias, with the weight of ``prior_weight``
samples), and corrects the exp-of-a-log-mean bias by the log-normal factor
``exp(σ²/2)``, with ``σ²`` the mean squared residual of the current fit. The inverse is
kept by Sherman–Morrison updates, so one observation costs ``O(d²)``; predicting for
every arm is one matrix–vector product.

With ``log_space=False`` the same ridge fits the value itself (``v ≈ wᵀ[x, 1]``, no
bias correction), for an additive count that may be 0 or negative: the
:class:`~uniscale.cost.CostModel` learns with it the input tokens a call bills beyond
the request's estimate (a prompt template that depends on the task).

Whether the context helps is measured, not assumed: every observation is first predicted
(prequentially) by the regression and by the context-free mean of the same key, and a key
answers only while its regression's squared log error is the smaller; otherwise
:meth:`OutputTokenModel.predict` returns NaN and the caller uses its running mean.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["OutputTokenModel"]

_MAX_VALUE = 1e7  # no sample bills more than ten million tokens
_MAX_LOG = math.log(_MAX_VALUE)


class OutputTokenModel:
    """Context-aware expected output tokens per sample, one regression per key.

    The same model learns any positive count per request in log space (the
    :class:`~uniscale.samplecount.SampleCountModel` uses it for the samples an
    early-stopping arm draws); each key may start from a prior of its own.

    Args:
        prior_tokens: Value (output tokens per sample) assumed before any is observed.
        prior_weight: Pseudo-count of that prior (ridge precision of the bias).
        ridge: Ridge precision of the context weights.
        prefix: Prefix of the saved array names (two models saved side by side differ).
        log_space: Fit ``log value`` (a positive count, at least 1) or, with False, the
            value itself (any finite number).
    """

    def __init__(self, prior_tokens: float, *, prior_weight: float = 2.0,
                 ridge: float = 1.0, prefix: str = "tok", log_space: bool = True) -> None:
        self.log_space = bool(log_space)
        self.prior_tokens = float(prior_tokens)
        self.prior_weight = float(prior_weight)
        self.ridge = float(ridge)
        self.prefix = prefix
        self.dim: int | None = None
        self._clear()

    def _clear(self) -> None:
        """Forget every key (the dimension is kept)."""
        self._keys: dict[str, int] = {}
        self._index: dict[tuple[str, ...], np.ndarray] = {}  # slots of a key list
        self._start = np.zeros(0)          # log of each key's prior value
        self._A = np.zeros((0, 0, 0))      # sums Σ x̃x̃ᵀ per key (x̃ = [x, 1])
        self._b = np.zeros((0, 0))         # sums Σ x̃ log t
        self._inv = np.zeros((0, 0, 0))    # (prior + A)⁻¹
        self._w = np.zeros((0, 0))         # fitted weights
        self._smear = np.zeros(0)          # Σ weight · (log t)²
        self._n = np.zeros(0)              # observations
        self._factor = np.zeros(0)         # exp(σ²/2)
        self._err = np.zeros((0, 2))       # prequential Σ squared log error: context, mean

    def _encode(self, value: float) -> float:
        """The fitted target of ``value`` (its log, at least log 1, in log space)."""
        return math.log(max(value, 1.0)) if self.log_space else float(value)

    # -- shape ---------------------------------------------------------------------
    def _prior(self, dim: int, slot: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        precision = np.full(dim + 1, self.ridge)
        precision[-1] = self.prior_weight
        mean = np.zeros(dim + 1)
        mean[-1] = (self._encode(self.prior_tokens) if slot is None
                    else float(self._start[slot]))
        return precision, mean

    def _slot(self, key: str, dim: int, prior: float | None = None) -> int:
        if self.dim is None:
            self.dim = dim
        if dim != self.dim:
            raise ValueError(f"context has {dim} features, the token model {self.dim}")
        slot = self._keys.get(key)
        if slot is not None:
            return slot
        start = self._encode(self.prior_tokens if prior is None else prior)
        self._keys[key] = slot = len(self._keys)
        self._index.clear()
        self._start = np.append(self._start, start)
        precision, mean = self._prior(dim, slot)
        self._A = np.concatenate([self._A.reshape(slot, dim + 1, dim + 1),
                                  np.zeros((1, dim + 1, dim + 1))])
        self._b = np.vstack([self._b.reshape(slot, dim + 1), np.zeros((1, dim + 1))])
        self._inv = np.concatenate([self._inv.reshape(slot, dim + 1, dim + 1),
                                    np.diag(1.0 / precision)[None]])
        self._w = np.vstack([self._w.reshape(slot, dim + 1), mean[None]])
        self._smear = np.append(self._smear, 0.0)
        self._n = np.append(self._n, 0.0)
        self._factor = np.append(self._factor, 1.0)
        self._err = np.vstack([self._err.reshape(slot, 2), np.zeros((1, 2))])
        return slot

    # -- learning --------------------------------------------------------------------
    def observe(self, key: str, x: np.ndarray, tokens_per_sample: float,
                weight: float = 1.0, prior: float | None = None) -> None:
        """Learn that one request with context ``x`` billed ``tokens_per_sample``.

        Args:
            key: The regression's key.
            x: The request's context vector.
            tokens_per_sample: The observed value (at least 1 counts).
            weight: Weight of the observation.
            prior: Prior value of a key seen for the first time (default
                ``prior_tokens``).
        """
        if not (math.isfinite(tokens_per_sample) and weight > 0):
            return
        slot = self._slot(key, len(x), prior)
        xt = np.append(x, 1.0)
        y = self._encode(tokens_per_sample)
        _, prior_mean = self._prior(len(x), slot)
        flat = (float(self._b[slot, -1]) + self.prior_weight * prior_mean[-1]) \
            / (float(self._A[slot, -1, -1]) + self.prior_weight)
        self._err[slot] += weight * np.array([(y - float(self._w[slot] @ xt)) ** 2,
                                              (y - flat) ** 2])
        self._smear[slot] += weight * y * y
        self._n[slot] += weight
        scaled = math.sqrt(weight) * xt
        u = self._inv[slot] @ scaled
        self._inv[slot] -= np.outer(u, u) / (1.0 + float(scaled @ u))
        self._A[slot] += np.outer(scaled, scaled)
        self._b[slot] += weight * y * xt
        self._refit(slot)

    def observe_batch(self, keys: list[str], X: np.ndarray, tokens_per_sample: np.ndarray,
                      weights: np.ndarray | None = None) -> None:
        """:meth:`observe` for many requests at once (a warm start), in time order.

        The sums are added in blocks of doubling size per key, and each block is first
        predicted by the fit of the blocks before it, so the prequential comparison with
        the mean stays honest; one inversion per block instead of a rank-one update per
        request.
        """
        X = np.asarray(X, dtype=float)
        y_all = np.asarray(tokens_per_sample, dtype=float)
        w_all = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=float)
        ok = np.isfinite(y_all) & (w_all > 0)
        order: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if ok[i]:
                order.setdefault(key, []).append(i)
        for key, rows in order.items():
            slot = self._slot(key, X.shape[1])
            precision, prior = self._prior(X.shape[1])
            idx = np.array(rows)
            xt = np.hstack([X[idx], np.ones((len(idx), 1))])
            y = np.log(np.maximum(y_all[idx], 1.0)) if self.log_space else y_all[idx]
            wt = w_all[idx]
            start, size = 0, 1
            while start < len(idx):
                part = slice(start, start + size)
                flat = (float(self._b[slot, -1]) + self.prior_weight * prior[-1]) \
                    / (float(self._A[slot, -1, -1]) + self.prior_weight)
                self._err[slot] += np.array([
                    float(wt[part] @ (y[part] - xt[part] @ self._w[slot]) ** 2),
                    float(wt[part] @ (y[part] - flat) ** 2)])
                self._smear[slot] += float(wt[part] @ (y[part] * y[part]))
                self._n[slot] += float(wt[part].sum())
                self._A[slot] += (xt[part] * wt[part, None]).T @ xt[part]
                self._b[slot] += (wt[part] * y[part]) @ xt[part]
                self._inv[slot] = np.linalg.inv(self._A[slot] + np.diag(precision))
                self._refit(slot)
                start, size = start + size, size * 2

    def _refit(self, slot: int) -> None:
        precision, mean = self._prior(self._A.shape[1] - 1, slot)
        w = self._inv[slot] @ (self._b[slot] + precision * mean)
        self._w[slot] = w
        n = self._n[slot]
        if n > 0 and self.log_space:  # Σ (y − wᵀx̃)² from the sums
            rss = self._smear[slot] - 2.0 * float(w @ self._b[slot]) \
                + float(w @ self._A[slot] @ w)
            self._factor[slot] = math.exp(min(max(rss, 0.0) / (n + 1.0), 2.0) / 2.0)

    # -- prediction ------------------------------------------------------------------
    def known(self, key: str) -> bool:
        """Whether ``key`` has observations."""
        slot = self._keys.get(key)
        return slot is not None and self._n[slot] > 0

    def predict(self, keys: list[str], x: np.ndarray) -> np.ndarray:
        """Expected output tokens per sample for each key (NaN for keys never observed)."""
        out = np.full(len(keys), np.nan)
        if self.dim is None or len(x) != self.dim:
            return out
        names = tuple(keys)
        slots = self._index.get(names)
        if slots is None:
            if len(self._index) >= 64:
                self._index.clear()
            slots = self._index[names] = np.array([self._keys.get(k, -1) for k in names],
                                                  dtype=np.intp)
        pos = np.flatnonzero(slots >= 0)
        idx = slots[pos]
        helps = self._err[idx, 0] < self._err[idx, 1]
        pos, idx = pos[helps], idx[helps]
        if len(idx) == 0:
            return out
        w = self._w[idx]
        fitted = w[:, :-1] @ x + w[:, -1]
        if not self.log_space:
            out[pos] = np.clip(fitted, -_MAX_VALUE, _MAX_VALUE)
            return out
        out[pos] = np.exp(np.clip(fitted, 0.0, _MAX_LOG)) * self._factor[idx]
        return out

    def helps(self, key: str) -> bool:
        """Whether the context has predicted ``key``'s tokens better than their mean."""
        slot = self._keys.get(key)
        return slot is not None and bool(self._err[slot, 0] < self._err[slot, 1])

    # -- persistence -------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metadata, arrays)`` of the learned sums."""
        meta = {"keys": list(self._keys), "dim": self.dim}
        p = self.prefix
        return meta, {f"{p}_A": self._A, f"{p}_b": self._b, f"{p}_smear": self._smear,
                      f"{p}_n": self._n, f"{p}_err": self._err, f"{p}_start": self._start}

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state` (inverses and weights are recomputed from the sums)."""
        keys = [str(k) for k in meta.get("keys", [])]
        self.dim = None if meta.get("dim") is None else int(meta["dim"])
        self._keys, self._index = {}, {}
        self._start = np.zeros(0)
        if not keys or self.dim is None:
            self._clear()
            return
        p = self.prefix
        A = np.asarray(arrays[f"{p}_A"], dtype=float)
        b = np.asarray(arrays[f"{p}_b"], dtype=float)
        smear = np.asarray(arrays[f"{p}_smear"], dtype=float)
        n = np.asarray(arrays[f"{p}_n"], dtype=float)
        start = np.asarray(arrays.get(f"{p}_start", np.full(
            len(keys), self._encode(self.prior_tokens))), dtype=float)
        d1 = self.dim + 1
        if A.shape != (len(keys), d1, d1) or b.shape != (len(keys), d1) \
                or smear.shape != (len(keys),) or n.shape != (len(keys),):
            raise ValueError("token model arrays do not match its keys")
        if start.shape != (len(keys),):
            raise ValueError("token model priors do not match its keys")
        if not all(np.all(np.isfinite(a)) for a in (A, b, smear, n, start)):
            raise ValueError("token model arrays are not finite")
        precision, _ = self._prior(self.dim)
        self._start = start.copy()
        self._keys = {k: i for i, k in enumerate(keys)}
        self._index = {}
        self._A, self._b, self._smear, self._n = A.copy(), b.copy(), smear.copy(), n.copy()
        self._inv = np.stack([np.linalg.inv(a + np.diag(precision)) for a in A])
        self._w = np.zeros((len(keys), d1))
        self._factor = np.ones(len(keys))
        err = np.asarray(arrays.get(f"{p}_err", np.zeros((len(keys), 2))), dtype=float)
        if err.shape != (len(keys), 2) or not np.all(np.isfinite(err)):
            raise ValueError("token model error sums do not match its keys")
        self._err = err.copy()
        for slot in range(len(keys)):
            self._refit(slot)
