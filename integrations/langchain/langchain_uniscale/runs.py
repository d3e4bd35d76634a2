"""From LangChain run ids to UniScale decision ids.

Users hold run ids: the id of the chat-model call (``config={"run_id": ...}`` or seen
by a callback) or, more often, the id of the *root* run of the chain or agent that made
the call. :class:`RunGraph` remembers which run started inside which, and
:class:`RunIndex` maps every run, and every ancestor of it, to the decisions made in it.

The graph is filled by a callback handler that LangChain adds to every callback manager
it configures once run tracking is enabled (``ChatUniScale(track_runs=True)``, the
default). The handler only stores ``run_id -> parent_run_id`` for a bounded number of
recent runs.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.tracers.context import register_configure_hook

from uniscale import Decision, Result, UnknownDecisionError

__all__ = [
    "RunGraph",
    "RunIndex",
    "enable_run_tracking",
    "parse_run_id",
    "resolve_targets",
    "run_graph",
]

_LC_ID_PREFIX = "lc_run--"


def parse_run_id(value: Any) -> str | None:
    """The canonical text of a run id (``None`` when ``value`` is not a UUID).

    Accepts a :class:`uuid.UUID`, its text, or a LangChain message id
    ``lc_run--<uuid>`` (with the ``-<index>`` suffix of generated messages).
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        return None
    text = value[len(_LC_ID_PREFIX):][:36] if value.startswith(_LC_ID_PREFIX) else value
    if "-" not in text:  # a bare hex string is a decision id, not a run id
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


