"""Rewards from LangSmith: the feedback users record there, learned by the router.

Users rate answers in LangSmith (``Client.create_feedback(run_id, key, score=...)``, or
the 👍/👎 of an app that calls it), usually on the root run of a chain or agent.
:func:`learn_from_langsmith` reads one feedback key for the runs this ChatUniScale made
(or ran inside) and gives each score to the decisions of that run, once.

Needs the ``langsmith`` package (it comes with ``langchain-core``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from uniscale import DuplicateFeedbackError, UnknownDecisionError

if TYPE_CHECKING:
    from langsmith import Client
    from langsmith.schemas import Feedback

    from .chat_models import ChatUniScale

__all__ = ["learn_from_langsmith"]

_BATCH = 100  # run ids per request (they go into the query string)


def _score(feedback: Feedback) -> float | None:
    score = feedback.score
    if isinstance(score, bool):
        return 1.0 if score else 0.0
    return float(score) if isinstance(score, (int, float)) else None


def learn_from_langsmith(chat: ChatUniScale, key: str, *, client: Client | None = None,
                         run_ids: Iterable[Any] | None = None,
                         score: Callable[[Feedback], float | None] = _score) -> int:
    """Learn the LangSmith feedback ``key`` of the runs ``chat`` routed calls in.

    Args:
        chat: The router chat model (it knows the run ids of its calls and of the runs
            that contained them, with ``track_runs=True``, the default).
        key: The feedback key, e.g. ``"user_score"`` or ``"thumbs"``.
        client: A ``langsmith.Client`` (default: one from the environment).
        run_ids: The runs to read feedback for (default: every run ``chat`` knows).
        score: Maps a feedback to a score in ``[0, 1]`` (``None`` skips it); default:
            its numeric ``score`` (``True``/``False`` as 1/0).

    Returns:
        How many decisions learned a score. Decisions that already have feedback (from
        an earlier read, or given in code) are skipped, so reading again is safe.

    Raises:
        uniscale.InvalidScoreError: A score is out of ``[0, 1]`` (map it with ``score=``).
    """
    if client is None:
        from langsmith import Client

        client = Client()
    ids = [str(r) for r in (run_ids if run_ids is not None else chat._runs.runs())]
    learned = 0
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        for feedback in client.list_feedback(run_ids=batch, feedback_key=[key]):
            value = score(feedback)
            if value is None or feedback.run_id is None:
                continue
            try:
                learned += len(chat.feedback_decisions(feedback.run_id, value))
            except (DuplicateFeedbackError, UnknownDecisionError):
                continue  # learned before, or a run this router did not route in
    return learned
