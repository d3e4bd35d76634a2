"""Pure conversions between LangChain and core values."""

from __future__ import annotations

from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_uniscale.convert import (
    message_to_chunk,
    sum_usage_metadata,
    to_langchain_messages,
    to_uniscale_messages,
    usage_from_metadata,
    usage_to_metadata,
)

import uniscale as us


def test_messages_keep_role_text_and_the_original() -> None:
    call = {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}
    originals = [
        SystemMessage("be brief"),
        HumanMessage([{"type": "text", "text": "what is"}, {"type": "text", "text": "1+1"}]),
        AIMessage("", tool_calls=[call]),
        ToolMessage("2", tool_call_id="c1"),
        ChatMessage(content="hm", role="critic"),
    ]
    core = to_uniscale_messages(originals)
    assert [m.role for m in core] == ["system", "user", "assistant", "tool", "critic"]
    assert core[1].content == "what is1+1"
    back = to_langchain_messages(core)
    assert all(a is b for a, b in zip(back, originals, strict=True))


def test_messages_added_by_the_core_are_built_from_their_role() -> None:
    back = to_langchain_messages([us.Message("system", "think step by step"),
                                  us.Message("user", "hi"), us.Message("assistant", "yo"),
                                  us.Message("tool", "3", {"tool_call_id": "x"})])
    assert [type(m) for m in back] == [SystemMessage, HumanMessage, AIMessage, ToolMessage]
    assert back[0].content == "think step by step"
    assert back[3].tool_call_id == "x"


def test_usage_round_trip_with_details() -> None:
    metadata = {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42,
                "input_token_details": {"cache_read": 10, "cache_creation": 5},
                "output_token_details": {"reasoning": 4}}
    usage = usage_from_metadata(metadata)
    assert usage == us.Usage(30, 12, cached_input_tokens=10, cache_write_tokens=5,
                             reasoning_tokens=4, calls=1)
    assert usage_to_metadata(usage) == metadata
    assert usage_from_metadata(None) is None


def test_sum_of_usage_metadata() -> None:
    a = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    b = {"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}
    assert sum_usage_metadata([a, None, b]) == {"input_tokens": 13, "output_tokens": 5,
                                                "total_tokens": 18}
    assert sum_usage_metadata([None, None]) is None


def test_message_to_chunk_keeps_tool_calls_and_marks_the_end() -> None:
    call = {"name": "add", "args": {"a": 1, "b": "é"}, "id": "c1", "type": "tool_call"}
    message = AIMessage("", tool_calls=[call], response_metadata={"model_name": "m"},
                        usage_metadata={"input_tokens": 1, "output_tokens": 2,
                                        "total_tokens": 3})
    chunk = message_to_chunk(message)
    assert chunk.chunk_position == "last"
    assert chunk.tool_calls == [call]
    assert chunk.usage_metadata == message.usage_metadata
    assert chunk.response_metadata == {"model_name": "m"}