class _Bounded(OrderedDict[str, Any]):
    """An insertion-ordered dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class RunGraph(BaseCallbackHandler):
    """Records the parent of every LangChain run that starts (bounded memory).

    Args:
        limit: How many runs to remember.
    """

    run_inline = True
    raise_error = False

    def __init__(self, limit: int = 200_000) -> None:
        super().__init__()
        self._parents = _Bounded(limit)
        self._lock = threading.Lock()

    def link(self, run_id: Any, parent_run_id: Any) -> None:
        """Remember that ``run_id`` started inside ``parent_run_id``."""
        if parent_run_id is None:
            return
        with self._lock:
            self._parents.put(str(run_id), str(parent_run_id))

    def ancestors(self, run_id: str) -> list[str]:
        """The known chain of parents of ``run_id``, nearest first."""
        out: list[str] = []
        seen = {run_id}
        with self._lock:
            current = self._parents.get(run_id)
            while current is not None and current not in seen:
                out.append(current)
                seen.add(current)
                current = self._parents.get(current)
        return out

    def _on_start(self, run_id: Any, parent_run_id: Any) -> None:
        self.link(run_id, parent_run_id)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: uuid.UUID,
                       parent_run_id: uuid.UUID | None = None, **kwargs: Any) -> None:
        """Record a chain run."""
        self._on_start(run_id, parent_run_id)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: uuid.UUID,
                            parent_run_id: uuid.UUID | None = None, **kwargs: Any) -> None:
        """Record a chat-model run."""
        self._on_start(run_id, parent_run_id)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: uuid.UUID,
                     parent_run_id: uuid.UUID | None = None, **kwargs: Any) -> None:
        """Record an LLM run."""
        self._on_start(run_id, parent_run_id)

    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: uuid.UUID,
                      parent_run_id: uuid.UUID | None = None, **kwargs: Any) -> None:
        """Record a tool run."""
        self._on_start(run_id, parent_run_id)

    def on_retriever_start(self, serialized: Any, query: Any, *, run_id: uuid.UUID,
                           parent_run_id: uuid.UUID | None = None, **kwargs: Any) -> None:
        """Record a retriever run."""
        self._on_start(run_id, parent_run_id)


_GRAPH = RunGraph()
# The variable's default is the graph, so that the hook finds it in every thread and task.
_GRAPH_VAR: ContextVar[RunGraph | None] = ContextVar("uniscale_run_graph", default=_GRAPH)
_ENABLE_LOCK = threading.Lock()
_state = {"enabled": False}


def run_graph() -> RunGraph:
    """The process-wide :class:`RunGraph`."""
    return _GRAPH


def enable_run_tracking() -> RunGraph:
    """Have LangChain report the start of every run to the process-wide graph.

    Idempotent. Registers a configure hook whose handler is inherited by every nested run.
    """
    with _ENABLE_LOCK:
        if not _state["enabled"]:
            register_configure_hook(_GRAPH_VAR, inheritable=True)
            _state["enabled"] = True
    return _GRAPH


class RunIndex:
    """Decisions by run id and by ancestor run id.

    Args:
        graph: Where parent links are looked up.
        limit: How many runs and ancestors to remember.
    """

    def __init__(self, graph: RunGraph, limit: int = 100_000) -> None:
        self.graph = graph
        self._by_run = _Bounded(limit)
        self._by_ancestor = _Bounded(limit)
        self._lock = threading.Lock()

    def record(self, run_id: Any, decision_id: str, parent_run_id: Any = None) -> None:
        """Remember that the call ``run_id`` was served by ``decision_id``.

        Args:
            run_id: The chat-model run.
            decision_id: The router's decision.
            parent_run_id: The run it started in, when known from its run manager.
        """
        run = str(run_id)
        if parent_run_id is not None:
            self.graph.link(run, parent_run_id)
        ancestors = self.graph.ancestors(run)
        with self._lock:
            self._by_run.put(run, [*self._by_run.get(run, []), decision_id])
            for ancestor in ancestors:
                self._by_ancestor.put(
                    ancestor, [*self._by_ancestor.get(ancestor, []), decision_id])

    def decisions(self, run_id: str) -> list[str]:
        """Decisions made in run ``run_id`` or in any run inside it (empty if none)."""
        with self._lock:
            own = self._by_run.get(run_id)
            if own:
                return list(own)
            return list(self._by_ancestor.get(run_id, []))

    def runs(self) -> list[str]:
        """Every run id with decisions in it: the routed calls and the runs around them."""
        with self._lock:
            return list(dict.fromkeys([*self._by_run, *self._by_ancestor]))


def resolve_targets(target: Any, index: RunIndex) -> list[str]:
    """The decision ids a feedback target names.

    Args:
        target: A LangChain run id (``UUID``, its text, or a message id ``lc_run--...``)
            of a routed call or of a run containing routed calls; a message returned by
            ChatUniScale; a :class:`uniscale.Decision` or :class:`uniscale.Result`; or a
            decision id.
        index: Where run ids are looked up.

    Returns:
        The decision ids (checked by the router when the score is given).

    Raises:
        uniscale.UnknownDecisionError: The target names no routed call.
    """
    if isinstance(target, BaseMessage):
        info = target.response_metadata.get("uniscale")
        if isinstance(info, dict) and info.get("decision_id"):
            return [str(info["decision_id"])]
        raise UnknownDecisionError(
            "this message carries no UniScale decision: pass a message returned by "
            "ChatUniScale (it has response_metadata['uniscale']['decision_id'])")
    if isinstance(target, Decision):
        return [target.id]
    if isinstance(target, Result):
        return [target.decision.id]
    run_id = parse_run_id(target)
    if run_id is not None:
        found = index.decisions(run_id)
        if not found:
            raise UnknownDecisionError(
                f"no call routed by this ChatUniScale ran as run {run_id} or inside it: "
                "pass the run id of the call or of the chain/agent that made it "
                "(config={'run_id': ...}), the returned AIMessage, or the decision id")
        return found
    if isinstance(target, str):
        return [target]
    raise UnknownDecisionError(
        f"cannot give feedback to a {type(target).__name__}: pass a LangChain run id "
        "(UUID), an AIMessage returned by ChatUniScale, or a decision id (str)")
