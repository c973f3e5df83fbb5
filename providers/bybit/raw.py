"""Bybit v5 public REST (keyless), one method per endpoint, shaped like the venue: USDT linear perpetuals
(``category=linear``, ``BTCUSDT``).

Docs: https://bybit-exchange.github.io/docs/v5/intro (market endpoints under ``/v5/market``). Every
method returns the venue's own models (:mod:`providers.bybit.models`) in the venue's order;
normalization to our models happens in :mod:`providers.bybit.domain`. Every answer is
``{"retCode": 0, "retMsg": "OK", "result": {...}, "time": <ms>}``; a non-zero ``retCode`` is an error
even with HTTP 200 (:func:`bybit_error_hook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers._shared import ErrorCodes, status_decides
from providers.bybit.models import (
    BybitAccountRatio,
    BybitFundingRate,
    BybitInstrumentsPage,
    BybitKline,
    BybitOpenInterest,
    BybitOrderBook,
    BybitTickers,
    BybitTrade,
    result_rows,
)
from providers.errors import MalformedPayload, RateLimited

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.errors import UpstreamError
    from providers.http import ProviderHttp

# Bybit's docs: HTTP 403 "access too frequent" means the IP exceeded that limit and is banned; "wait for at
# least 10 minutes". We report it as RateLimited with that wait, longer than any retry cap, so the HTTP
# layer does not retry and the gateway fails over (the same action a geo-block would need).
IP_BAN_SECONDS = 600.0

# documented maxima of ``limit``
MAX_KLINES = 1000
MAX_FUNDING_HISTORY = 200
MAX_OPEN_INTEREST = 200
MAX_ACCOUNT_RATIO = 500
MAX_BOOK_DEPTH = 500
MAX_TRADES = 1000
MAX_INSTRUMENTS = 1000  # instruments-info page size; more pages follow nextPageCursor

_CODES = ErrorCodes(rate_limited=frozenset({"10006", "10018"}), unavailable=frozenset({"10000", "10016"}))


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
    if status_decides(status) or not isinstance(payload, dict) or "retCode" not in payload:
        return None
    try:
        code = int(payload["retCode"])
    except (TypeError, ValueError):
        return MalformedPayload(provider, endpoint, f"retCode {payload['retCode']!r} is not a number", status=status)
    if code == 0:
        return None
    text = str(payload.get("retMsg") or "error")
    return _CODES.error(
        provider, endpoint, status, str(code), f"retCode {code}: {text}", bad_symbol="symbol" in text.lower()
    )


def parse_tickers(payload: Any) -> BybitTickers:
    return BybitTickers.from_answer(payload)


def parse_all_tickers(payload: Any) -> tuple[BybitTickers, ...]:
    return BybitTickers.every_row(payload)


def parse_instruments(payload: Any) -> BybitInstrumentsPage:
    return BybitInstrumentsPage.from_answer(payload)


def parse_klines(payload: Any) -> tuple[BybitKline, ...]:
    return result_rows(payload, BybitKline)


def parse_funding_history(payload: Any) -> tuple[BybitFundingRate, ...]:
    return result_rows(payload, BybitFundingRate)


def parse_open_interest_history(payload: Any) -> tuple[BybitOpenInterest, ...]:
    return result_rows(payload, BybitOpenInterest)


def parse_account_ratio(payload: Any) -> tuple[BybitAccountRatio, ...]:
    return result_rows(payload, BybitAccountRatio)


def parse_order_book(payload: Any) -> BybitOrderBook:
    return BybitOrderBook.model_validate(payload["result"])


def parse_trades(payload: Any) -> tuple[BybitTrade, ...]:
    return result_rows(payload, BybitTrade)


class BybitClient:
    """Raw client: routes and parameters exactly as Bybit documents them (``category=linear`` always)."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    @staticmethod
    def _params(symbol: str, **extra: str | int) -> dict[str, str | int]:
        return {"category": "linear", "symbol": symbol, **extra}

    async def tickers(self, symbol: str) -> BybitTickers:
        """``GET /v5/market/tickers?category=linear&symbol=BTCUSDT``: price, funding and OI in one answer.

        Docs: https://bybit-exchange.github.io/docs/v5/market/tickers. Sample: ``{"retCode": 0, "result":
        {"category": "linear", "list": [{"symbol": "BTCUSDT", "lastPrice": "28550.70", "price24hPcnt":
        "0.023333", "highPrice24h": "28797.10", "lowPrice24h": "27842.80", "volume24h": "151185.5160",
        "turnover24h": "4273027716.4294", "fundingRate": "0.0001", "nextFundingTime": "1680681600000",
        "openInterest": "52774.528", "openInterestValue": "1506861070.82", "markPrice": "28552.81",
        "fundingIntervalHour": "8", ...}]}, "time": 1680673821770}``
        """
        return await self._http.get(
            "/v5/market/tickers",
            self._params(symbol),
            endpoint="market.tickers",
            ttl=self._ttls.price,
            parse=parse_tickers,
        )

    async def all_tickers(self) -> tuple[BybitTickers, ...]:
        """``GET /v5/market/tickers?category=linear`` without ``symbol``: every linear contract's row (USDT and
        USDC perpetuals and dated futures), each paired with the answer's ``time``.

        Docs: https://bybit-exchange.github.io/docs/v5/market/tickers ("symbol: Symbol name, uppercase only",
        optional). Same rows as :meth:`tickers`, one per contract.
        """
        return await self._http.get(
            "/v5/market/tickers",
            {"category": "linear"},
            endpoint="market.tickers.all",
            ttl=self._ttls.price,
            parse=parse_all_tickers,
        )

    async def instruments_info(self, cursor: str = "") -> BybitInstrumentsPage:
        """``GET /v5/market/instruments-info?category=linear&limit=1000[&cursor=...]``: contract specs, paged.

        Docs: https://bybit-exchange.github.io/docs/v5/market/instrument. Sample: ``{"retCode": 0, "result":
        {"category": "linear", "list": [{"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status":
        "Trading", "baseCoin": "BTC", "quoteCoin": "USDT", "launchTime": "1585526400000", ...}],
        "nextPageCursor": ""}, "time": 1707186451514}``
        """
        params: dict[str, str | int] = {"category": "linear", "limit": MAX_INSTRUMENTS}
        if cursor:
            params["cursor"] = cursor
        return await self._http.get(
            "/v5/market/instruments-info",
            params,
            endpoint="market.instruments-info",
            ttl=self._ttls.exchange_info,
            parse=parse_instruments,
        )

    async def kline(self, symbol: str, interval: str, limit: int) -> tuple[BybitKline, ...]:
        """``GET /v5/market/kline?category=linear&symbol=BTCUSDT&interval=240&limit=200``, newest-first.

        Docs: https://bybit-exchange.github.io/docs/v5/market/kline. Sample: ``{"retCode": 0, "result":
        {"symbol": "BTCUSDT", "category": "linear", "list": [["1694649600000", "26210", "26527.2",
        "26125.8", "26268.2", "11185.573", "293656450.7204"], ...]}}`` = start, OHLC, volume, turnover.
        """
        return await self._http.get(
            "/v5/market/kline",
            self._params(symbol, interval=interval, limit=limit),
            endpoint="market.kline",
            ttl=self._ttls.candles,
            parse=parse_klines,
        )

    async def funding_history(self, symbol: str, limit: int) -> tuple[BybitFundingRate, ...]:
        """``GET /v5/market/funding/history?category=linear&symbol=BTCUSDT&limit=200``, newest-first.

        Docs: https://bybit-exchange.github.io/docs/v5/market/history-fund-rate. Sample: ``{"retCode": 0,
        "result": {"category": "linear", "list": [{"symbol": "BTCUSDT", "fundingRate": "0.0001",
        "fundingRateTimestamp": "1709884800000"}, ...]}}``
        """
        return await self._http.get(
            "/v5/market/funding/history",
            self._params(symbol, limit=limit),
            endpoint="market.funding-history",
            ttl=self._ttls.funding,
            parse=parse_funding_history,
        )

    async def open_interest(self, symbol: str, interval_time: str, limit: int) -> tuple[BybitOpenInterest, ...]:
        """``GET /v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=4h&limit=200``.

        Docs: https://bybit-exchange.github.io/docs/v5/market/open-interest. Sample: ``{"retCode": 0,
        "result": {"symbol": "BTCUSDT", "category": "linear", "list": [{"openInterest":
        "461134384.00000000", "timestamp": "1669571400000"}, ...], "nextPageCursor": ""}}`` (coins; newest-first)
        """
        return await self._http.get(
            "/v5/market/open-interest",
            self._params(symbol, intervalTime=interval_time, limit=limit),
            endpoint="market.open-interest",
            ttl=self._ttls.open_interest,
            parse=parse_open_interest_history,
        )

    async def account_ratio(self, symbol: str, period: str, limit: int) -> tuple[BybitAccountRatio, ...]:
        """``GET /v5/market/account-ratio?category=linear&symbol=BTCUSDT&period=4h&limit=50``.

        Docs: https://bybit-exchange.github.io/docs/v5/market/long-short-ratio. Sample: ``{"retCode": 0,
        "result": {"list": [{"symbol": "BTCUSDT", "buyRatio": "0.5777", "sellRatio": "0.4223",
        "timestamp": "1695772800000"}]}}`` (shares of accounts long / short; newest-first)
        """
        return await self._http.get(
            "/v5/market/account-ratio",
            self._params(symbol, period=period, limit=limit),
            endpoint="market.account-ratio",
            ttl=self._ttls.ratios,
            parse=parse_account_ratio,
        )

    async def orderbook(self, symbol: str, limit: int) -> BybitOrderBook:
        """``GET /v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=50``: ``[price, size]`` in coins.

        Docs: https://bybit-exchange.github.io/docs/v5/market/orderbook. Sample: ``{"retCode": 0, "result":
        {"s": "BTCUSDT", "a": [["65557.7", "16.606555"]], "b": [["65485.47", "47.081829"]],
        "ts": 1716863719031, "u": 230704, "seq": 1432604333, "cts": 1716863718905}}``
        """
        return await self._http.get(
            "/v5/market/orderbook",
            self._params(symbol, limit=limit),
            endpoint="market.orderbook",
            ttl=self._ttls.price,
            parse=parse_order_book,
        )

    async def recent_trade(self, symbol: str, limit: int) -> tuple[BybitTrade, ...]:
        """``GET /v5/market/recent-trade?category=linear&symbol=BTCUSDT&limit=500``, newest-first.

        Docs: https://bybit-exchange.github.io/docs/v5/market/recent-trade. Sample: ``{"retCode": 0,
        "result": {"category": "linear", "list": [{"execId": "2100000000007764263", "symbol": "BTCUSDT",
        "price": "16618.49", "size": "0.00012", "side": "Buy", "time": "1672052955758",
        "isBlockTrade": false}]}}`` (``side`` is the taker's)
        """
        return await self._http.get(
            "/v5/market/recent-trade",
            self._params(symbol, limit=limit),
            endpoint="market.recent-trade",
            ttl=self._ttls.price,
            parse=parse_trades,
        )
