"""Per-request batching: each request gets its own request-scoped view of every venue.

Built inside the running event loop for each request (aiodataloader binds futures to the loop), never
at import time. Binance's view batches concurrent single-symbol ``ticker/24hr`` and ``premiumIndex``
calls into one all-symbols call; the signal gateway and the market view share it within a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.binance.venue import BinanceRequestScope

if TYPE_CHECKING:
    from aiodataloader import DataLoader

    from engine.market import SymbolInfo
    from providers.binance.domain import BinanceMarket
    from providers.venue import MarketProvider


class Loaders:
    """The per-request loaders; create one instance per GraphQL operation (or per subscription event)."""

    def __init__(self, binance: BinanceMarket) -> None:
        self._binance = binance
        self.binance = BinanceRequestScope(binance)
        self.ticker: DataLoader[str, Any] = self.binance.ticker_loader
        self.premium_index: DataLoader[str, Any] = self.binance.premium_loader
        self._venues: dict[str, MarketProvider] = {"binance": self.binance}

    def venue(self, provider: MarketProvider) -> MarketProvider:
        """The request-scoped view of ``provider`` (created once per request)."""
        view = self._venues.get(provider.name)
        if view is None:
            view = self._venues[provider.name] = provider.per_request()
        return view

    async def listed_symbols(self) -> dict[str, SymbolInfo]:
        """Tradable USDT perpetuals by symbol (cached for an hour by the provider layer)."""
        return await self._binance.listed()
