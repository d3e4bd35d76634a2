"""Test-time strategies: how one request becomes n samples and one answer."""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

from .errors import ConfigurationError
from .extract import Extractor, extract_answer, majority_vote
from .judge import Judge
from .stopping import EarlyStop, as_early_stop
from .types import Request, Sample, Usage

__all__ = [
    "Aggregate",
    "BestOfN",
    "Judge",
    "SelfConsistency",
    "Single",
    "Strategy",
    "Tally",
]


@dataclass(frozen=True)
class Aggregate:
    """How a strategy combined its samples.

    Attributes:
        index: Position of the returned sample.
        answer: The extracted answer (self-consistency) or ``None``.
        agreement: Vote share of the answer (self-consistency), the best score
            (best-of-n) or ``1.0`` (single).
        scores: Scorer values per sample (best-of-n only).
        scorer_usage: Tokens the scorer spent (judge backends only).
        scorer_cost: USD the scorer spent.
    """

    index: int
    answer: str | None = None
    agreement: float = 1.0
    scores: tuple[float, ...] = ()
    scorer_usage: Usage = field(default_factory=Usage)
    scorer_cost: float = 0.0


@runtime_checkable
class Scorer(Protocol):
    """Scores one sample for best-of-n; higher is better."""

    def __call__(self, prompt: str, text: str) -> float: ...


@dataclass(frozen=True, kw_only=True)
class Strategy:
    """Base of every strategy. Subclasses are frozen values.

    Attributes:
        variant: Name of a prompt variant (``"cot"``, ``"pot"``, ...). It is passed to the
            backend in :attr:`Request.variant` and distinguishes arms.
        instruction: Optional system text prepended to the conversation for this variant.
        temperature: Sampling temperature of the samples (``None``: backend default).
    """

    name: ClassVar[str] = "strategy"
    supports_tools: ClassVar[bool] = False
    variant: str | None = None
    instruction: str | None = None
    temperature: float | None = None

    @property
    def key(self) -> str:
        """Stable name, e.g. ``"sc"`` or ``"sc:pot"``."""
        return self.name if self.variant is None else f"{self.name}:{self.variant}"

    def check_n(self, n: int) -> None:
        """Raise :class:`ConfigurationError` when this strategy cannot take ``n`` samples."""
        if n < 1:
            raise ConfigurationError(f"{type(self).__name__} needs n >= 1, got n={n}")

    def request(self, base: Request, n: int) -> Request:
        """The backend request for ``n`` samples of ``base`` under this strategy."""
        messages = base.messages
        if self.instruction:
            from .types import Message

            messages = (Message("system", self.instruction), *messages)
        temperature = base.temperature if self.temperature is None else self.temperature
        return replace(
            base, messages=messages, n=n, temperature=temperature, variant=self.variant
        )

    def aggregate(self, request: Request, samples: list[Sample]) -> Aggregate:
        """Choose the sample to return."""
        raise NotImplementedError

    @property
    def stops_early(self) -> bool:
        """Whether a run may use fewer than the arm's ``n`` samples."""
        return False

    def waves(self, n: int) -> list[int]:
        """Sizes of the waves the ``n`` samples are drawn in (one wave: no early stop)."""
        return [n]

    def tally(self, request: Request, n: int) -> Tally:
        """A fresh running combination of the samples of one run of ``n`` samples."""
        return Tally(self, request, n)

    def to_config(self) -> dict[str, Any]:
        """JSON description used to check saved state against the current arm space."""
        return {"name": self.name, "variant": self.variant, "temperature": self.temperature}


class Tally:
    """Combines one run's samples wave by wave and says when enough were drawn.

    The base tally keeps the samples and aggregates them at the end; strategies that stop
    early (or score as they go) override :meth:`add` and :meth:`done`.

    Args:
        strategy: The strategy of the run.
        request: The backend request of the run.
        n: Most samples the run may draw.
    """

    def __init__(self, strategy: Strategy, request: Request, n: int) -> None:
        self.strategy = strategy
        self.request = request
        self.n = n
        self.samples: list[Sample] = []
        self.errors: list[BaseException] = []

    def add(self, samples: list[Sample]) -> None:
        """Take the samples of one wave."""
        self.samples.extend(samples)

    def done(self) -> bool:
        """Whether the run can stop before drawing all ``n`` samples."""
        return False

    def result(self) -> Aggregate:
        """How the samples taken so far combine."""
        return self.strategy.aggregate(self.request, self.samples)


