"""Errors raised by UniScale.

Every error derives from :class:`UniScaleError` and its message says what was wrong and
what to do about it. An error raised by a public call never leaves the learned state
half-updated.
"""

from __future__ import annotations

__all__ = [
    "AllSamplesFailedError",
    "ArmSpaceMismatchError",
    "BackendError",
    "ConfigurationError",
    "DuplicateFeedbackError",
    "EmptyRequestError",
    "ExpiredDecisionError",
    "FeaturizerMismatchError",
    "InvalidFeaturesError",
    "InvalidRequestError",
    "InvalidScoreError",
    "LogFileError",
    "MissingBackendError",
    "MissingPriceError",
    "NoArmAllowedError",
    "NumericalError",
    "StateFileError",
    "StoreUnavailableError",
    "UniScaleError",
    "UnknownDecisionError",
]


class UniScaleError(Exception):
    """Base class of every error raised by UniScale."""


class ConfigurationError(UniScaleError, ValueError):
    """A setting or constructor argument is invalid."""


class MissingPriceError(ConfigurationError):
    """An arm names a model that has no :class:`~uniscale.Price`."""


class MissingBackendError(ConfigurationError):
    """A request must run on a model that has no backend."""


class NoArmAllowedError(ConfigurationError):
    """``allowed=`` left no arm to choose from."""


class EmptyRequestError(UniScaleError, ValueError):
    """The prompt or the message list is empty."""


class InvalidRequestError(UniScaleError, TypeError):
    """A request, its options or a usage report has the wrong type or value."""


class InvalidFeaturesError(UniScaleError, ValueError):
    """A feature vector has the wrong shape or non-finite values."""


class InvalidScoreError(UniScaleError, ValueError):
    """A feedback score or cost is NaN, infinite or out of range."""


class UnknownDecisionError(UniScaleError, KeyError):
    """Feedback names a decision id the router never issued (or already forgot)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ExpiredDecisionError(UnknownDecisionError):
    """Feedback arrived after the decision's time-to-live."""


class DuplicateFeedbackError(UniScaleError, ValueError):
    """Feedback for this decision was already given."""


class StateFileError(UniScaleError, ValueError):
    """A saved state file is missing, corrupt or truncated."""


class LogFileError(UniScaleError, ValueError):
    """A decision log is missing or a line of it is not a decision-log record."""


class ArmSpaceMismatchError(StateFileError):
    """A saved state belongs to another arm space than the one supplied."""


class FeaturizerMismatchError(StateFileError):
    """A saved state was learned with another featurizer than the one supplied."""


class NumericalError(UniScaleError, ArithmeticError):
    """The learned statistics gave non-finite values; nothing was changed."""


class StoreUnavailableError(UniScaleError, ConnectionError):
    """A shared store (Redis) could not be reached; nothing was changed by the call."""


class BackendError(UniScaleError, RuntimeError):
    """A backend call failed."""


class AllSamplesFailedError(BackendError):
    """Every sample of an arm failed; ``errors`` holds the causes."""

    def __init__(self, message: str, errors: list[BaseException] | None = None) -> None:
        super().__init__(message)
        self.errors: list[BaseException] = list(errors or [])
