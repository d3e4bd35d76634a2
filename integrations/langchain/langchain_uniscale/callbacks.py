"""Callbacks of the children's runs: nested under the router's run, usage counted once.

A child chat model is called through its public, traced interface (``generate``,
``stream``, ...), so its rate limiter, cache and own callbacks work. Its run is a child
of the router's run. From the router's run it inherits the tracers only (LangSmith's
``LangChainTracer``, run collectors, the console tracer), so traces show the child runs
nested in the router's run. The handlers a user passed in ``config={"callbacks": ...}``
see one chat-model run per call, the router's, as LangChain's standard tests require of
a chat model: its reply carries the usage of every sample once, under the child's real
model name. Usage counters from configure hooks (``get_usage_metadata_callback``) are
withheld from the children's runs for the same reason. Handlers the user put on the
child itself (``ChatOpenAI(callbacks=[...])``) see every child call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import (
    BaseCallbackHandler,
    CallbackManager,
    UsageMetadataCallbackHandler,
)
from langchain_core.callbacks.manager import BaseRunManager
from langchain_core.tracers.base import AsyncBaseTracer, BaseTracer
from langchain_core.tracers.log_stream import LogStreamCallbackHandler

__all__ = ["USAGE_HANDLERS", "child_callbacks", "usage_hooks_off"]

USAGE_HANDLERS: tuple[type[BaseCallbackHandler], ...] = (UsageMetadataCallbackHandler,)
"""Handler types withheld from the children's runs (the router's reply reports usage)."""

_LS_KEYS = ("ls_provider", "ls_model_name", "ls_model_type", "ls_temperature",
            "ls_max_tokens", "ls_stop")


def _counts_usage(handler: BaseCallbackHandler) -> bool:
    return isinstance(handler, USAGE_HANDLERS)


def _inherited(handler: BaseCallbackHandler) -> bool:
    """Whether a child run inherits ``handler`` from the router's run: tracers only.

    Stream consumers (``astream_log``) are left out: they stream the router's tokens.
    """
    return (isinstance(handler, (BaseTracer, AsyncBaseTracer))
            and not isinstance(handler, LogStreamCallbackHandler)
            and not _counts_usage(handler))


def child_callbacks(parent: BaseRunManager | None) -> CallbackManager | None:
    """A callback manager for a child run nested under the router's run ``parent``.

    Args:
        parent: The router's run manager (sync or async), or ``None``.

    Returns:
        A manager whose runs have ``parent_run_id`` = the router's run and inherit its
        tracers, tags and metadata (its ``ls_*`` tracing params left out: the child
        reports its own), or ``None`` without a parent.
    """
    if parent is None:
        return None
    inherited = [h for h in parent.inheritable_handlers if _inherited(h)]
    manager = CallbackManager(handlers=[], parent_run_id=parent.run_id)
    manager.set_handlers(inherited)
    manager.add_tags(list(parent.inheritable_tags))
    manager.add_metadata({k: v for k, v in parent.inheritable_metadata.items()
                          if k not in _LS_KEYS})
    return manager


def _usage_hook_vars() -> list[contextvars.ContextVar[Any]]:
    """Context variables of configure hooks that currently hold a usage counter."""
    try:  # LangChain's registry of configure hooks (used by get_usage_metadata_callback)
        from langchain_core.tracers.context import _configure_hooks
    except ImportError:  # pragma: no cover - a LangChain without configure hooks
        return []
    found = []
    for hook in _configure_hooks:
        var = hook[0]
        if _counts_usage_value(var.get()):
            found.append(var)
    return found


def _counts_usage_value(value: Any) -> bool:
    return isinstance(value, BaseCallbackHandler) and _counts_usage(value)


@contextmanager
def usage_hooks_off() -> Iterator[None]:
    """Within the block, new runs get no usage counter from a configure hook.

    ``get_usage_metadata_callback`` adds its handler to every callback manager configured
    while its context variable is set; the block unsets those variables (in this context
    only) while a child's run is configured. The router's own run was configured before,
    so it keeps the handler.
    """
    tokens = [(var, var.set(None)) for var in _usage_hook_vars()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
