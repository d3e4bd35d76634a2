"""matplotlib for the plots of ``uniscale bench``/``demo`` and ``uniscale report --plot``."""

from __future__ import annotations

from typing import Any

__all__ = ["pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed).

    Raises:
        ImportError: matplotlib is not installed; the message names the extra.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'uniscale[bench]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
