"""WordLlama static embeddings as router features, offline (``uniscale[embeddings]``).

The ``wordllama`` wheel ships its 256-dim ``l2_supercat`` token embedding and the
tokenizer next to it. ``WordLlama.load()`` looks for the tokenizer in a folder that does
not exist (``wordllama/tokenizer/``) and then downloads it, so this module builds the
inference object from the packaged files itself and never touches the network.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigurationError
from .types import Message

__all__ = ["WordLlamaFeaturizer"]

_MODEL = "l2_supercat"
_WIDTH = 256
_WEIGHTS = f"weights/{_MODEL}_{_WIDTH}.safetensors"
_TOKENIZER = f"tokenizers/{_MODEL}_tokenizer_config.json"
_MISSING = (
    "WordLlamaFeaturizer needs the wordllama package: pip install 'uniscale[embeddings]'"
)


def _package_dir() -> Path:
    """The installed ``wordllama`` folder, found without importing the package.

    Raises:
        ImportError: When ``wordllama`` is not installed, naming the extra.
    """
    try:
        spec = importlib.util.find_spec("wordllama")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_MISSING)
    return Path(next(iter(spec.submodule_search_locations)))


@contextmanager
def _keep_root_logging() -> Iterator[None]:
    """Undo the ``logging.basicConfig(level=INFO)`` that importing wordllama runs."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _load_inference(folder: Path, width: int) -> Any:
    """Build a ``WordLlamaInference`` from the packaged weights and tokenizer.

    Args:
        folder: The installed ``wordllama`` package folder.
        width: Leading embedding coordinates kept (Matryoshka truncation).

    Returns:
        The inference object (embedding matrix truncated to ``width`` columns).

    Raises:
        ImportError: When wordllama or one of its dependencies cannot be imported.
        ConfigurationError: When the wheel lacks the packaged weights or tokenizer.
    """
    weights, tokenizer_file = folder / _WEIGHTS, folder / _TOKENIZER
    for path in (weights, tokenizer_file):
        if not path.is_file():
            raise ConfigurationError(
                f"the wordllama package has no {path.relative_to(folder)}; reinstall it with "
                "pip install --force-reinstall 'uniscale[embeddings]'"
            )
    try:
        with _keep_root_logging():
            from safetensors import safe_open
            from tokenizers import Tokenizer
            from wordllama.inference import WordLlamaInference
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from exc
    with safe_open(str(weights), framework="np", device="cpu") as handle:
        matrix = handle.get_tensor("embedding.weight")[:, :width]
    return WordLlamaInference(matrix, Tokenizer.from_file(str(tokenizer_file)))


class WordLlamaFeaturizer:
    """Mean-pooled WordLlama token embeddings, truncated, plus a bias, L2-normalised.

    WordLlama (``l2_supercat``) is a static, Matryoshka-trained token embedding: the
    mean of a prompt's token vectors, cut to its leading coordinates, is a sentence
    embedding. The vector is the unit-normalised embedding of the conversation's text
    (every message, the last user turn twice, as in :class:`HashingFeaturizer`) and,
    with ``bias``, a constant coordinate; the whole is normalised again, so it has unit
    length. A blank text gives the bias alone (zeros without ``bias``).

    The package is looked up at construction (a missing extra fails there, cheaply);
    the weights and tokenizer load on the first :meth:`transform` (about a second,
    mostly importing wordllama) or on :meth:`load`. Thread-safe.

    Args:
        dim: Length of the vectors produced (2 to 256, or 257 with ``bias``); the
            embedding keeps its first ``dim - 1`` coordinates with a bias, ``dim``
            without. 64 (63 + bias) is the default, chosen by measurement
            (``benchmarks/featurizers.py``, a ridge router per arm on train, greedy on
            test): it is the fastest width and the best on date_mot (+0.04 over the
            best single arm, where 128 and 256 fell back to it) and faithful_cot (a
            tie); on routerbench 256 routed better (+0.06 vs +0.01). No width wins
            everywhere: tune it on your own records.
        bias: Append a constant coordinate, so linear models get an intercept.

    Raises:
        ImportError: When ``wordllama`` is not installed (``uniscale[embeddings]``).
        ConfigurationError: When ``dim`` is out of range.
    """

    def __init__(self, dim: int = 64, *, bias: bool = True) -> None:
        width = dim - 1 if bias is True else dim
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= width <= _WIDTH:
            most = _WIDTH + 1 if bias else _WIDTH
            raise ConfigurationError(
                f"WordLlamaFeaturizer dim must be an int from 2 to {most}, got {dim!r}"
            )
        if not isinstance(bias, bool):
            raise ConfigurationError(f"WordLlamaFeaturizer bias must be a bool, got {bias!r}")
        self.dim = dim
        self.bias = bias
        self._width = width
        self._folder = _package_dir()
        self._inference: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WordLlamaFeaturizer:
        """Rebuild the featurizer described by :meth:`config` (used by ``Router.load``)."""
        dim, bias = config.get("dim"), config.get("bias")
        if (config.get("kind") != "wordllama" or config.get("model") != _MODEL
                or not isinstance(dim, int) or not isinstance(bias, bool)):
            raise ConfigurationError(
                f"not a WordLlamaFeaturizer config (kind 'wordllama', model {_MODEL!r}, "
                f"int dim, bool bias): {config}"
            )
        return cls(dim, bias=bias)

    def load(self) -> WordLlamaFeaturizer:
        """Load the weights and tokenizer now instead of on the first transform."""
        self._model()
        return self

    def _model(self) -> Any:
        if self._inference is None:
            with self._lock:
                if self._inference is None:
                    self._inference = _load_inference(self._folder, self._width)
        return self._inference

    def _token_sum(self, text: str) -> np.ndarray:
        """Sum of the truncated token vectors of ``text`` (zeros if blank)."""
        model = self._model()
        if not text.strip():
            return np.zeros(self._width)
        ids = model.tokenizer.encode(text, add_special_tokens=False).ids
        index = np.asarray(ids, dtype=np.intp)
        np.clip(index, 0, model.embedding.shape[0] - 1, out=index)
        return model.embedding[index].sum(axis=0, dtype=np.float64)

    @staticmethod
    def _unit(vec: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 and np.isfinite(norm) else np.zeros_like(vec)

    def embed(self, text: str) -> np.ndarray:
        """The unit-normalised, truncated WordLlama embedding of ``text`` (zeros if blank).

        Equal to ``WordLlamaInference.embed(text, norm=True)`` for a non-blank text.
        """
        return self._unit(self._token_sum(text))

    def transform(self, messages: Sequence[Message]) -> np.ndarray:
        """Embed the conversation into a unit vector of length :attr:`dim`.

        The mean of the token vectors of every message, the last user turn's counted
        twice (each message is tokenised once), unit-normalised.
        """
        last = next((i for i in range(len(messages) - 1, -1, -1)
                     if messages[i].role == "user"), None)
        pooled = np.zeros(self._width)
        for i, message in enumerate(messages):
            if message.content.strip():
                pooled += (2.0 if i == last else 1.0) * self._token_sum(message.content)
        vec = self._unit(pooled)
        if self.bias:
            vec = np.concatenate([vec, [1.0]]) / np.sqrt(2.0 if vec.any() else 1.0)
        return vec

    def config(self) -> dict[str, Any]:
        """JSON description of this featurizer."""
        return {"kind": "wordllama", "model": _MODEL, "dim": self.dim, "bias": self.bias}
