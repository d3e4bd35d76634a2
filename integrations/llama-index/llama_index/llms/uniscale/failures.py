"""When every arm failed: re-raising the provider's own exception, with UniScale's context."""

from __future__ import annotations

import uniscale as us

__all__ = ["provider_error"]

_NOTE = "uniscale: "


def _last_cause(exc: us.AllSamplesFailedError) -> BaseException | None:
    """The last non-UniScale exception among the failures, nested ones unwrapped."""
    for error in reversed(exc.errors):
        if isinstance(error, us.AllSamplesFailedError):
            inner = _last_cause(error)
            if inner is not None:
                return inner
        elif not isinstance(error, us.UniScaleError):
            return error
    return None


def _note(exc: BaseException, text: str) -> None:
    """Attach ``text`` as a PEP 678 note (once)."""
    notes = getattr(exc, "__notes__", None) or []
    if text in notes:
        return
    add = getattr(exc, "add_note", None)
    if callable(add):
        add(text)
    else:  # Python 3.10: PEP 678's own fallback
        exc.__notes__ = [*notes, text]


def provider_error(exc: BaseException) -> BaseException:
    """The exception a failed routed call raises.

    When every arm failed (``uniscale.AllSamplesFailedError``) because of a provider's
    errors, that is the last provider exception, of its own type (so that ``except
    openai.RateLimitError`` and retry policies keyed on it work), carrying what UniScale
    tried as a PEP 678 note. Anything else is returned unchanged.

    Args:
        exc: The exception met by the call.

    Returns:
        The exception to raise.
    """
    if not isinstance(exc, us.AllSamplesFailedError):
        return exc
    cause = _last_cause(exc)
    if cause is None:
        return exc
    _note(cause, f"{_NOTE}every arm failed; this is the last provider error ({exc})")
    return cause
