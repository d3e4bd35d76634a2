"""Per-request overhead of the router's bandit, next to other contextual-bandit libraries.

For every K (arms) × d (context length) this prints the microseconds one ``decide`` and
one ``feedback`` take in :class:`uniscale.Router`, and, in the same run on the same
contexts and rewards, the same work done by MABWiser's LinUCB (predict one context,
``partial_fit`` one observation) and, when they are installed, ``contextualbandits``'
LinUCB and Vowpal Wabbit's ``--cb_explore_adf``. Ratios are theirs / ours.

The router rows:

* ``uniscale`` — ``decide(features=x)`` with ``x`` a unit vector of length d (no
  featurisation), then ``feedback(id, score)``; the default hybrid model.
* ``uniscale hybrid=False`` — the same with the per-arm (disjoint) model only, the
  model that the other LinUCB libraries fit.
* ``uniscale prompt`` — ``decide(prompt)`` through the default :class:`HashingFeaturizer`
  at the same d; the ``featurize`` column is the featurizer alone.

Every call is timed on its own (``time.perf_counter_ns``) with the garbage collector
paused; the table shows the median and the mean (the mean includes the periodic
re-factorisations). The libraries take turns round by round so that machine noise
falls on all of them alike.

Usage::

    python benchmarks/overhead.py            # full run
    python benchmarks/overhead.py --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

import uniscale

MODEL_NAMES = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
)
SC_SAMPLE_COUNTS = (2, 3, 4, 5, 8, 16, 32)
_WORDS_TEXT = (
    "prove integral matrix python function bug compile derivative sum triangle probability "
    "translate summarise essay poem contract clause invoice sql query join index latency "
    "cache thread async lemma theorem graph tree sort recursion vector tensor gradient "
    "loss model tokens budget price customer refund policy weather history capital river "
    "protein enzyme reaction velocity force energy quantum orbit galaxy"
)
WORDS = tuple(_WORDS_TEXT.split())


# -- inputs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    """The contexts, rewards and prompts every library sees, in the same order.

    Attributes:
        contexts: Unit vectors, shape ``(rows, d)``.
        rewards: Reward of arm ``k`` on row ``t`` in ``[0, 1]``, shape ``(rows, K)``.
        prompts: One synthetic prompt per row.
    """

    contexts: np.ndarray
    rewards: np.ndarray
    prompts: tuple[str, ...]


def make_workload(rng: np.random.Generator, rows: int, arms: int, dim: int) -> Workload:
    """Draw a linear-reward workload whose best arm depends on the context.

    Args:
        rng: Seeded generator.
        rows: Number of requests.
        arms: Number of arms K.
        dim: Context length d.

    Returns:
        The workload.
    """
    x = rng.standard_normal((rows, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    theta = rng.standard_normal((arms, dim))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    noise = 0.1 * rng.standard_normal((rows, arms))
    rewards = np.clip(0.5 + 0.5 * x @ theta.T + noise, 0.0, 1.0)
    prompts = tuple(make_prompt(rng) for _ in range(rows))
    return Workload(x, rewards, prompts)


def make_prompt(rng: np.random.Generator) -> str:
    """A synthetic user prompt of 8–80 words, sometimes with numbers, code or a question."""
    words = [str(w) for w in rng.choice(WORDS, size=int(rng.integers(8, 81)))]
    if rng.random() < 0.3:
        words.insert(int(rng.integers(len(words))), str(int(rng.integers(0, 10_000))))
    text = " ".join(words).capitalize()
    if rng.random() < 0.2:
        text += "\n```python\ndef f(x):\n    return x * 2\n```"
    return text + ("?" if rng.random() < 0.5 else ".")


def make_arms(count: int) -> list[uniscale.Arm]:
    """Exactly ``count`` arms: per model ``Single`` plus ``SelfConsistency`` at several n.

    Uses :meth:`uniscale.ArmSpace.product` with as many models as needed (8, 4, 2 or 1
    arms per model, the largest that divides ``count``).
    """
    per_model = next(a for a in (8, 4, 2, 1) if count % a == 0)
    models = count // per_model
    names = [MODEL_NAMES[i % len(MODEL_NAMES)] + (f"-{i // len(MODEL_NAMES)}"
                                                  if i >= len(MODEL_NAMES) else "")
             for i in range(models)]
    strategies: list[uniscale.Strategy] = [uniscale.Single()]
    if per_model > 1:
        strategies.append(uniscale.SelfConsistency())
    space = uniscale.ArmSpace.product(
        models=names, strategies=strategies, n=[1, *SC_SAMPLE_COUNTS[: per_model - 1]]
    )
    arms = list(space)
    if len(arms) != count:
        raise AssertionError(f"built {len(arms)} arms, wanted {count}")
    return arms


def make_router(arms: list[uniscale.Arm], dim: int, *, hybrid: bool = True) -> uniscale.Router:
    """A router over ``arms`` with a :class:`HashingFeaturizer` of length ``dim``."""
    models = dict.fromkeys(a.model for a in arms)
    prices = {m: uniscale.Price(input=0.1 * (i + 1), output=0.4 * (i + 1))
              for i, m in enumerate(models)}
    return uniscale.Router(arms, prices, featurizer=uniscale.HashingFeaturizer(dim),
                           hybrid=hybrid, seed=0)


# -- the contestants ------------------------------------------------------------------------
class Contestant(Protocol):
    """One library wrapped to the benchmark's three operations."""

    name: str

    def initial_fit(self, workload: Workload, rows: range) -> None:
        """Learn from ``rows`` before any timing (arms chosen round-robin)."""
        ...

    def decide(self, workload: Workload, t: int) -> int:
        """Choose an arm for row ``t``; returns a handle for :meth:`feedback`."""
        ...

    def feedback(self, workload: Workload, t: int, handle: int) -> None:
        """Learn the reward of the arm chosen on row ``t``."""
        ...

    def state_bytes(self) -> int:
        """Bytes of the numpy arrays that hold the learned statistics."""
        ...


