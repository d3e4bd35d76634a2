"""When every arm failed: the provider's own exception, with UniScale's context as a note.

The core raises :class:`uniscale.AllSamplesFailedError` (it knows no provider types). A
LangChain user catches ``openai.RateLimitError`` and retries with
``.with_retry(retry_if_exception_type=(openai.RateLimitError,))``, so ChatUniScale
re-raises the last exception a child raised, of its own type, with a PEP 678 note naming
the arms that failed and the core error in its ``uniscale_error`` attribute.
"""

from __future__ import annotations

from uniscale import AllSamplesFailedError

__all__ = ["last_provider_error", "provider_error"]


def last_provider_error(error: AllSamplesFailedError) -> BaseException | None:
    """The last exception a child raised among the causes of ``error`` (``None``: none)."""
    for cause in reversed(error.errors):
        if isinstance(cause, AllSamplesFailedError):
            found = last_provider_error(cause)
            if found is not None:
                return found
        elif isinstance(cause, Exception):
            return cause
    return None


def _add_note(error: BaseException, note: str) -> None:
    add_note = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(note)
    else:  # Python 3.10: PEP 678 notes by hand
        notes = list(getattr(error, "__notes__", []))
        setattr(error, "__notes__", [*notes, note])  # noqa: B010


def provider_error(error: AllSamplesFailedError) -> BaseException:
    """The exception to raise for ``error``: the last provider error, annotated.

    Args:
        error: What the core raised when the chosen arm and every fallback failed.

    Returns:
        The last child exception (its own type), with a note and ``uniscale_error`` set to
        ``error``; ``error`` itself when no child exception is known.
    """
    cause = last_provider_error(error)
    if cause is None:
        return error
    _add_note(cause, f"uniscale: every arm failed, this is the last provider error. {error}")
    cause.uniscale_error = error  # type: ignore[attr-defined]
    return cause
