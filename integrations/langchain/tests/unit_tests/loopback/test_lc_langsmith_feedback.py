"""Feedback recorded in LangSmith becomes the router's rewards (real langsmith.Client).

The client talks HTTP to a loopback fake of the LangSmith feedback API (see conftest).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda
from langchain_uniscale import ChatUniScale
from langchain_uniscale.langsmith import learn_from_langsmith
from langchain_uniscale.testing import ScriptedChatModel

import uniscale as us

langsmith = pytest.importorskip("langsmith")


def _chat() -> ChatUniScale:
    return ChatUniScale(models={"small": ScriptedChatModel(model="small-1"),
                                "large": ScriptedChatModel(model="large-1")},
                        prices={"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)})


def _client(api: Any) -> Any:
    return langsmith.Client(api_url=api.url, api_key="test-key", auto_batch_tracing=False)


def test_scores_on_root_runs_and_calls_are_learned_once(langsmith_api: Any) -> None:
    chat = _chat()
    chain = RunnableLambda(lambda q: f"Answer briefly: {q}") | chat
    roots = [uuid.uuid4() for _ in range(3)]
    replies = [chain.invoke(f"question {i}", config={"run_id": root})
               for i, root in enumerate(roots)]
    call = uuid.uuid4()
    direct = chat.invoke("a direct call", config={"run_id": call})
    client = _client(langsmith_api)
    session = uuid.uuid4()
    client.create_feedback(roots[0], "user_score", score=1.0, session_id=session)
    client.create_feedback(roots[1], "user_score", score=False, session_id=session)
    client.create_feedback(roots[2], "other_key", score=1.0, session_id=session)
    client.create_feedback(call, "user_score", score=0.5, session_id=session)
    client.create_feedback(uuid.uuid4(), "user_score", score=1.0, session_id=session)
    assert learn_from_langsmith(chat, "user_score", client=client) == 3
    assert chat.router.stats["feedback"] == 3
    assert learn_from_langsmith(chat, "user_score", client=client) == 0  # read again: safe
    with pytest.raises(us.DuplicateFeedbackError):
        chat.feedback(replies[0], 1.0)  # that decision learned from LangSmith
    assert chat.feedback(replies[2], 1.0) is True  # other_key was not read
    with pytest.raises(us.DuplicateFeedbackError):
        chat.feedback(direct, 1.0)
    assert any(path == "/feedback" for method, path in langsmith_api.requests
               if method == "GET")


def test_a_score_mapping_and_explicit_run_ids(langsmith_api: Any) -> None:
    chat = _chat()
    root = uuid.uuid4()
    reply = chat.invoke("rate me", config={"run_id": root})
    client = _client(langsmith_api)
    client.create_feedback(root, "stars", score=4, session_id=uuid.uuid4())
    with pytest.raises(us.InvalidScoreError):
        learn_from_langsmith(chat, "stars", client=client)  # 4 is not in [0, 1]
    learned = learn_from_langsmith(chat, "stars", client=client, run_ids=[root],
                                   score=lambda f: None if f.score is None else f.score / 5)
    assert learned == 1
    assert chat.router.stats["feedback"] == 1
    with pytest.raises(us.DuplicateFeedbackError):
        chat.feedback(reply, 1.0)
