"""Bybit v5 public REST (keyless): USDT linear perpetuals (``category=linear``, ``BTCUSDT``).

Docs: https://bybit-exchange.github.io/docs/v5/intro (market endpoints under ``/v5/market``). Every
answer is ``{"retCode": 0, "retMsg": "OK", "result": {...}, "time": <ms>}``; a non-zero ``retCode`` is
an error even with HTTP 200.

Units, decided once here (REFERENCE §2):

- Series (klines, funding history, OI history, account ratio, trades) arrive newest-first and leave
  oldest-first.
- ``price24hPcnt`` is a fraction (``0.008047`` = 0.8047 %); :class:`Ticker24h` carries percent.
- Funding is a fraction per interval. The interval is the ticker's ``fundingIntervalHour`` when Bybit
  sends it, else the spacing of ``/v5/market/funding/history`` (8 h for most symbols, 4 h / 1 h for some).
- Linear sizes are coins: ``volume24h``, kline volume, ``openInterest``, order-book and trade sizes.
  Current OI in USD is Bybit's own ``openInterestValue`` (falling back to ``openInterest × lastPrice``
  only if that field is empty); OI history has coins only (``open_interest_usd`` is ``None``).
- Liquidations: Bybit has no REST liquidation feed (only the ``allLiquidation`` WebSocket topic), so
  this adapter does not claim the capability.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import (
    Candle,
    CandleInterval,
    FundingRate,
    LongShortPoint,
    OpenInterest,
    OpenInterestPoint,
    OrderBook,
    Ticker24h,
    Trade,
    utc_from_ms,
)
from providers.errors import (
    InvalidRequest,
    InvalidSymbol,
    MalformedPayload,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
    non_finite,
    unexpected_shape,
)
from providers.normalize import (
    DEFAULT_FUNDING_INTERVAL_HOURS,
    clamp_limit,
    first_non_finite,
    funding_interval_hours,
    oldest_first,
)
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Callable

    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

PROVIDER = "bybit"
DEFAULT_BASE_URL = "https://api.bybit.com"
# Bybit: "No more than 600 requests are allowed in any 5-second window" per IP, shared by all traffic to
# api.bybit.com (https://bybit-exchange.github.io/docs/v5/rate-limit), i.e. 120/s; breaking it bans the IP
# for 10+ minutes. We design for well under half of it, leaving room for other processes on the host.
RATE_LIMIT_PER_SECOND: float = 50.0
# Bybit's docs: HTTP 403 "access too frequent" means the IP exceeded that limit and is banned; "wait for at
# least 10 minutes". We report it as RateLimited with that wait, longer than any retry cap, so the HTTP
# layer does not retry and the gateway fails over (the same action a geo-block would need).
IP_BAN_SECONDS = 600.0


KLINE_INTERVALS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1",
    CandleInterval.M3: "3",
    CandleInterval.M5: "5",
    CandleInterval.M15: "15",
    CandleInterval.M30: "30",
    CandleInterval.H1: "60",
    CandleInterval.H2: "120",
    CandleInterval.H4: "240",
    CandleInterval.H6: "360",
    CandleInterval.H12: "720",
    CandleInterval.D1: "D",
    CandleInterval.W1: "W",
}
# /v5/market/open-interest ``intervalTime`` and /v5/market/account-ratio ``period``
STAT_PERIODS: dict[CandleInterval, str] = {
    CandleInterval.M5: "5min",
    CandleInterval.M15: "15min",
    CandleInterval.M30: "30min",
    CandleInterval.H1: "1h",
    CandleInterval.H4: "4h",
    CandleInterval.D1: "1d",
}

# documented maxima of ``limit``
_MAX_KLINES = 1000
_MAX_FUNDING_HISTORY = 200
_MAX_OPEN_INTEREST = 200
_MAX_ACCOUNT_RATIO = 500
_MAX_BOOK_DEPTH = 500
_MAX_TRADES = 1000
_FUNDING_INTERVAL_SAMPLE = 10

_RATE_LIMIT_CODES = {10006, 10018}
_UNAVAILABLE_CODES = {10000, 10016}


def bybit_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Bybit error envelopes (HTTP 200 with a non-zero ``retCode``) and its 403 IP ban.

    Sample::

        {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "retExtInfo": {},
         "time": 1672211918471}
        {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "time": 1672211918471}

    HTTP 429 / 451 / 5xx are left to :func:`providers.errors.classify_status`.
    """
    if status == 403:
        return RateLimited(
            provider,
            endpoint,
            "HTTP 403: IP rate limit exceeded (Bybit bans the IP for at least 10 minutes)",
            status=status,
            retry_after=IP_BAN_SECONDS,
        )
    if status in (418, 429, 451) or status >= 500:
        return None
    if not isinstance(payload, dict) or "retCode" not in payload:
        return None
    try:
        code = int(payload["retCode"])
    except (TypeError, ValueError):
        return MalformedPayload(provider, endpoint, f"retCode {payload['retCode']!r} is not a number", status=status)
    if code == 0:
        return None
    text = str(payload.get("retMsg") or "error")
    message = f"retCode {code}: {text}"
    if code in _RATE_LIMIT_CODES:
        return RateLimited(provider, endpoint, message, status=status)
    if code in _UNAVAILABLE_CODES:
        return UpstreamUnavailable(provider, endpoint, message, status=status)
    if "symbol" in text.lower():
        return InvalidSymbol(provider, endpoint, message, status=status)
    return InvalidRequest(provider, endpoint, message, status=status)