@dataclass(frozen=True, kw_only=True)
class Single(Strategy):
    """One sample, returned as is."""

    name: ClassVar[str] = "single"
    supports_tools: ClassVar[bool] = True

    def check_n(self, n: int) -> None:
        if n != 1:
            raise ConfigurationError(
                f"Single takes exactly one sample, got n={n}: use SelfConsistency() or "
                "BestOfN(...) for several samples"
            )

    def aggregate(self, request: Request, samples: list[Sample]) -> Aggregate:
        return Aggregate(index=0)


@dataclass(frozen=True, kw_only=True)
class SelfConsistency(Strategy):
    """Up to n samples at temperature > 0; the majority answer wins.

    With ``early_stop`` the samples are drawn in waves and the run stops as soon as the
    stopping rule fires (see :class:`~uniscale.stopping.EarlyStop`); the arm's ``n`` is
    then the most it may spend, and the cost is what it did spend.

    Attributes:
        extractor: Maps a sample to its answer; default :func:`extract_answer`.
        early_stop: ``None`` (always ``n`` samples), ``True`` (the Beta rule at 0.95), a
            rule name (``"decided"``, ``"beta"``, ``"dirichlet"``) or an
            :class:`~uniscale.stopping.EarlyStop`.
    """

    name: ClassVar[str] = "sc"
    temperature: float | None = 0.7
    extractor: Extractor = field(default=extract_answer, compare=False)
    early_stop: EarlyStop | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "early_stop", as_early_stop(self.early_stop))

    @property
    def key(self) -> str:
        """Stable name, e.g. ``"sc:pot"``, or ``"sc:pot+beta0.95"`` with early stop."""
        base = super().key
        return base if self.early_stop is None else f"{base}+{self.early_stop.key}"

    def aggregate(self, request: Request, samples: list[Sample]) -> Aggregate:
        return _vote([self.extractor(s.text) for s in samples])

    @property
    def stops_early(self) -> bool:
        return self.early_stop is not None

    def waves(self, n: int) -> list[int]:
        return [n] if self.early_stop is None else self.early_stop.waves(n)

    def tally(self, request: Request, n: int) -> Tally:
        return _VoteTally(self, request, n)

    def to_config(self) -> dict[str, Any]:
        config = super().to_config()
        if self.early_stop is not None:
            config["early_stop"] = self.early_stop.to_config()
        return config


def _vote(answers: list[str | None]) -> Aggregate:
    index, share = majority_vote(answers)
    return Aggregate(index=index, answer=answers[index] if answers else None, agreement=share)


class _VoteTally(Tally):
    """Extracts each sample's answer once and applies the early-stop rule after a wave."""

    strategy: SelfConsistency

    def __init__(self, strategy: SelfConsistency, request: Request, n: int) -> None:
        super().__init__(strategy, request, n)
        self.answers: list[str | None] = []

    def add(self, samples: list[Sample]) -> None:
        super().add(samples)
        self.answers.extend(self.strategy.extractor(s.text) for s in samples)

    def done(self) -> bool:
        rule = self.strategy.early_stop
        return rule is not None and rule.should_stop(self.answers, self.n)

    def result(self) -> Aggregate:
        return _vote(self.answers)


