"""List prices from ``genai-prices`` for children whose model name is known.

When ``prices=`` gives no :class:`uniscale.Price` for a child, ChatUniScale asks
Pydantic's ``genai-prices`` database (an optional dependency that works offline:
``pip install langchain-uniscale[prices]``) for the list price of the child's model
(``ChatOpenAI(model="gpt-4o-mini")`` -> ``gpt-4o-mini`` at OpenAI), cached-input and
cache-write prices included. A given ``Price`` always wins; tiered prices use their base
tier. Replies say where the price came from in
``response_metadata["uniscale"]["price_source"]`` (``"given"`` or ``"genai-prices"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uniscale import Price

from .backend import ChatModelBackend

__all__ = ["GIVEN", "LISTED", "fill_prices", "list_price"]

GIVEN = "given"
LISTED = "genai-prices"


def _usd(value: Any) -> float | None:
    if value is None:
        return None
    base = getattr(value, "base", value)  # TieredPrices: the first tier
    return float(base)


def list_price(model_name: str, provider: str | None = None) -> Price | None:
    """The list price of ``model_name`` in genai-prices (``None``: not installed or unknown).

    Args:
        model_name: The provider's model name (``"gpt-4o-mini"``, ``"claude-..."``).
        provider: LangChain's provider id (``"openai"``, ``"anthropic"``), if known.
    """
    try:
        from genai_prices import Usage, calc_price
    except ImportError:
        return None
    try:
        found = calc_price(Usage(input_tokens=1, output_tokens=1), model_ref=model_name,
                           provider_id=provider)
    except LookupError:
        if provider is None:
            return None
        return list_price(model_name)  # a provider id genai-prices spells differently
    price = found.model_price
    inputs, outputs = _usd(price.input_mtok), _usd(price.output_mtok)
    if inputs is None or outputs is None:
        return None
    return Price(inputs, outputs, cached_input=_usd(price.cache_read_mtok),
                 cache_write=_usd(price.cache_write_mtok))


def _provider(backend: ChatModelBackend) -> str | None:
    try:
        provider = backend.model._get_ls_params().get("ls_provider")
    except Exception:  # tracing params that need a call's arguments
        return None
    return provider if isinstance(provider, str) else None


def fill_prices(given: Mapping[str, Any] | None, backends: Mapping[str, ChatModelBackend]
                ) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The prices to build the router with, and where each came from.

    Children without a given price get their list price when genai-prices knows their
    model; the others stay without one (the core then names them in a clear error).

    Returns:
        ``(prices, sources)``; ``prices`` is ``None`` when none was given or found.
    """
    prices = dict(given or {})
    sources = {alias: GIVEN for alias in prices}
    for alias, backend in backends.items():
        if alias in prices or not backend.model_name:
            continue
        found = list_price(backend.model_name, _provider(backend))
        if found is not None:
            prices[alias] = found
            sources[alias] = LISTED
    return (prices or None), sources