# --------------------------------------------------------------------------------------------------
# parsers: envelope in, normalized models out (KeyError/ValueError/TypeError on a bad shape, which
# ProviderHttp reports as MalformedPayload)


def _list(payload: Any) -> list[Any]:
    rows = payload["result"]["list"]
    if not isinstance(rows, list):
        raise TypeError(f"result.list is {type(rows).__name__}, expected a list")
    return rows


def _first(payload: Any) -> dict[str, Any]:
    rows = _list(payload)
    if not rows:
        raise ValueError("empty result.list")
    row: dict[str, Any] = rows[0]
    return row


def parse_ticker(payload: Any) -> Ticker24h:
    """``GET /v5/market/tickers?category=linear&symbol=BTCUSDT``.

    Sample: ``{"retCode": 0, "result": {"category": "linear", "list": [{"symbol": "BTCUSDT",
    "lastPrice": "28550.70", "price24hPcnt": "0.023333", "highPrice24h": "28797.10", "lowPrice24h":
    "27842.80", "volume24h": "151185.5160", "turnover24h": "4273027716.4294", "fundingRate": "0.0001",
    "nextFundingTime": "1680681600000", "openInterest": "52774.528", "openInterestValue":
    "1506861070.82", "markPrice": "28552.81", "fundingIntervalHour": "8", ...}]}, "time": 1680673821770}``
    (``price24hPcnt`` is a fraction: × 100; linear ``volume24h`` is coins, ``turnover24h`` USDT).
    """
    row = _first(payload)
    return Ticker24h(
        symbol=row["symbol"],
        last_price=float(row["lastPrice"]),
        price_change_pct=float(row["price24hPcnt"]) * 100.0,
        high=float(row["highPrice24h"]),
        low=float(row["lowPrice24h"]),
        volume=float(row["volume24h"]),
        quote_volume=float(row["turnover24h"]),
        close_time=utc_from_ms(payload["time"]),
    )


def ticker_funding_interval_hours(payload: Any) -> float | None:
    """The ticker's ``fundingIntervalHour`` (newer answers), or ``None`` when Bybit did not send it."""
    value = _first(payload).get("fundingIntervalHour")
    return float(value) if value not in (None, "") else None


def parse_ticker_funding(payload: Any, interval_hours: float) -> FundingRate:
    """The current rate from the same tickers answer (see :func:`parse_ticker` for the sample).

    ``interval_hours`` is used when the ticker carries no ``fundingIntervalHour``.
    """
    row = _first(payload)
    sent = ticker_funding_interval_hours(payload)
    return FundingRate(
        symbol=row["symbol"],
        rate=float(row["fundingRate"]),
        interval_hours=sent if sent is not None else interval_hours,
        time=utc_from_ms(payload["time"]),
        next_funding_time=utc_from_ms(row["nextFundingTime"]) if row.get("nextFundingTime") else None,
        mark_price=float(row["markPrice"]) if row.get("markPrice") else None,
    )


def parse_ticker_open_interest(payload: Any) -> OpenInterest:
    """Current OI from the tickers answer: ``openInterest`` coins, ``openInterestValue`` USD.

    When ``openInterestValue`` is empty, USD is ``openInterest × lastPrice``.
    """
    row = _first(payload)
    coins = float(row["openInterest"])
    value = row.get("openInterestValue")
    usd = float(value) if value else coins * float(row["lastPrice"])
    return OpenInterest(symbol=row["symbol"], coins=coins, usd=usd, time=utc_from_ms(payload["time"]))


