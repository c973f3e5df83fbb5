"""Per-request DataLoaders that batch the Binance endpoints which serve every symbol in one call.

Built inside the running event loop for each request (aiodataloader binds futures to the loop), never
at import time. A batch of one symbol uses the single-symbol route (a 300-byte answer); a batch of
several uses the all-symbols route once (``premiumIndex``, ``ticker/24hr``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiodataloader import DataLoader

from providers.errors import InvalidSymbol, UpstreamError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from engine.market import SymbolInfo
    from providers.binance.domain import BinanceMarket
    from providers.binance.models import BinancePremiumIndex


def _batched(
    one: Callable[[str], Awaitable[Any]],
    every: Callable[[], Awaitable[dict[str, Any]]],
    provider_endpoint: tuple[str, str],
) -> Callable[[list[str]], Coroutine[Any, Any, list[Any]]]:
    async def load(symbols: list[str]) -> list[Any]:
        if len(symbols) == 1:
            try:
                return [await one(symbols[0])]
            except UpstreamError as exc:
                return [exc]
        try:
            by_symbol = await every()
        except UpstreamError as exc:
            return [exc for _ in symbols]
        return [
            by_symbol.get(s) or InvalidSymbol(*provider_endpoint, f"{s} is not in the all-symbols answer")
            for s in symbols
        ]

    return load


class Loaders:
    """The per-request loaders; create one instance per GraphQL operation (or per subscription event)."""

    def __init__(self, binance: BinanceMarket) -> None:
        self._binance = binance
        raw = binance.raw
        self.ticker: DataLoader[str, Any] = DataLoader(
            _batched(binance.ticker_by_symbol, binance.tickers, ("binance", "ticker24hr.all"))
        )
        self.premium_index: DataLoader[str, Any] = DataLoader(
            _batched(raw.premium_index, _premium_by_symbol(raw.premium_indexes), ("binance", "premiumIndex.all"))
        )

    async def listed_symbols(self) -> dict[str, SymbolInfo]:
        """Tradable USDT perpetuals by symbol (cached for an hour by the provider layer)."""
        return await self._binance.listed()


def _premium_by_symbol(
    every: Callable[[], Awaitable[tuple[BinancePremiumIndex, ...]]],
) -> Callable[[], Awaitable[dict[str, BinancePremiumIndex]]]:
    async def load() -> dict[str, BinancePremiumIndex]:
        return {p.symbol: p for p in await every()}

    return load
