"""Binance USD-M futures REST, one method per endpoint, shaped like the venue.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api
Every method returns the venue's own model (:mod:`providers.binance.models`); normalization to our
models happens in :mod:`providers.binance.domain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers._shared import rows_parser
from providers.binance.models import (
    BinanceAggTrade,
    BinanceDepth,
    BinanceExchangeInfo,
    BinanceFundingInfo,
    BinanceFundingRate,
    BinanceKline,
    BinanceLongShortRatio,
    BinanceOpenInterest,
    BinanceOpenInterestHist,
    BinancePremiumIndex,
    BinanceTakerRatio,
    BinanceTicker24h,
)
from providers.errors import (
    InvalidRequest,
    InvalidSymbol,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp

PROVIDER = "binance"
# ``GET /fapi/v1/ping`` answers ``{}`` at request weight 1 (Binance: "test connectivity to the REST API"): a
# request that opens a connection and asks for no market data
PING_PATH = "/fapi/v1/ping"
_RETRYABLE_CODES = {-1000, -1001, -1006, -1007, -1008}
_RATE_LIMIT_CODES = {-1003, -1015}
_BAD_SYMBOL_CODES = {-1121, -1122}


def binance_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Binance error bodies, including those that arrive with HTTP 200.

    Standard envelope (HTTP 400, sometimes 200)::

        {"code": -1121, "msg": "Invalid symbol."}

    Non-standard envelope seen with HTTP 200 from ``/fapi/v1/fundingRate?limit=1001``::

        {"status": "ERROR", "type": "GENERAL", "code": "99099990", "errorData": "illegal params.",
         "data": null, "subData": null, "params": null}
    """
    if status in (418, 429, 451) or status >= 500 or not isinstance(payload, dict):
        return None  # status-level classification (with Retry-After) applies
    if payload.get("status") == "ERROR":
        detail = payload.get("errorData") or payload.get("type") or "error envelope"
        return InvalidRequest(
            provider, endpoint, f"HTTP {status} error envelope {payload.get('code')}: {detail}", status=status
        )
    code = payload.get("code")
    if isinstance(code, int) and code < 0 and "msg" in payload:
        text = f"code {code}: {payload['msg']}"
        if code in _BAD_SYMBOL_CODES:
            return InvalidSymbol(provider, endpoint, text, status=status)
        if code in _RATE_LIMIT_CODES:
            return RateLimited(provider, endpoint, text, status=status)
        if code in _RETRYABLE_CODES:
            return UpstreamUnavailable(provider, endpoint, text, status=status)
        return InvalidRequest(provider, endpoint, text, status=status)
    return None


# each list answer's parser, built here at import: no request pays for building a validator
_AGG_TRADE_ROWS = rows_parser(BinanceAggTrade)
_FUNDING_INFO_ROWS = rows_parser(BinanceFundingInfo)
_FUNDING_RATE_ROWS = rows_parser(BinanceFundingRate)
_LONG_SHORT_RATIO_ROWS = rows_parser(BinanceLongShortRatio)
_OPEN_INTEREST_HIST_ROWS = rows_parser(BinanceOpenInterestHist)
_PREMIUM_INDEX_ROWS = rows_parser(BinancePremiumIndex)
_TAKER_RATIO_ROWS = rows_parser(BinanceTakerRatio)
_TICKER24H_ROWS = rows_parser(BinanceTicker24h)