def array_bytes(root: object, *, depth: int = 6) -> int:
    """Total bytes of the distinct numpy arrays reachable from ``root`` through attributes,
    lists, tuples and dicts (views count once, through their base)."""
    seen: set[int] = set()
    total = 0

    def walk(obj: object, level: int) -> None:
        nonlocal total
        if level < 0 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj if obj.base is None else obj.base
            if isinstance(base, np.ndarray) and id(base) != id(obj):
                if id(base) in seen:
                    return
                seen.add(id(base))
            total += base.nbytes if isinstance(base, np.ndarray) else obj.nbytes
            return
        if isinstance(obj, dict):
            children: Iterable[object] = obj.values()
        elif isinstance(obj, (list, tuple)):
            children = obj
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            children = vars(obj).values()
        else:
            return
        for child in children:
            walk(child, level - 1)

    walk(root, depth)
    return total


class UniScaleContestant:
    """:class:`uniscale.Router` fed context vectors (``features=``) or prompts.

    Args:
        arms: The arms.
        dim: Context length.
        hybrid: Use the hybrid model (the router's default).
        prompts: Decide from the prompt through the featurizer instead of ``features=``.
    """

    def __init__(self, arms: list[uniscale.Arm], dim: int, *, hybrid: bool = True,
                 prompts: bool = False) -> None:
        self.router = make_router(arms, dim, hybrid=hybrid)
        self.prompts = prompts
        self.name = "uniscale" + ("" if hybrid else " hybrid=False") + (" prompt" if prompts
                                                                         else "")
        self._ids: dict[int, str] = {}
        self._arm_index = {a: i for i, a in enumerate(arms)}

    def initial_fit(self, workload: Workload, rows: range) -> None:
        """Decide and feed back each row (the router picks the arms itself)."""
        for t in rows:
            self.feedback(workload, t, self.decide(workload, t))

    def decide(self, workload: Workload, t: int) -> int:
        """``router.decide`` on row ``t``."""
        if self.prompts:
            decision = self.router.decide(workload.prompts[t])
        else:
            decision = self.router.decide(features=workload.contexts[t])
        self._ids[t] = decision.id
        return self._arm_index[decision.arm]

    def feedback(self, workload: Workload, t: int, handle: int) -> None:
        """``router.feedback`` with the reward of the chosen arm."""
        self.router.feedback(self._ids.pop(t), float(workload.rewards[t, handle]))

    def state_bytes(self) -> int:
        """Bytes of the policy's arrays."""
        return policy_bytes(self.router.policy)["total"]