@dataclass(frozen=True, kw_only=True)
class BestOfN(Strategy):
    """Up to n samples; a scorer picks the best.

    With ``threshold`` the samples are drawn ``wave`` at a time and the run stops as soon
    as a sample scores at least ``threshold`` (with an exact checker, the first correct
    sample ends the run); the arm's ``n`` is then the most it may spend.

    Attributes:
        scorer: A function ``(prompt, text) -> float``, a :class:`Judge`, or a judge
            model's backend (it needs a ``price`` attribute; else wrap it in
            ``Judge(backend, price=...)``). A judge's tokens are charged to the arm.
        threshold: Stop once a sample scores at least this (``None``: draw all n).
        wave: Samples drawn per wave when ``threshold`` is set.
    """

    name: ClassVar[str] = "bon"
    scorer: Callable[[str, str], float] | Judge | None = field(default=None, compare=False)
    temperature: float | None = 0.7
    threshold: float | None = None
    wave: int = 1

    def __post_init__(self) -> None:
        if self.scorer is None:
            raise ConfigurationError(
                "BestOfN needs a scorer: BestOfN(scorer=fn) with fn(prompt, text) -> float, "
                "or BestOfN(scorer=uniscale.Judge(backend, price))"
            )
        if not isinstance(self.scorer, Judge) and hasattr(self.scorer, "complete"):
            price = getattr(self.scorer, "price", None)
            if price is None:
                raise ConfigurationError(
                    "a judge backend given as BestOfN(scorer=backend) needs a price to charge "
                    "its tokens: use BestOfN(scorer=uniscale.Judge(backend, price="
                    "uniscale.Price(input=..., output=...)))")
            object.__setattr__(self, "scorer", Judge(self.scorer, price=price))
        elif not isinstance(self.scorer, Judge) and not callable(self.scorer):
            raise ConfigurationError(
                f"BestOfN scorer must be a function (prompt, text) -> float, a uniscale.Judge "
                f"or a judge backend, got {type(self.scorer).__name__}")
        if self.threshold is not None and not (
                isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)):
            raise ConfigurationError(
                f"BestOfN threshold must be a finite score or None, got {self.threshold!r}")
        if isinstance(self.wave, bool) or not isinstance(self.wave, int) or self.wave < 1:
            raise ConfigurationError(f"BestOfN wave must be a whole number >= 1, got {self.wave!r}")

    @property
    def key(self) -> str:
        """Stable name, e.g. ``"bon:pot"``, or ``"bon:pot+stop0.9"`` with a threshold."""
        base = super().key
        if self.threshold is None:
            return base
        return f"{base}+stop{self.threshold:g}" + (f"w{self.wave}" if self.wave != 1 else "")

    @property
    def stops_early(self) -> bool:
        return self.threshold is not None

    @property
    def expected_scorer_cost(self) -> float:
        """USD the scorer is expected to spend per sample."""
        return self.scorer.cost_per_judgement if isinstance(self.scorer, Judge) else 0.0

    def waves(self, n: int) -> list[int]:
        if self.threshold is None:
            return [n]
        return [min(self.wave, n - k) for k in range(0, n, self.wave)]

    def tally(self, request: Request, n: int) -> Tally:
        return _ScoreTally(self, request, n)

    def aggregate(self, request: Request, samples: list[Sample]) -> Aggregate:
        tally = _ScoreTally(self, request, len(samples))
        tally.add(samples)
        return tally.result()

    def to_config(self) -> dict[str, Any]:
        config = super().to_config()
        if self.threshold is not None:
            config.update(threshold=self.threshold, wave=self.wave)
        return config


class _ScoreTally(Tally):
    """Scores each sample once (a wave's judgements concurrently) and stops at the threshold."""

    strategy: BestOfN

    def __init__(self, strategy: BestOfN, request: Request, n: int) -> None:
        super().__init__(strategy, request, n)
        self.scores: list[float] = []
        self.usage = Usage()
        self.cost = 0.0

    def _score(self, text: str) -> tuple[float, Usage, float]:
        scorer = self.strategy.scorer
        if isinstance(scorer, Judge):
            return scorer.judge(self.request.prompt, text)
        assert scorer is not None
        return float(scorer(self.request.prompt, text)), Usage(), 0.0

    def add(self, samples: list[Sample]) -> None:
        super().add(samples)
        texts = [s.text for s in samples]
        outcomes: list[tuple[float, Usage, float] | BaseException]
        if isinstance(self.strategy.scorer, Judge) and len(texts) > 1:
            with ThreadPoolExecutor(max_workers=len(texts)) as pool:
                outcomes = list(pool.map(self._safe_score, texts))
        else:
            outcomes = [self._safe_score(t) for t in texts]
        for outcome in outcomes:
            if isinstance(outcome, BaseException):  # an unscored sample is never chosen
                self.errors.append(outcome)
                self.usage = self.usage + getattr(outcome, "usage", Usage())
                self.scores.append(-math.inf)
                continue
            value, used, spent = outcome
            self.usage, self.cost = self.usage + used, self.cost + spent
            self.scores.append(value if math.isfinite(value) else -math.inf)

    def _safe_score(self, text: str) -> tuple[float, Usage, float] | BaseException:
        try:
            return self._score(text)
        except Exception as exc:  # a failed judgement leaves its sample unscored
            return exc

    def done(self) -> bool:
        threshold = self.strategy.threshold
        return threshold is not None and any(v >= threshold for v in self.scores)

    def result(self) -> Aggregate:
        scores = self.scores
        index = max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else 0
        best = scores[index] if scores else -math.inf
        return Aggregate(index=index, agreement=best if math.isfinite(best) else 0.0,
                         scores=tuple(scores), scorer_usage=self.usage, scorer_cost=self.cost)
