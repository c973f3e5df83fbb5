"""CoinAPI market data REST (keyed: header ``X-CoinAPI-Key``): candles, order book and trades of one
venue's contract, addressed by a CoinAPI ``symbol_id`` (``BINANCEFTS_PERP_BTC_USDT``).

Docs: https://docs.coinapi.io/market-data/rest-api. Times are ISO 8601 with seven fractional digits
(``2017-08-09T14:31:00.0000000Z``); numbers are JSON numbers. The ``/latest`` routes answer
NEWEST-FIRST (REFERENCE §2 defect 1): every series is put oldest-first here, at the boundary.

Errors are ``{"error": "..."}`` (older docs: ``{"message": "..."}``) with 400 bad request, 401 bad key,
403 key without the privilege, 429 over the key's limits, and 550 "no data": the requested single
item (symbol) does not exist, which is not a server fault and must not be retried.

No ``TICKER`` capability: CoinAPI has no rolling 24 h statistics with quote volume for a contract, and a
ticker assembled from calendar-day OHLCV would not be the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.market import Candle, CandleInterval, OrderBook, Trade
from providers.errors import AuthenticationFailed, InvalidSymbol, UpstreamError
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

PROVIDER = "coinapi"
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
# taker_side values: BUY, SELL, BUY_ESTIMATED, SELL_ESTIMATED, UNKNOWN
_TAKER_SIDES = {"BUY": "BUY", "SELL": "SELL", "BUY_ESTIMATED": "BUY", "SELL_ESTIMATED": "SELL"}


def coinapi_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """CoinAPI's 550 "No data" is an unknown symbol, not an outage; bad and under-privileged keys are fatal.

    Sample body (any status >= 400): ``{"error": "Invalid API key"}``. 429 and 5xx are left to
    :func:`providers.errors.classify_status`, which keeps them retryable and honours ``Retry-After``.
    """
    message = ""
    if isinstance(payload, dict):
        message = str(payload.get("error") or payload.get("message") or "")
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 550:
        return InvalidSymbol(provider, endpoint, f"{text} (no data for this symbol)", status=status)
    if status in (401, 403):
        return AuthenticationFailed(provider, endpoint, text, status=status)
    return None


def parse_time(text: str) -> datetime:
    """CoinAPI's ISO 8601 (``...00.0000000Z``, seven fractional digits) to an aware UTC datetime."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return parsed


def _oldest_first(rows: list[dict[str, Any]], time_key: str) -> list[dict[str, Any]]:
    """Oldest-first whatever order the venue used; ties keep their chronological order (a newest-first
    answer is reversed before the stable sort, so two trades in the same tick are not swapped)."""
    if len(rows) > 1 and parse_time(rows[0][time_key]) > parse_time(rows[-1][time_key]):
        rows = rows[::-1]
    return sorted(rows, key=lambda r: parse_time(r[time_key]))


# --------------------------------------------------------------------------------------------------
# venue models and parsers


@dataclass(frozen=True, slots=True)
class CoinApiExchangeRate:
    base: str
    quote: str
    rate: float
    time: datetime


@dataclass(frozen=True, slots=True)
class CoinApiQuote:
    symbol_id: str
    ask_price: float
    ask_size: float
    bid_price: float
    bid_size: float
    time: datetime  # time_exchange


def parse_exchange_rate(payload: dict[str, Any]) -> CoinApiExchangeRate:
    """``GET /v1/exchangerate/{asset_id_base}/{asset_id_quote}``: CoinAPI's VWAP-based rate.

    Sample: ``{"time": "2025-05-13T06:03:48.6878017Z", "asset_id_base": "BTC", "asset_id_quote": "USD",
    "rate": 10000.0}``
    """
    return CoinApiExchangeRate(
        base=str(payload["asset_id_base"]),
        quote=str(payload["asset_id_quote"]),
        rate=float(payload["rate"]),
        time=parse_time(payload["time"]),
    )