class MabwiserContestant:
    """MABWiser ``LinUCB(alpha=1.0, l2_lambda=1.0)``: ``predict`` / ``partial_fit``."""

    name = "mabwiser LinUCB"

    def __init__(self, arms: int, seed: int) -> None:
        from mabwiser.mab import MAB, LearningPolicy

        self.mab = MAB(arms=list(range(arms)),
                       learning_policy=LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0),
                       seed=seed)
        self.arms = arms

    def initial_fit(self, workload: Workload, rows: range) -> None:
        """``fit`` on ``rows`` with round-robin arms."""
        index = np.asarray(rows)
        chosen = index % self.arms
        self.mab.fit(chosen.tolist(), workload.rewards[index, chosen].tolist(),
                     workload.contexts[index])

    def decide(self, workload: Workload, t: int) -> int:
        """``predict`` one context."""
        return int(self.mab.predict(workload.contexts[t: t + 1]))

    def feedback(self, workload: Workload, t: int, handle: int) -> None:
        """``partial_fit`` one observation."""
        self.mab.partial_fit([handle], [float(workload.rewards[t, handle])],
                             workload.contexts[t: t + 1])

    def state_bytes(self) -> int:
        """Bytes of every arm model's arrays."""
        return array_bytes(self.mab._imp.arm_to_model)


class ContextualBanditsContestant:
    """``contextualbandits.online.LinUCB`` (float64, no intercept, Sherman–Morrison)."""

    name = "contextualbandits LinUCB"

    def __init__(self, arms: int, seed: int) -> None:
        from contextualbandits.online import LinUCB

        self.model = LinUCB(nchoices=arms, alpha=1.0, lambda_=1.0, fit_intercept=False,
                            use_float=False, method="sm", random_state=seed + 1, njobs=1)
        self.arms = arms

    def initial_fit(self, workload: Workload, rows: range) -> None:
        """``fit`` on ``rows`` with round-robin arms."""
        index = np.asarray(rows)
        chosen = index % self.arms
        self.model.fit(workload.contexts[index], chosen, workload.rewards[index, chosen])

    def decide(self, workload: Workload, t: int) -> int:
        """``predict`` one context."""
        return int(self.model.predict(workload.contexts[t: t + 1])[0])

    def feedback(self, workload: Workload, t: int, handle: int) -> None:
        """``partial_fit`` one observation."""
        self.model.partial_fit(workload.contexts[t: t + 1], np.array([handle]),
                               np.array([workload.rewards[t, handle]]))

    def state_bytes(self) -> int:
        """Bytes of the per-arm models' arrays."""
        return array_bytes(self.model._oracles)


class VowpalWabbitContestant:
    """Vowpal Wabbit ``--cb_explore_adf --squarecb`` with one action line per arm.

    VW has no LinUCB; SquareCB over a per-arm linear model (``-q SA``) is its closest
    contextual-bandit reduction. The shared-feature lines are formatted before timing
    (VW's native input is text, as ours is a vector); building the label is timed.
    """

    name = "vowpalwabbit squarecb"

    def __init__(self, arms: int, seed: int) -> None:
        import vowpalwabbit

        self.vw = vowpalwabbit.Workspace(
            f"--cb_explore_adf --squarecb -q SA --random_seed {seed} --quiet"
        )
        self.arms = arms
        self.actions = [f"|A arm{k}" for k in range(arms)]
        self._shared: dict[int, str] = {}
        self._prob: dict[int, float] = {}

    def prepare(self, workload: Workload) -> None:
        """Format every row's shared features in VW's text format."""
        for t, x in enumerate(workload.contexts):
            self._shared[t] = "shared |S " + " ".join(f"{i}:{v:.6g}" for i, v in enumerate(x))

    def initial_fit(self, workload: Workload, rows: range) -> None:
        """Learn each row once with round-robin arms (uniform logging probability)."""
        for t in rows:
            self._prob[t] = 1.0 / self.arms
            self.feedback(workload, t, t % self.arms)

    def decide(self, workload: Workload, t: int) -> int:
        """``predict`` the action distribution and take its mode."""
        pmf = self.vw.predict([self._shared[t], *self.actions])
        best = max(range(self.arms), key=pmf.__getitem__)
        self._prob[t] = float(pmf[best])
        return best

    def feedback(self, workload: Workload, t: int, handle: int) -> None:
        """``learn`` the cost (1 − reward) of the chosen action."""
        cost = 1.0 - float(workload.rewards[t, handle])
        lines = [self._shared[t], *self.actions]
        lines[handle + 1] = f"0:{cost:.6g}:{self._prob.pop(t):.6g} {self.actions[handle]}"
        self.vw.learn(lines)

    def state_bytes(self) -> int:
        """Not visible from Python (VW keeps its weights in C++): reported as 0."""
        return 0


