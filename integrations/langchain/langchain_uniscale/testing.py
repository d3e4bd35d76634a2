"""An offline chat model for tests and examples that really emits tool calls.

``ScriptedChatModel`` answers from a list or a function, reports token usage, streams
word by word and, when tools are bound, calls one: the tool named by ``tool_choice``, else
the one the prompt mentions, else the first. Arguments are filled from the JSON schema:
integers from the numbers in the prompt, strings from its first quoted phrase.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr

__all__ = ["ScriptedChatModel"]

_NUMBER = re.compile(r"-?\d+")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")


def _tokens(text: str) -> int:
    return -(-len(text) // 4)


class ScriptedChatModel(BaseChatModel):
    """A deterministic chat model that needs no network.

    Attributes:
        model: Name reported in ``response_metadata["model_name"]``.
        responses: Replies served in turn, or ``fn(messages) -> str``; default echoes.
        model_provider: Reported as ``response_metadata["model_provider"]`` when set.
        report_usage: Whether replies carry ``usage_metadata``.
        temperature: Accepted like a real model's (recorded, not used).
        max_tokens: Cap on reply words.
    """

    model: str = "scripted"
    responses: list[str] | Callable[[list[BaseMessage]], str] | None = None
    model_provider: str | None = None
    report_usage: bool = True
    temperature: float | None = None
    max_tokens: int | None = None

    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serialisable with ``dumpd`` (unless ``responses`` is a function)."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_uniscale", "testing"]``."""
        return ["langchain_uniscale", "testing"]

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages of every call made so far (shared by copies of this model)."""
        return self._calls

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools in OpenAI format."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return super().bind(tools=formatted, **kwargs)

    # -- the script -------------------------------------------------------------------
    def _text(self, messages: list[BaseMessage], index: int) -> str:
        if callable(self.responses):
            return self.responses(messages)
        if self.responses:
            return self.responses[index % len(self.responses)]
        last = messages[-1].text if messages else ""
        return f"Hello from {self.model}. You said: {last}"

    @staticmethod
    def _pick_tool(tools: list[dict[str, Any]], tool_choice: Any, prompt: str
                   ) -> dict[str, Any]:
        names = [t["function"]["name"] for t in tools]
        chosen = None
        if isinstance(tool_choice, str) and tool_choice in names:
            chosen = tool_choice
        elif isinstance(tool_choice, dict):
            chosen = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        if chosen is None:
            chosen = next((n for n in names if n in prompt), names[0])
        return tools[names.index(chosen)] if chosen in names else tools[0]

    @staticmethod
    def _args(tool: dict[str, Any], prompt: str) -> dict[str, Any]:
        properties = (tool["function"].get("parameters") or {}).get("properties") or {}
        numbers = [int(n) for n in _NUMBER.findall(prompt)]
        quoted = next((a or b for a, b in _QUOTED.findall(prompt)), None)
        args: dict[str, Any] = {}
        for name, schema in properties.items():
            kind = schema.get("type")
            if kind is None and schema.get("anyOf"):
                kind = next((s.get("type") for s in schema["anyOf"] if s.get("type") != "null"),
                            "string")
            if kind in ("integer", "number"):
                args[name] = numbers.pop(0) if numbers else 1
            elif kind == "boolean":
                args[name] = True
            elif kind == "array":
                args[name] = []
            elif kind == "object":
                args[name] = {}
            else:
                args[name] = quoted or f"{name.replace('_', ' ')} from {tool['function']['name']}"
        return args

    def _reply(self, messages: list[BaseMessage], stop: list[str] | None,
               kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            index = len(self._calls)
            self._calls.append(list(messages))
        tools = kwargs.get("tools") or []
        last = messages[-1] if messages else None
        prompt = last.text if last is not None else ""
        metadata: dict[str, Any] = {"model_name": self.model}
        if self.model_provider:
            metadata["model_provider"] = self.model_provider
        if tools and not isinstance(last, ToolMessage) and kwargs.get("tool_choice") != "none":
            tool = self._pick_tool(tools, kwargs.get("tool_choice"), prompt)
            call = {"name": tool["function"]["name"], "args": self._args(tool, prompt),
                    "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
            message = AIMessage(content="", tool_calls=[call], response_metadata=metadata)
            out_text = json.dumps(call["args"], ensure_ascii=False)
        else:
            if isinstance(last, ToolMessage):
                text = f"The tool returned: {last.text}"
            else:
                text = self._text(messages, index)
            for token in stop or []:
                if token and token in text:
                    text = text[: text.index(token)]
            if self.max_tokens is not None:
                text = " ".join(text.split(" ")[: self.max_tokens])
            message = AIMessage(content=text or "...", response_metadata=metadata)
            out_text = str(message.content)
        if self.report_usage:
            inputs = sum(_tokens(m.text) + 4 for m in messages)
            outputs = _tokens(out_text)
            message.usage_metadata = UsageMetadata(
                input_tokens=inputs, output_tokens=outputs, total_tokens=inputs + outputs)
        return message

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages, stop,
                                                                          kwargs))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self._reply(messages, stop, kwargs)
        pieces: list[AIMessageChunk] = []
        if message.tool_calls:
            pieces.append(AIMessageChunk(content="", tool_call_chunks=[
                tool_call_chunk(name=c["name"], args=json.dumps(c["args"], ensure_ascii=False),
                                id=c["id"], index=i)
                for i, c in enumerate(message.tool_calls)]))
        else:
            words = re.findall(r"\S+\s*|\s+", str(message.content))
            pieces.extend(AIMessageChunk(content=w) for w in words)
        pieces[-1] = AIMessageChunk(
            content=pieces[-1].content, tool_call_chunks=pieces[-1].tool_call_chunks,
            usage_metadata=message.usage_metadata, response_metadata=message.response_metadata,
            chunk_position="last")
        for piece in pieces:
            chunk = ChatGenerationChunk(message=piece)
            if run_manager:
                run_manager.on_llm_new_token(str(piece.content), chunk=chunk)
            yield chunk
