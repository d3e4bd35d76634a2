"""UniScale: choose which model answers and how much test-time compute it spends.

One joint decision per request, learned online by a hybrid LinUCB bandit from the
rewards you feed back.
"""

from .arms import Arm, ArmSpace
from .backends.base import AsyncBackend, Backend
from .backends.common import MalformedResponseError, ProviderError, StreamInterruptedError
from .backends.fake import FakeBackend
from .cost import CostModel, Price
from .embeddings import WordLlamaFeaturizer
from .errors import (
    AllSamplesFailedError,
    ArmSpaceMismatchError,
    BackendError,
    ConfigurationError,
    DuplicateFeedbackError,
    EmptyRequestError,
    ExpiredDecisionError,
    FeaturizerMismatchError,
    InvalidFeaturesError,
    InvalidRequestError,
    InvalidScoreError,
    LogFileError,
    MissingBackendError,
    MissingPriceError,
    NoArmAllowedError,
    NumericalError,
    StateFileError,
    StoreUnavailableError,
    UniScaleError,
    UnknownDecisionError,
)
from .extract import extract_answer, majority_vote
from .features import EmbeddingFeaturizer, Featurizer, HashingFeaturizer
from .fit import Outcome
from .implicit import ImplicitRewards
from .log import DecisionLog, DecisionSink
from .logread import LoggedDecision, read_log
from .objective import Budget, Tradeoff
from .results import Candidate, Decision, Result
from .router import Router
from .stopping import EarlyStop
from .strategies import BestOfN, Judge, SelfConsistency, Single, Strategy
from .types import Completion, Message, Request, Sample, Usage

__version__ = "0.1.0"

__all__ = [
    "AllSamplesFailedError",
    "Arm",
    "ArmSpace",
    "ArmSpaceMismatchError",
    "AsyncBackend",
    "Backend",
    "BackendError",
    "BestOfN",
    "Budget",
    "Candidate",
    "Completion",
    "ConfigurationError",
    "CostModel",
    "Decision",
    "DecisionLog",
    "DecisionSink",
    "DuplicateFeedbackError",
    "EarlyStop",
    "EmbeddingFeaturizer",
    "EmptyRequestError",
    "ExpiredDecisionError",
    "FakeBackend",
    "Featurizer",
    "FeaturizerMismatchError",
    "HashingFeaturizer",
    "ImplicitRewards",
    "InvalidFeaturesError",
    "InvalidRequestError",
    "InvalidScoreError",
    "Judge",
    "LogFileError",
    "LoggedDecision",
    "MalformedResponseError",
    "Message",
    "MissingBackendError",
    "MissingPriceError",
    "NoArmAllowedError",
    "NumericalError",
    "Outcome",
    "Price",
    "ProviderError",
    "Request",
    "Result",
    "Router",
    "Sample",
    "SelfConsistency",
    "Single",
    "StateFileError",
    "StoreUnavailableError",
    "Strategy",
    "StreamInterruptedError",
    "Tradeoff",
    "UniScaleError",
    "UnknownDecisionError",
    "Usage",
    "WordLlamaFeaturizer",
    "__version__",
    "extract_answer",
    "majority_vote",
    "read_log",
]