def policy_bytes(policy: Any) -> dict[str, int]:
    """Bytes of each array of a :class:`uniscale.policy.linucb.LinUCB` and their total."""
    sizes = {name: value.nbytes for name, value in vars(policy).items()
             if isinstance(value, np.ndarray)}
    sizes["total"] = sum(sizes.values())
    return sizes


# -- timing ---------------------------------------------------------------------------------
@dataclass
class Timings:
    """Per-call nanoseconds of one contestant."""

    decide: list[int] = field(default_factory=list)
    feedback: list[int] = field(default_factory=list)

    @staticmethod
    def _us(values: list[int]) -> tuple[float, float]:
        if not values:
            return math.nan, math.nan
        arr = np.asarray(values, dtype=float) / 1000.0
        return float(np.median(arr)), float(arr.mean())

    @property
    def decide_us(self) -> tuple[float, float]:
        """Median and mean µs per decide."""
        return self._us(self.decide)

    @property
    def feedback_us(self) -> tuple[float, float]:
        """Median and mean µs per feedback."""
        return self._us(self.feedback)


def run_rows(contestant: Contestant, workload: Workload, rows: range,
             timings: Timings | None) -> None:
    """Decide and feed back each row, timing each call when ``timings`` is given."""
    clock = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for t in rows:
            t0 = clock()
            handle = contestant.decide(workload, t)
            t1 = clock()
            contestant.feedback(workload, t, handle)
            t2 = clock()
            if timings is not None:
                timings.decide.append(t1 - t0)
                timings.feedback.append(t2 - t1)
    finally:
        if gc_was_enabled:
            gc.enable()


def time_featurizer(featurizer: uniscale.HashingFeaturizer, prompts: Iterable[str]) -> float:
    """Median µs of ``featurizer.transform`` on each prompt."""
    times = []
    for prompt in prompts:
        messages = [uniscale.Message("user", prompt)]
        t0 = time.perf_counter_ns()
        featurizer.transform(messages)
        times.append(time.perf_counter_ns() - t0)
    return float(np.median(times)) / 1000.0


@dataclass(frozen=True)
class Settings:
    """How much to run.

    Attributes:
        initial: Rows learned before timing (untimed).
        warmup: Rows run through decide + feedback before timing (untimed).
        rounds: Timed rounds; the contestants take turns each round.
        calls: Timed decide + feedback pairs per contestant per round.
    """

    initial: int
    warmup: int
    rounds: int
    calls: int


def optional_libraries() -> dict[str, str | None]:
    """Each optional library's import name mapped to None when importable, else a reason."""
    status: dict[str, str | None] = {}
    for module in ("mabwiser", "contextualbandits", "vowpalwabbit"):
        if importlib.util.find_spec(module) is None:
            status[module] = f"not installed (pip install {module}); skipped"
            continue
        try:
            __import__(module)
            status[module] = None
        except Exception as exc:  # a broken install is reported, not fatal
            status[module] = f"import failed ({exc!r}); skipped"
    return status


def build_contestants(arms: list[uniscale.Arm], dim: int, seed: int,
                      available: dict[str, str | None]) -> list[Contestant]:
    """Ours first (the reference of the ratios), then every available library."""
    contestants: list[Contestant] = [
        UniScaleContestant(arms, dim),
        UniScaleContestant(arms, dim, hybrid=False),
        UniScaleContestant(arms, dim, prompts=True),
    ]
    if available.get("mabwiser") is None:
        contestants.append(MabwiserContestant(len(arms), seed))
    if available.get("contextualbandits") is None:
        contestants.append(ContextualBanditsContestant(len(arms), seed))
    if available.get("vowpalwabbit") is None:
        contestants.append(VowpalWabbitContestant(len(arms), seed))
    return contestants