def parse_ohlcv(payload: list[dict[str, Any]]) -> tuple[Candle, ...]:
    """``GET /v1/ohlcv/{symbol_id}/latest?period_id=1HRS&limit=N`` (NEWEST-FIRST) or ``.../history``
    (oldest-first); either way the result is oldest-first.

    Sample row: ``{"time_period_start": "2017-08-09T14:31:00.0000000Z",  # candle open
    "time_period_end": "2017-08-09T14:32:00.0000000Z", "time_open": "2017-08-09T14:31:01.0000000Z",
    "time_close": "2017-08-09T14:31:46.0000000Z",  # first and last trade in the period
    "price_open": 3255.59, "price_high": 3255.59, "price_low": 3244.74, "price_close": 3244.74,
    "volume_traded": 16.90327455,  # base asset
    "trades_count": 31}``
    """
    return tuple(
        Candle(
            open_time=parse_time(r["time_period_start"]),
            open=float(r["price_open"]),
            high=float(r["price_high"]),
            low=float(r["price_low"]),
            close=float(r["price_close"]),
            volume=float(r["volume_traded"]),
        )
        for r in _oldest_first(payload, "time_period_start")
    )


def parse_trades(payload: list[dict[str, Any]], symbol: str) -> tuple[Trade, ...]:
    """``GET /v1/trades/{symbol_id}/latest?limit=N`` (NEWEST-FIRST live; the docs example happens to be
    oldest-first), returned oldest-first by ``time_exchange``.

    Sample row: ``{"symbol_id": "BITSTAMP_SPOT_BTC_USD", "time_exchange": "2013-09-28T22:40:50.0000000Z",
    "time_coinapi": "2017-03-18T22:42:21.3763342Z", "uuid": "770c7a3b-...", "price": 770.0, "size": 0.05,
    "taker_side": "BUY"}``. ``BUY_ESTIMATED`` / ``SELL_ESTIMATED`` (CoinAPI inferred the aggressor) count
    as BUY / SELL; ``UNKNOWN`` trades are dropped, since every normalized trade names its aggressor.
    """
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=symbol,
            taker_side=_TAKER_SIDES[r["taker_side"]],
            price=float(r["price"]),
            size=float(r["size"]),
            time=parse_time(r["time_exchange"]),
        )
        for r in _oldest_first(payload, "time_exchange")
        if r["taker_side"] in _TAKER_SIDES
    )


def parse_order_book(payload: dict[str, Any], symbol: str) -> OrderBook:
    """``GET /v1/orderbooks/{symbol_id}/current?limit_levels=N``.

    Sample: ``{"symbol_id": "COINBASE_SPOT_BCH_USD", "time_exchange": "2020-08-27T10:28:35.6111130Z",
    "time_coinapi": "2020-08-27T10:28:35.6766461Z",
    "asks": [{"id": "3c5e789c-...", "price": 272.89, "size": 1}, ...],
    "bids": [{"id": "100d5004-...", "price": 272.83, "size": 18}, ...]}`` (``id`` only on L3 venues).
    Levels are sorted best first (bids high to low, asks low to high); equal prices keep their order.
    """
    bids = sorted(((float(b["price"]), float(b["size"])) for b in payload["bids"]), key=lambda lv: -lv[0])
    asks = sorted(((float(a["price"]), float(a["size"])) for a in payload["asks"]), key=lambda lv: lv[0])
    return OrderBook(symbol=symbol, bids=tuple(bids), asks=tuple(asks), time=parse_time(payload["time_exchange"]))


def parse_quote(payload: dict[str, Any] | list[dict[str, Any]]) -> CoinApiQuote:
    """``GET /v1/quotes/{symbol_id}/current``: best bid and ask.

    Sample: ``{"symbol_id": "BITSTAMP_SPOT_BTC_USD", "time_exchange": "2013-09-28T22:40:50.0000000Z",
    "time_coinapi": "2017-03-18T22:42:21.3763342Z", "ask_price": 770.0, "ask_size": 3252,
    "bid_price": 760, "bid_size": 124, "last_trade": {...}}``. The published example wraps the object in
    a list; both shapes are accepted.
    """
    row = payload[0] if isinstance(payload, list) else payload
    return CoinApiQuote(
        symbol_id=str(row["symbol_id"]),
        ask_price=float(row["ask_price"]),
        ask_size=float(row["ask_size"]),
        bid_price=float(row["bid_price"]),
        bid_size=float(row["bid_size"]),
        time=parse_time(row["time_exchange"]),
    )


