"""Arms: one joint choice of model, test-time strategy and sample count."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigurationError
from .strategies import Single, Strategy

__all__ = ["Arm", "ArmSpace"]


@dataclass(frozen=True)
class Arm:
    """One action of the router: ``n`` samples of ``model`` aggregated by ``strategy``.

    Attributes:
        model: Name of the model (a key of the router's ``prices`` and ``backends``).
        strategy: How the samples are drawn and aggregated.
        n: Number of samples.

    Raises:
        ConfigurationError: When ``n`` is below 1, or above 1 for :class:`Single`.
    """

    model: str
    strategy: Strategy
    n: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigurationError(f"Arm model must be a non-empty string, got {self.model!r}")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ConfigurationError(
                f"Arm n must be a whole number >= 1, got {self.n!r}: use n=1 for one sample"
            )
        self.strategy.check_n(self.n)
        object.__setattr__(self, "_key", f"{self.model}/{self.strategy.key}/{self.n}")

    @property
    def key(self) -> str:
        """Stable text form, e.g. ``"gpt-4o/sc:pot/5"``; used in saved state."""
        return self._key  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.key


class ArmSpace:
    """The ordered set of arms and their descriptor features.

    The descriptor of an arm is ``[one-hot model, one-hot strategy, log n / log 64, 1]``;
    the hybrid LinUCB model shares evidence between arms through it. Vocabularies only
    grow: removing an arm keeps its model and strategy columns so that what was learned
    stays aligned.

    Args:
        arms: The arms, in order. Duplicates are rejected.
    """

    def __init__(self, arms: Iterable[Arm]) -> None:
        self._arms: list[Arm] = []
        self._index: dict[Arm, int] = {}
        self._by_key: dict[str, Arm] = {}
        self._columns: list[str] = []
        for arm in arms:
            self.add(arm)
        if not self._arms:
            raise ConfigurationError("an ArmSpace needs at least one arm")

    @classmethod
    def product(
        cls,
        models: Sequence[str],
        strategies: Sequence[Strategy] = (Single(),),
        n: Sequence[int] = (1,),
    ) -> ArmSpace:
        """Every (model, strategy, n) combination that the strategy accepts.

        :class:`Single` gives one ``n=1`` arm per model whatever ``n`` holds; multi-sample
        strategies take every ``n`` given (``n=1`` of a multi-sample strategy is skipped
        when :class:`Single` is also given, since it is the same action).

        Args:
            models: Model names.
            strategies: Strategy values.
            n: Sample counts.

        Returns:
            The arm space.
        """
        if not models:
            raise ConfigurationError("ArmSpace.product needs at least one model")
        has_single = any(isinstance(s, Single) for s in strategies)
        arms: list[Arm] = []
        for model in models:
            for strategy in strategies:
                if isinstance(strategy, Single):
                    arms.append(Arm(model, strategy, 1))
                    continue
                for count in sorted(set(n)):
                    if count == 1 and has_single:
                        continue
                    arms.append(Arm(model, strategy, count))
        return cls(arms)

    # -- collection protocol -------------------------------------------------------
    def __len__(self) -> int:
        return len(self._arms)

    def __iter__(self) -> Iterator[Arm]:
        return iter(self._arms)

    def __getitem__(self, i: int) -> Arm:
        return self._arms[i]

    def __contains__(self, arm: object) -> bool:
        return arm in self._index

    @property
    def arms(self) -> tuple[Arm, ...]:
        """The arms in order."""
        return tuple(self._arms)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model named by an arm, in order of first appearance."""
        return tuple(dict.fromkeys(a.model for a in self._arms))

    def index(self, arm: Arm) -> int:
        """Position of ``arm``.

        Raises:
            ConfigurationError: When the arm is not in the space.
        """
        try:
            return self._index[arm]
        except KeyError:
            raise ConfigurationError(
                f"arm {arm} is not in this arm space; add it with ArmSpace.add or "
                "Router.add_arm first"
            ) from None

    def find(self, key: str) -> Arm:
        """The arm whose :attr:`Arm.key` is ``key``."""
        arm = self.get(key)
        if arm is None:
            raise ConfigurationError(f"no arm with key {key!r}; known: {[a.key for a in self]}")
        return arm

    def get(self, key: str) -> Arm | None:
        """The arm whose :attr:`Arm.key` is ``key``, or ``None``."""
        return self._by_key.get(key)

    # -- mutation --------------------------------------------------------------------
    def add(self, arm: Arm) -> int:
        """Append ``arm`` and return its index.

        Raises:
            ConfigurationError: When the arm is already present.
        """
        if not isinstance(arm, Arm):
            raise ConfigurationError(f"expected an Arm, got {type(arm).__name__}")
        if arm in self._index:
            raise ConfigurationError(f"arm {arm} is already in the arm space")
        self._index[arm] = len(self._arms)
        self._by_key[arm.key] = arm
        self._arms.append(arm)
        for column in (f"model:{arm.model}", f"strategy:{arm.strategy.key}"):
            if column not in self._columns:
                self._columns.append(column)
        return self._index[arm]

    def remove(self, arm: Arm) -> None:
        """Remove ``arm``; its descriptor columns are kept."""
        i = self.index(arm)
        if len(self._arms) == 1:
            raise ConfigurationError("cannot remove the last arm of an ArmSpace")
        del self._arms[i]
        del self._by_key[arm.key]
        self._index = {a: j for j, a in enumerate(self._arms)}

    # -- descriptors -----------------------------------------------------------------
    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the descriptor columns, in order; new models and strategies append."""
        return ("bias", "log_n", *self._columns)

    def descriptor(self, arm: Arm, columns: Sequence[str] | None = None) -> np.ndarray:
        """Descriptor features of ``arm``: bias, ``log n / log 64``, one-hot model and strategy.

        Args:
            arm: The arm.
            columns: Column names to lay the features on (default :attr:`columns`).
        """
        cols = list(self.columns if columns is None else columns)
        vec = np.zeros(len(cols))
        vec[0] = 1.0
        vec[1] = math.log(arm.n) / math.log(64.0)
        vec[cols.index(f"model:{arm.model}")] = 1.0
        vec[cols.index(f"strategy:{arm.strategy.key}")] = 1.0
        return vec
