"""Feedback reaches the right decision by run id, message, decision id and root run id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_uniscale import ChatUniScale

import uniscale as us

MakeChat = Callable[..., ChatUniScale]


class DecisionLog(BaseCallbackHandler):
    """Collects the decision id of every routed call it sees."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        generation = response.generations[0][0]
        assert isinstance(generation, ChatGeneration)
        self.ids.append(generation.message.response_metadata["uniscale"]["decision_id"])


def _pending(chat: ChatUniScale) -> set[str]:
    return {p.id for p in chat.router.pending}


def _decision(message: Any) -> str:
    return str(message.response_metadata["uniscale"]["decision_id"])


def test_by_run_id_set_in_config(make_chat: MakeChat) -> None:
    chat = make_chat()
    run_id = uuid.uuid4()
    other = chat.invoke("another question")
    reply = chat.invoke("What is 6 * 7?", config={"run_id": run_id})
    assert chat.feedback_decisions(run_id, 1.0) == [_decision(reply)]
    assert _decision(reply) not in _pending(chat)
    assert _decision(other) in _pending(chat)  # only the named call learned
    assert chat.router.stats["feedback"] == 1


def test_by_run_id_as_text_and_as_message_id(make_chat: MakeChat) -> None:
    chat = make_chat()
    first = chat.invoke("one", config={"run_id": (run_id := uuid.uuid4())})
    second = chat.invoke("two")
    assert chat.feedback_decisions(str(run_id), 0.0) == [_decision(first)]
    assert second.id is not None and second.id.startswith("lc_run--")
    assert chat.feedback_decisions(second.id, 1.0) == [_decision(second)]


def test_by_message(make_chat: MakeChat) -> None:
    chat = make_chat()
    reply = chat.invoke("What is 6 * 7?")
    assert chat.feedback_decisions(reply, 0.5) == [_decision(reply)]
    assert _decision(reply) not in _pending(chat)


def test_by_decision_id(make_chat: MakeChat) -> None:
    chat = make_chat()
    reply = chat.invoke("What is 6 * 7?")
    decision = _decision(reply)
    assert chat.feedback_decisions(decision, 1.0) == [decision]


def test_by_root_run_of_a_chain(make_chat: MakeChat) -> None:
    chat = make_chat()
    log = DecisionLog()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | chat | StrOutputParser()
    root = uuid.uuid4()
    assert chain.invoke({"q": "What is 6 * 7?"}, config={"run_id": root, "callbacks": [log]})
    chain.invoke({"q": "unrelated"}, config={"callbacks": [log]})
    assert len(log.ids) == 2
    assert chat.feedback_decisions(root, 1.0) == [log.ids[0]]
    assert _pending(chat) == {log.ids[1]}


def test_root_run_credits_every_routed_call_inside(make_chat: MakeChat) -> None:
    chat = make_chat()
    log = DecisionLog()

    def two_calls(question: str) -> str:
        draft = chat.invoke(question)
        return str(chat.invoke(f"Check this answer: {draft.text}").content)

    root = uuid.uuid4()
    RunnableLambda(two_calls).invoke("What is 6 * 7?",
                                     config={"run_id": root, "callbacks": [log]})
    assert len(log.ids) == 2
    assert sorted(chat.feedback_decisions(root, 1.0)) == sorted(log.ids)
    assert not _pending(chat)
    with pytest.raises(us.DuplicateFeedbackError):
        chat.feedback(root, 1.0)


def test_by_run_id_of_a_stream(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single()])
    run_id = uuid.uuid4()
    full = None
    for chunk in chat.stream("Tell me something", config={"run_id": run_id}):
        full = chunk if full is None else full + chunk
    assert full is not None
    assert chat.feedback_decisions(run_id, 1.0) == [_decision(full)]


async def test_by_run_id_async(make_chat: MakeChat) -> None:
    chat = make_chat(strategies=[us.Single(), us.SelfConsistency()], n=[1, 3])
    run_id, stream_id = uuid.uuid4(), uuid.uuid4()
    reply = await chat.ainvoke("What is 6 * 7?", config={"run_id": run_id})
    chunks = [c async for c in chat.astream("And 7 * 8?", config={"run_id": stream_id})]
    assert chat.feedback_decisions(run_id, 1.0) == [_decision(reply)]
    assert chat.feedback_decisions(stream_id, 0.0) == [_decision(chunks[-1])]


def test_wrong_targets_raise_clear_errors(make_chat: MakeChat) -> None:
    chat = make_chat()
    reply = chat.invoke("What is 6 * 7?")
    before = chat.router.stats["feedback"]
    with pytest.raises(us.UnknownDecisionError, match="no call routed"):
        chat.feedback(uuid.uuid4(), 1.0)
    with pytest.raises(us.UnknownDecisionError, match="unknown decision id"):
        chat.feedback("not-a-decision", 1.0)
    with pytest.raises(us.UnknownDecisionError, match="carries no UniScale decision"):
        chat.feedback(AIMessage("written by hand"), 1.0)
    with pytest.raises(us.UnknownDecisionError, match="cannot give feedback to a int"):
        chat.feedback(42, 1.0)
    with pytest.raises(us.InvalidScoreError):
        chat.feedback(reply, 1.5)
    assert chat.router.stats["feedback"] == before  # nothing was learned
    chat.feedback(reply, 1.0)
    with pytest.raises(us.DuplicateFeedbackError):
        chat.feedback(reply, 1.0)