@dataclass(frozen=True)
class Row:
    """One printed line."""

    arms: int
    dim: int
    name: str
    decide: tuple[float, float]
    feedback: tuple[float, float]
    featurize: float | None
    state_bytes: int


def bench_config(arms_count: int, dim: int, settings: Settings, seed: int,
                 available: dict[str, str | None],
                 progress: Callable[[str], None]) -> tuple[list[Row], dict[str, int]]:
    """Time every contestant on one (K, d) configuration.

    Returns:
        The table rows and the byte sizes of the router's policy arrays.
    """
    rng = np.random.default_rng([seed, arms_count, dim])
    total_rows = settings.initial + settings.warmup + settings.rounds * settings.calls
    workload = make_workload(rng, total_rows, arms_count, dim)
    arms = make_arms(arms_count)
    contestants = build_contestants(arms, dim, seed, available)
    initial = range(settings.initial)
    warm = range(settings.initial, settings.initial + settings.warmup)
    for contestant in contestants:
        progress(f"  K={arms_count} d={dim}: preparing {contestant.name}")
        if isinstance(contestant, VowpalWabbitContestant):
            contestant.prepare(workload)
        contestant.initial_fit(workload, initial)
        run_rows(contestant, workload, warm, None)
    timings = {c.name: Timings() for c in contestants}
    start = settings.initial + settings.warmup
    for r in range(settings.rounds):
        rows = range(start + r * settings.calls, start + (r + 1) * settings.calls)
        order = contestants if r % 2 == 0 else contestants[::-1]
        for contestant in order:
            gc.collect()
            run_rows(contestant, workload, rows, timings[contestant.name])
    prompt_router = next(c for c in contestants
                         if isinstance(c, UniScaleContestant) and c.prompts).router
    featurize = time_featurizer(prompt_router.featurizer,
                                workload.prompts[start:])
    out = []
    for contestant in contestants:
        timing = timings[contestant.name]
        is_prompt = isinstance(contestant, UniScaleContestant) and contestant.prompts
        out.append(Row(arms_count, dim, contestant.name, timing.decide_us, timing.feedback_us,
                       featurize if is_prompt else None, contestant.state_bytes()))
    reference = contestants[0]
    assert isinstance(reference, UniScaleContestant)
    sizes = policy_bytes(reference.router.policy)
    sizes["k"] = reference.router.policy.k
    return out, sizes


# -- printing -------------------------------------------------------------------------------
def _fmt_us(pair: tuple[float, float]) -> str:
    return f"{pair[0]:9.1f} {pair[1]:9.1f}"


def _fmt_bytes(n: int) -> str:
    if n <= 0:
        return "n/a"
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def print_table(rows: list[Row]) -> None:
    """The overhead table, with ratios theirs / ours against the default router row."""
    header = (f"{'K':>3} {'d':>4}  {'library':<26} {'decide µs':>9} {'(mean)':>9} "
              f"{'feedback µs':>11} {'(mean)':>9} {'featurize µs':>12} "
              f"{'ratio dec':>9} {'ratio fb':>8} {'stats':>10}")
    print(header)
    print("-" * len(header))
    ref: Row | None = None
    for i, row in enumerate(rows):
        if i and (row.arms, row.dim) != (rows[i - 1].arms, rows[i - 1].dim):
            print()
        if row.name == "uniscale":
            ref = row
        ratio_d = ratio_f = "-"
        if ref is not None and row.name != "uniscale":
            ratio_d = f"{row.decide[0] / ref.decide[0]:.2f}×"
            ratio_f = f"{row.feedback[0] / ref.feedback[0]:.2f}×"
        elif row.name == "uniscale":
            ratio_d = ratio_f = "1.00×"
        feat = f"{row.featurize:12.1f}" if row.featurize is not None else f"{'':>12}"
        print(f"{row.arms:>3} {row.dim:>4}  {row.name:<26} {row.decide[0]:9.1f} "
              f"{row.decide[1]:9.1f} {row.feedback[0]:11.1f} {row.feedback[1]:9.1f} {feat} "
              f"{ratio_d:>9} {ratio_f:>8} {_fmt_bytes(row.state_bytes):>10}")
    print()


MEMORY_GROUPS = {
    "A_raw": ("_araw",),  # Σ x xᵀ per arm, packed
    "A_inv": ("_w",),  # per-arm inverses, packed
    "moments": ("_mom", "_q", "_v", "_bt", "_nq"),  # compressed cross terms and caches
    "A0_inv": ("_m", "_szz0"),  # shared block
}


