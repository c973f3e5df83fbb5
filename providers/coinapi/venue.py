"""CoinAPI on the common :class:`~providers.venue.MarketProvider` interface: candles, order book and trades
of one venue's contract.

No ``TICKER`` capability: CoinAPI has no rolling 24 h statistics with quote volume for a contract, and a
ticker assembled from calendar-day OHLCV would not be the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.market import CandleInterval
from providers.coinapi.domain import PROVIDER, to_candles, to_order_book, to_trades
from providers.coinapi.raw import CoinApiClient, coinapi_error_hook
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from engine.market import Candle, OrderBook, Trade
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://rest.coinapi.io"
KEY_SETTING = "COINAPI_API_KEY"
# Docs, "Limits": quotas are per key and plan, reported in X-RateLimit-* headers, and each call spends
# credits from a daily budget. Design for one request a second (far below any paid plan's burst limit);
# the budget, not the rate, is what a free key runs out of, so TTLs keep calls rare.
RATE_LIMIT_PER_SECOND = 1.0
MAX_LIMIT = 100_000  # the documented maximum of ``limit`` on ohlcv and trades

# period_id values of /v1/ohlcv (docs "List all periods"); every CandleInterval has one
PERIODS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1MIN",
    CandleInterval.M3: "3MIN",
    CandleInterval.M5: "5MIN",
    CandleInterval.M15: "15MIN",
    CandleInterval.M30: "30MIN",
    CandleInterval.H1: "1HRS",
    CandleInterval.H2: "2HRS",
    CandleInterval.H4: "4HRS",
    CandleInterval.H6: "6HRS",
    CandleInterval.H12: "12HRS",
    CandleInterval.D1: "1DAY",
    CandleInterval.W1: "7DAY",
}


class CoinApiMarket(MarketProvider):
    name = PROVIDER
    capabilities = frozenset({Capability.CANDLES, Capability.ORDER_BOOK, Capability.TRADES})
    keyed = True

    def __init__(self, client: CoinApiClient) -> None:
        self.raw = client

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        period = interval_code(PROVIDER, "ohlcv.latest", interval, PERIODS)
        count = max(1, min(limit, MAX_LIMIT))
        return to_candles(await self.raw.ohlcv_latest(instrument.for_provider(PROVIDER), period, count))[-count:]

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        book = await self.raw.orderbook_current(instrument.for_provider(PROVIDER), depth)
        return to_order_book(book, instrument.canonical, depth)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        count = max(1, min(limit, MAX_LIMIT))
        trades = await self.raw.trades_latest(instrument.for_provider(PROVIDER), count)
        return to_trades(trades, instrument.canonical)[-count:]


def build(deps: ProviderDeps) -> MarketProvider | None:
    """``None`` without a key: the caller reports CoinAPI as disabled."""
    http = deps.keyed_http(PROVIDER, coinapi_error_hook, lambda key: {"X-CoinAPI-Key": key})
    return CoinApiMarket(CoinApiClient(http, deps.ttls)) if http else None