def parse_klines(payload: Any) -> tuple[Candle, ...]:
    """``GET /v5/market/kline?category=linear&symbol=BTCUSDT&interval=240&limit=200``, newest-first.

    Sample: ``{"retCode": 0, "result": {"symbol": "BTCUSDT", "category": "linear", "list": [
    ["1694649600000", "26210", "26527.2", "26125.8", "26268.2", "11185.573", "293656450.7204"], ...]}}``
    = start time, OHLC, volume (coins for linear), turnover (quote).
    """
    rows = oldest_first(_list(payload), lambda r: int(r[0]))
    return tuple(
        Candle(
            open_time=utc_from_ms(r[0]),
            open=float(r[1]),
            high=float(r[2]),
            low=float(r[3]),
            close=float(r[4]),
            volume=float(r[5]),
            quote_volume=float(r[6]),
        )
        for r in rows
    )


def parse_funding_history(payload: Any) -> tuple[FundingRate, ...]:
    """``GET /v5/market/funding/history?category=linear&symbol=BTCUSDT&limit=200``, newest-first.

    Sample: ``{"retCode": 0, "result": {"category": "linear", "list": [{"symbol": "BTCUSDT",
    "fundingRate": "0.0001", "fundingRateTimestamp": "1709884800000"}, ...]}}`` (a fraction per
    interval; the interval is the spacing of ``fundingRateTimestamp``, 8 h when a single row).
    """
    rows = oldest_first(_list(payload), lambda r: int(r["fundingRateTimestamp"]))
    interval = funding_interval_hours([int(r["fundingRateTimestamp"]) for r in rows])
    return tuple(
        FundingRate(
            symbol=r["symbol"],
            rate=float(r["fundingRate"]),
            interval_hours=interval,
            time=utc_from_ms(r["fundingRateTimestamp"]),
        )
        for r in rows
    )


def parse_open_interest_history(payload: Any) -> tuple[OpenInterestPoint, ...]:
    """``GET /v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=4h&limit=200``.

    Sample: ``{"retCode": 0, "result": {"symbol": "BTCUSDT", "category": "linear", "list": [
    {"openInterest": "461134384.00000000", "timestamp": "1669571400000"}, ...], "nextPageCursor": ""}}``
    (coins for linear contracts; newest-first).
    """
    rows = oldest_first(_list(payload), lambda r: int(r["timestamp"]))
    return tuple(
        OpenInterestPoint(time=utc_from_ms(r["timestamp"]), open_interest=float(r["openInterest"]), unit="coin")
        for r in rows
    )


def parse_account_ratio(payload: Any) -> tuple[LongShortPoint, ...]:
    """``GET /v5/market/account-ratio?category=linear&symbol=BTCUSDT&period=4h&limit=50``.

    Sample: ``{"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "buyRatio": "0.5777",
    "sellRatio": "0.4223", "timestamp": "1695772800000"}]}}``: ``buyRatio`` is the share of accounts
    long (a fraction: × 100), ``sellRatio`` the share short; newest-first.
    """
    rows = oldest_first(_list(payload), lambda r: int(r["timestamp"]))
    points = []
    for r in rows:
        buy, sell = float(r["buyRatio"]), float(r["sellRatio"])
        points.append(
            LongShortPoint(
                time=utc_from_ms(r["timestamp"]),
                long_pct=buy * 100.0,
                long_short_ratio=buy / sell if sell > 0 else float("inf"),
            )
        )
    return tuple(points)


def parse_order_book(payload: Any) -> OrderBook:
    """``GET /v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=50``: ``[price, size]`` in coins.

    Sample: ``{"retCode": 0, "result": {"s": "BTCUSDT", "a": [["65557.7", "16.606555"]], "b": [["65485.47",
    "47.081829"]], "ts": 1716863719031, "u": 230704, "seq": 1432604333, "cts": 1716863718905}}``
    """
    result = payload["result"]

    def levels(rows: list[list[str]]) -> tuple[tuple[float, float], ...]:
        return tuple((float(p), float(q)) for p, q in rows)

    return OrderBook(
        symbol=result["s"], bids=levels(result["b"]), asks=levels(result["a"]), time=utc_from_ms(result["ts"])
    )


def parse_trades(payload: Any) -> tuple[Trade, ...]:
    """``GET /v5/market/recent-trade?category=linear&symbol=BTCUSDT&limit=500``, newest-first.

    Sample: ``{"retCode": 0, "result": {"category": "linear", "list": [{"execId": "2100000000007764263",
    "symbol": "BTCUSDT", "price": "16618.49", "size": "0.00012", "side": "Buy", "time": "1672052955758",
    "isBlockTrade": false}]}}`` (``side`` is the taker's; ``size`` coins for linear).
    """
    rows = oldest_first(_list(payload), lambda r: int(r["time"]))
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=r["symbol"],
            taker_side=str(r["side"]).upper(),
            price=float(r["price"]),
            size=float(r["size"]),
            time=utc_from_ms(r["time"]),
        )
        for r in rows
    )