def print_memory(memory: list[tuple[int, int, dict[str, int]]]) -> None:
    """Bytes of the default router's policy arrays per configuration."""
    header = (f"{'K':>3} {'d':>4} {'k':>4}  " + " ".join(f"{g:>10}" for g in MEMORY_GROUPS)
              + f" {'other':>10} {'total':>10}")
    print("Router statistics memory (bytes of the hybrid LinUCB policy arrays; "
          "k = shared width)")
    print(header)
    print("-" * len(header))
    for arms, dim, sizes in memory:
        groups = [sum(sizes.get(n, 0) for n in names) for names in MEMORY_GROUPS.values()]
        other = sizes["total"] - sum(groups)
        print(f"{arms:>3} {dim:>4} {sizes['k']:>4}  "
              + " ".join(f"{_fmt_bytes(g):>10}" for g in groups)
              + f" {_fmt_bytes(other):>10} {_fmt_bytes(sizes['total']):>10}"
              f"  ({sizes['total']:,} B)")
    print()


def blas_limit(threads: int | None) -> tuple[contextlib.AbstractContextManager[Any], str]:
    """A context that caps BLAS threads at ``threads`` (via ``threadpoolctl``) and a
    description of the BLAS thread pools in force."""
    try:
        import threadpoolctl
    except ImportError:
        note = "threadpoolctl not installed: BLAS threads as the environment sets them"
        return contextlib.nullcontext(), note
    context: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if threads is not None:
        context = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    with context:
        pools = [f"{p['internal_api']} {p['num_threads']} thread(s)"
                 for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    if threads is not None:
        context = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    how = "capped by --blas-threads" if threads is not None else "library default"
    return context, f"{', '.join(pools) or 'unknown'} ({how})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: few calls, K in {6, 24}, d = 64")
    parser.add_argument("--arms", type=int, nargs="+", help="values of K (default 6 24 96)")
    parser.add_argument("--dims", type=int, nargs="+", help="values of d (default 64 256)")
    parser.add_argument("--rounds", type=int, help="timed rounds per contestant")
    parser.add_argument("--calls", type=int, help="timed decide+feedback pairs per round")
    parser.add_argument("--blas-threads", type=int,
                        help="cap BLAS threads (numpy's matrix products) during the run")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    args = parse_args(argv)
    if args.quick:
        arms_list, dims = args.arms or [6, 24], args.dims or [64]
        settings = Settings(initial=24, warmup=10, rounds=args.rounds or 2,
                            calls=args.calls or 20)
    else:
        arms_list, dims = args.arms or [6, 24, 96], args.dims or [64, 256]
        settings = Settings(initial=200, warmup=200, rounds=args.rounds or 5,
                            calls=args.calls or 400)
    available = optional_libraries()
    limit, blas = blas_limit(args.blas_threads)
    print("UniScale overhead benchmark: µs per decide and per feedback (median, then mean)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"uniscale {uniscale.__version__}, {platform.machine()}, seed {args.seed}")
    print(f"BLAS: {blas}; {os.cpu_count()} CPU(s), load average "
          f"{', '.join(f'{v:.2f}' for v in _load())}")
    print(f"rows: {settings.initial} learned first, {settings.warmup} warm-up, then "
          f"{settings.rounds} rounds × {settings.calls} timed calls per library")
    for module, reason in available.items():
        version = "" if reason else _version(module)
        print(f"  {module}: {reason or 'installed ' + version}")
    print()

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows: list[Row] = []
    memory: list[tuple[int, int, dict[str, int]]] = []
    with limit:
        for arms_count in arms_list:
            for dim in dims:
                config_rows, sizes = bench_config(arms_count, dim, settings, args.seed,
                                                  available, progress)
                rows.extend(config_rows)
                memory.append((arms_count, dim, sizes))
    print_table(rows)
    print("ratio = theirs / ours on the medians, against the 'uniscale' row (hybrid router, "
          "features=); stats = bytes of the learned arrays")
    print()
    print_memory(memory)
    return 0


def _load() -> tuple[float, ...]:
    try:
        return os.getloadavg()
    except OSError:
        return ()


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
