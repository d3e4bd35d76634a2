"""The contestants of ``benchmarks/overhead.py``: the router and the peer libraries.

Every contestant is wrapped to the same three operations (learn some rows untimed, decide
one row, learn its reward) over the same :class:`Workload`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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


def make_router(arms: list[uniscale.Arm], dim: int, *, hybrid: bool = True,
                precision: str = "float32") -> uniscale.Router:
    """A router over ``arms`` with a :class:`HashingFeaturizer` of length ``dim`` and no
    side-feature buckets (``features=`` vectors are exactly ``dim`` long)."""
    models = dict.fromkeys(a.model for a in arms)
    prices = {m: uniscale.Price(input=0.1 * (i + 1), output=0.4 * (i + 1))
              for i, m in enumerate(models)}
    return uniscale.Router(arms, prices, featurizer=uniscale.HashingFeaturizer(dim),
                           hybrid=hybrid, seed=0, context_dim=0, precision=precision)


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
                 prompts: bool = False, precision: str = "float32") -> None:
        self.router = make_router(arms, dim, hybrid=hybrid, precision=precision)
        self.prompts = prompts
        self.name = ("uniscale" + ("" if hybrid else " hybrid=False")
                     + (" prompt" if prompts else "")
                     + ("" if precision == "float32" else f" {precision}"))
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


class ParetoBanditContestant:
    """ParetoBandit's ``BanditRouter`` (PyPI ``paretobandit``), public API only.

    One model per arm (the router chooses among models), cold start (``priors="none"``),
    its default exploration, forgetting and cost penalty, and the benchmark's context
    vectors as pre-computed features (``FeatureService.for_precomputed``): ``route`` one
    vector, ``process_feedback`` its reward.
    """

    name = "paretobandit"

    def __init__(self, arms: int, dim: int, seed: int) -> None:
        import logging

        from pareto_bandit import BanditRouter, FeatureService

        logging.getLogger("pareto_bandit").setLevel(logging.ERROR)
        registry = {f"arm{k}": {"input_cost_per_m": 0.1 * (k + 1),
                                "output_cost_per_m": 0.4 * (k + 1)} for k in range(arms)}
        self.models = list(registry)
        self.router = BanditRouter.create(
            model_registry=registry, priors="none", bandit_seed=seed,
            feature_service=FeatureService.for_precomputed(dim))
        self._ids: dict[int, str] = {}

    def initial_fit(self, workload: Workload, rows: range) -> None:
        """``update`` each row with round-robin models."""
        for t in rows:
            k = t % len(self.models)
            self.router.update(self.models[k], workload.contexts[t],
                               float(workload.rewards[t, k]))

    def decide(self, workload: Workload, t: int) -> int:
        """``route`` one context vector."""
        model, log = self.router.route(workload.contexts[t])
        self._ids[t] = log.request_id
        return self.models.index(model)

    def feedback(self, workload: Workload, t: int, handle: int) -> None:
        """``process_feedback`` with the reward of the chosen model."""
        self.router.process_feedback(self._ids.pop(t), float(workload.rewards[t, handle]))

    def state_bytes(self) -> int:
        """Bytes of the arrays reachable from the router."""
        return array_bytes(self.router)