class BinanceFuturesClient:
    """Raw client: routes and parameters exactly as Binance documents them."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    @property
    def ttls(self) -> CacheTtls:
        return self._ttls

    async def exchange_info(self) -> BinanceExchangeInfo:
        """``GET /fapi/v1/exchangeInfo``: every contract with ``onboardDate``, ``status``, ``contractType``.

        Sample: ``{"serverTime": 1645233611962, "symbols": [{"symbol": "BTCUSDT", "pair": "BTCUSDT",
        "contractType": "PERPETUAL", "deliveryDate": 4133404800000, "onboardDate": 1569398400000,
        "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", ...}], ...}``
        """
        return await self._http.get(
            "/fapi/v1/exchangeInfo",
            None,
            endpoint="exchangeInfo",
            ttl=self._ttls.exchange_info,
            parse=BinanceExchangeInfo.model_validate,
        )

    async def ticker_24hr(self, symbol: str) -> BinanceTicker24h:
        """``GET /fapi/v1/ticker/24hr?symbol=BTCUSDT``.

        Sample: ``{"symbol": "BTCUSDT", "priceChange": "-885.10", "priceChangePercent": "-1.138",
        "lastPrice": "76914.90", "highPrice": "79570.90", "lowPrice": "76667.30", "volume": "169924.020",
        "quoteVolume": "13258734360.38", "openTime": 1789391880000, "closeTime": 1789478298702, ...}``
        """
        return await self._http.get(
            "/fapi/v1/ticker/24hr",
            {"symbol": symbol},
            endpoint="ticker24hr",
            ttl=self._ttls.price,
            parse=BinanceTicker24h.model_validate,
        )

    async def tickers_24hr(self) -> tuple[BinanceTicker24h, ...]:
        """``GET /fapi/v1/ticker/24hr`` without a symbol: a list of the objects above, every symbol."""
        return await self._http.get(
            "/fapi/v1/ticker/24hr",
            None,
            endpoint="ticker24hr.all",
            ttl=self._ttls.price,
            parse=_TICKER24H_ROWS,
        )

    async def premium_index(self, symbol: str) -> BinancePremiumIndex:
        """``GET /fapi/v1/premiumIndex?symbol=BTCUSDT``: mark price and the last funding rate.

        Sample: ``{"symbol": "BTCUSDT", "markPrice": "63086.40000000", "indexPrice": "63112.91239130",
        "estimatedSettlePrice": "63129.34966963", "lastFundingRate": "0.00009145",
        "interestRate": "0.00010000", "nextFundingTime": 1785686400000, "time": 1785676356000}``
        """
        return await self._http.get(
            "/fapi/v1/premiumIndex",
            {"symbol": symbol},
            endpoint="premiumIndex",
            ttl=self._ttls.funding,
            parse=BinancePremiumIndex.model_validate,
        )

    async def premium_indexes(self) -> tuple[BinancePremiumIndex, ...]:
        """``GET /fapi/v1/premiumIndex`` without a symbol: a list of the objects above, every symbol."""
        return await self._http.get(
            "/fapi/v1/premiumIndex",
            None,
            endpoint="premiumIndex.all",
            ttl=self._ttls.funding,
            parse=_PREMIUM_INDEX_ROWS,
        )

    async def funding_info(self) -> tuple[BinanceFundingInfo, ...]:
        """``GET /fapi/v1/fundingInfo``: the symbols whose funding cap, floor or interval was adjusted (every
        other symbol settles on the default 8 h), weight 0, sharing 500 calls / 5 min / IP with fundingRate.

        Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-Info
        Sample: ``[{"symbol": "BLZUSDT", "adjustedFundingRateCap": "0.02500000", "adjustedFundingRateFloor":
        "-0.02500000", "fundingIntervalHours": 8, "disclaimer": false}]``
        """
        return await self._http.get(
            "/fapi/v1/fundingInfo",
            None,
            endpoint="fundingInfo",
            ttl=self._ttls.exchange_info,
            parse=_FUNDING_INFO_ROWS,
        )

    async def funding_rate_history(self, symbol: str, limit: int = 30) -> tuple[BinanceFundingRate, ...]:
        """``GET /fapi/v1/fundingRate?symbol=BTCUSDT&limit=30``, oldest-first.

        Sample: ``[{"symbol": "BTCUSDT", "fundingTime": 1785657600000, "fundingRate": "0.00006174",
        "markPrice": "63325.70000000", "rateType": "Regular"}, ...]``
        """
        return await self._http.get(
            "/fapi/v1/fundingRate",
            {"symbol": symbol, "limit": limit},
            endpoint="fundingRate",
            ttl=self._ttls.funding,
            parse=_FUNDING_RATE_ROWS,
        )

    async def open_interest(self, symbol: str) -> BinanceOpenInterest:
        """``GET /fapi/v1/openInterest?symbol=BTCUSDT``: current OI in coins.

        Sample: ``{"symbol": "BTCUSDT", "openInterest": "108876.459", "time": 1785676384915}``
        """
        return await self._http.get(
            "/fapi/v1/openInterest",
            {"symbol": symbol},
            endpoint="openInterest",
            ttl=self._ttls.open_interest,
            parse=BinanceOpenInterest.model_validate,
        )

    async def open_interest_hist(
        self, symbol: str, period: str, limit: int = 30
    ) -> tuple[BinanceOpenInterestHist, ...]:
        """``GET /futures/data/openInterestHist?symbol=BTCUSDT&period=4h&limit=30`` (last 30 days only).

        Sample: ``[{"symbol": "BTCUSDT", "sumOpenInterest": "109026.20500000",
        "sumOpenInterestValue": "6869451556.04710700", "CMCCirculatingSupply": "20064465.00000000",
        "timestamp": 1785672000000}, ...]`` (``timestamp`` is numeric today; the docs show strings)
        """
        return await self._http.get(
            "/futures/data/openInterestHist",
            {"symbol": symbol, "period": period, "limit": limit},
            endpoint="openInterestHist",
            ttl=self._ttls.open_interest,
            parse=_OPEN_INTEREST_HIST_ROWS,
        )

    async def klines(self, symbol: str, interval: str, limit: int = 200) -> tuple[BinanceKline, ...]:
        """``GET /fapi/v1/klines?symbol=BTCUSDT&interval=4h&limit=200``, oldest-first rows.

        Sample row: ``[1785676320000, "63050.00", "63090.10", "63049.90", "63086.30", "75.874",
        1785676379999, "4785312.54570", 1539, "40.012", "2523496.98910", "0"]`` = open time, OHLC,
        base volume, close time, quote volume, trades, taker-buy base and quote volume, ignore.
        """
        return await self._http.get(
            "/fapi/v1/klines",
            {"symbol": symbol, "interval": interval, "limit": limit},
            endpoint="klines",
            ttl=self._ttls.candles,
            parse=BinanceKline.from_rows,
        )

    async def _ratio(self, path: str, endpoint: str, symbol: str, period: str, limit: int) -> Any:
        return await self._http.get(
            path,
            {"symbol": symbol, "period": period, "limit": limit},
            endpoint=endpoint,
            ttl=self._ttls.ratios,
            parse=_LONG_SHORT_RATIO_ROWS,
        )

    async def global_long_short_account_ratio(
        self, symbol: str, period: str, limit: int = 30
    ) -> tuple[BinanceLongShortRatio, ...]:
        """``GET /futures/data/globalLongShortAccountRatio``: share of all accounts net long.

        Sample: ``[{"symbol": "BTCUSDT", "longShortRatio": "1.9559", "longAccount": "0.6617",
        "shortAccount": "0.3383", "timestamp": 1785672000000}, ...]``
        """
        result: tuple[BinanceLongShortRatio, ...] = await self._ratio(
            "/futures/data/globalLongShortAccountRatio", "globalLongShortAccountRatio", symbol, period, limit
        )
        return result

    async def top_long_short_position_ratio(
        self, symbol: str, period: str, limit: int = 30
    ) -> tuple[BinanceLongShortRatio, ...]:
        """``GET /futures/data/topLongShortPositionRatio``: top 20% traders' long share by position size.

        Sample: ``[{"symbol": "BTCUSDT", "longShortRatio": "1.4342", "longAccount": "0.5891",
        "shortAccount": "0.4109", "timestamp": 1583139600000}, ...]``
        """
        result: tuple[BinanceLongShortRatio, ...] = await self._ratio(
            "/futures/data/topLongShortPositionRatio", "topLongShortPositionRatio", symbol, period, limit
        )
        return result

    async def top_long_short_account_ratio(
        self, symbol: str, period: str, limit: int = 30
    ) -> tuple[BinanceLongShortRatio, ...]:
        """``GET /futures/data/topLongShortAccountRatio``: top traders' long share by account (same rows)."""
        result: tuple[BinanceLongShortRatio, ...] = await self._ratio(
            "/futures/data/topLongShortAccountRatio", "topLongShortAccountRatio", symbol, period, limit
        )
        return result

    async def taker_long_short_ratio(self, symbol: str, period: str, limit: int = 30) -> tuple[BinanceTakerRatio, ...]:
        """``GET /futures/data/takerlongshortRatio``: taker buy/sell volume (rows carry no ``symbol``).

        Sample: ``[{"buySellRatio": "0.7586", "sellVol": "1986.6060", "buyVol": "1507.0400",
        "timestamp": 1785668400000}, ...]``
        """
        return await self._http.get(
            "/futures/data/takerlongshortRatio",
            {"symbol": symbol, "period": period, "limit": limit},
            endpoint="takerlongshortRatio",
            ttl=self._ttls.ratios,
            parse=_TAKER_RATIO_ROWS,
        )

    async def agg_trades(self, symbol: str, limit: int = 1000) -> tuple[BinanceAggTrade, ...]:
        """``GET /fapi/v1/aggTrades?symbol=BTCUSDT&limit=1000``: the latest aggregate trades, oldest first.

        Sample: ``[{"a": 3450415493, "p": "76906.00", "q": "0.004", "nq": "0.004", "f": 8079747315,
        "l": 8079747315, "T": 1789478330891,  # epoch ms
        "m": false}]``  # m: the buyer was the maker (the taker sold)
        """
        return await self._http.get(
            "/fapi/v1/aggTrades",
            {"symbol": symbol, "limit": limit},
            endpoint="aggTrades",
            ttl=self._ttls.price,
            parse=_AGG_TRADE_ROWS,
        )

    async def depth(self, symbol: str, limit: int = 100) -> BinanceDepth:
        """``GET /fapi/v1/depth?symbol=BTCUSDT&limit=100``: price levels as ``[price, qty]`` strings.

        Sample: ``{"lastUpdateId": 1027024, "E": 1589436922972, "T": 1589436922959,
        "bids": [["4.00000000", "431.00000000"]], "asks": [["4.00000200", "12.00000000"]]}``
        """
        return await self._http.get(
            "/fapi/v1/depth",
            {"symbol": symbol, "limit": limit},
            endpoint="depth",
            ttl=self._ttls.price,
            parse=BinanceDepth.model_validate,
        )