def _checked_ticker(payload: Any) -> Any:
    """Validate the tickers answer once; ticker, funding and OI are all derived from it."""
    _first(payload)
    return payload


# --------------------------------------------------------------------------------------------------
# the provider


class BybitProvider(MarketProvider):
    """Bybit USDT linear perpetuals over the keyless v5 REST API."""

    name = PROVIDER
    capabilities = frozenset(
        {
            Capability.TICKER,
            Capability.CANDLES,
            Capability.FUNDING,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.OPEN_INTEREST_HISTORY,
            Capability.LONG_SHORT_RATIO,
            Capability.ORDER_BOOK,
            Capability.TRADES,
        }
    )

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    def _params(self, instrument: Instrument, **extra: str | int) -> dict[str, str | int]:
        return {"category": "linear", "symbol": instrument.for_provider(PROVIDER), **extra}

    async def _tickers(self, instrument: Instrument) -> Any:
        """One cached tickers answer (the raw envelope) for ticker, funding and open interest."""
        return await self._http.get(
            "/v5/market/tickers",
            self._params(instrument),
            endpoint="market.tickers",
            ttl=self._ttls.price,
            parse=_checked_ticker,
        )

    def _convert(self, endpoint: str, payload: Any, convert: Callable[[Any], Any]) -> Any:
        try:
            result = convert(payload)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise unexpected_shape(PROVIDER, endpoint, exc) from exc
        where = first_non_finite(result)
        if where is not None:
            raise non_finite(PROVIDER, endpoint, where)
        return result

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        result: Ticker24h = self._convert("market.tickers", await self._tickers(instrument), parse_ticker)
        return result

    async def funding(self, instrument: Instrument) -> FundingRate:
        """Rate from the ticker; interval from ``fundingIntervalHour``, else the funding history's spacing."""
        payload = await self._tickers(instrument)
        sent: float | None = self._convert("market.tickers", payload, ticker_funding_interval_hours)
        if sent is None:
            history = await self.funding_history(instrument, _FUNDING_INTERVAL_SAMPLE)
            interval = history[-1].interval_hours if history else DEFAULT_FUNDING_INTERVAL_HOURS
        else:
            interval = sent
        result: FundingRate = self._convert(
            "market.tickers", payload, lambda p: parse_ticker_funding(p, interval_hours=interval)
        )
        return result

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        result: OpenInterest = self._convert(
            "market.tickers", await self._tickers(instrument), parse_ticker_open_interest
        )
        return result

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        code = interval_code(PROVIDER, "market.kline", interval, KLINE_INTERVALS)
        return await self._http.get(
            "/v5/market/kline",
            self._params(instrument, interval=code, limit=clamp_limit(limit, _MAX_KLINES)),
            endpoint="market.kline",
            ttl=self._ttls.candles,
            parse=parse_klines,
        )

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return await self._http.get(
            "/v5/market/funding/history",
            self._params(instrument, limit=clamp_limit(limit, _MAX_FUNDING_HISTORY)),
            endpoint="market.funding-history",
            ttl=self._ttls.funding,
            parse=parse_funding_history,
        )

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        period = interval_code(PROVIDER, "market.open-interest", interval, STAT_PERIODS)
        return await self._http.get(
            "/v5/market/open-interest",
            self._params(instrument, intervalTime=period, limit=clamp_limit(limit, _MAX_OPEN_INTEREST)),
            endpoint="market.open-interest",
            ttl=self._ttls.open_interest,
            parse=parse_open_interest_history,
        )

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        period = interval_code(PROVIDER, "market.account-ratio", interval, STAT_PERIODS)
        return await self._http.get(
            "/v5/market/account-ratio",
            self._params(instrument, period=period, limit=clamp_limit(limit, _MAX_ACCOUNT_RATIO)),
            endpoint="market.account-ratio",
            ttl=self._ttls.ratios,
            parse=parse_account_ratio,
        )

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        return await self._http.get(
            "/v5/market/orderbook",
            self._params(instrument, limit=clamp_limit(depth, _MAX_BOOK_DEPTH)),
            endpoint="market.orderbook",
            ttl=self._ttls.price,
            parse=parse_order_book,
        )

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        return await self._http.get(
            "/v5/market/recent-trade",
            self._params(instrument, limit=clamp_limit(limit, _MAX_TRADES)),
            endpoint="market.recent-trade",
            ttl=self._ttls.price,
            parse=parse_trades,
        )


def build(deps: ProviderDeps) -> MarketProvider:
    """The composition root's entry point: one ``ProviderHttp`` with the Bybit error hook."""
    return BybitProvider(deps.http(PROVIDER, bybit_error_hook), deps.ttls)