# --------------------------------------------------------------------------------------------------
# raw client


class CoinApiClient:
    """Raw routes, one method per endpoint; ``symbol_id`` is CoinAPI's (``BINANCEFTS_PERP_BTC_USDT``)."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def exchange_rate(self, base: str, quote: str) -> CoinApiExchangeRate:
        return await self._http.get(
            f"/v1/exchangerate/{base}/{quote}",
            None,
            endpoint="exchangerate",
            ttl=self._ttls.price,
            parse=parse_exchange_rate,
        )

    async def ohlcv_latest(self, symbol_id: str, period_id: str, limit: int) -> tuple[Candle, ...]:
        return await self._http.get(
            f"/v1/ohlcv/{symbol_id}/latest",
            {"period_id": period_id, "limit": limit},
            endpoint="ohlcv.latest",
            ttl=self._ttls.candles,
            parse=parse_ohlcv,
        )

    async def ohlcv_history(
        self, symbol_id: str, period_id: str, time_start: datetime, limit: int
    ) -> tuple[Candle, ...]:
        return await self._http.get(
            f"/v1/ohlcv/{symbol_id}/history",
            {"period_id": period_id, "time_start": time_start.strftime("%Y-%m-%dT%H:%M:%S"), "limit": limit},
            endpoint="ohlcv.history",
            ttl=self._ttls.candles,
            parse=parse_ohlcv,
        )

    async def order_book(self, symbol_id: str, symbol: str, depth: int) -> OrderBook:
        return await self._http.get(
            f"/v1/orderbooks/{symbol_id}/current",
            {"limit_levels": depth},
            endpoint="orderbooks.current",
            ttl=self._ttls.price,
            parse=lambda payload: parse_order_book(payload, symbol),
        )

    async def trades_latest(self, symbol_id: str, symbol: str, limit: int) -> tuple[Trade, ...]:
        return await self._http.get(
            f"/v1/trades/{symbol_id}/latest",
            {"limit": limit},
            endpoint="trades.latest",
            ttl=self._ttls.price,
            parse=lambda payload: parse_trades(payload, symbol),
        )

    async def quote_current(self, symbol_id: str) -> CoinApiQuote:
        return await self._http.get(
            f"/v1/quotes/{symbol_id}/current", None, endpoint="quotes.current", ttl=self._ttls.price, parse=parse_quote
        )


# --------------------------------------------------------------------------------------------------
# normalized provider


class CoinApiMarket(MarketProvider):
    name = PROVIDER
    capabilities = frozenset({Capability.CANDLES, Capability.ORDER_BOOK, Capability.TRADES})
    keyed = True

    def __init__(self, client: CoinApiClient) -> None:
        self.raw = client

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        period = interval_code(PROVIDER, "ohlcv.latest", interval, PERIODS)
        count = max(1, min(limit, MAX_LIMIT))
        candles = await self.raw.ohlcv_latest(instrument.for_provider(PROVIDER), period, count)
        return candles[-count:]

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        book = await self.raw.order_book(instrument.for_provider(PROVIDER), instrument.canonical, depth)
        return OrderBook(symbol=book.symbol, bids=book.bids[:depth], asks=book.asks[:depth], time=book.time)

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        count = max(1, min(limit, MAX_LIMIT))
        trades = await self.raw.trades_latest(instrument.for_provider(PROVIDER), instrument.canonical, count)
        return trades[-count:]


def build(deps: ProviderDeps) -> MarketProvider | None:
    """``None`` without a key: the caller reports CoinAPI as disabled."""
    key = deps.key(PROVIDER)
    if not key:
        return None
    http = deps.http(PROVIDER, coinapi_error_hook, {"X-CoinAPI-Key": key})
    return CoinApiMarket(CoinApiClient(http, deps.ttls))
