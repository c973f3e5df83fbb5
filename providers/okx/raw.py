"""OKX v5 public REST (keyless), one method per endpoint, shaped like the venue.

Docs: https://www.okx.com/docs-v5/en/ (market data, public data, trading statistics). Every method
returns the venue's own models (:mod:`providers.okx.models`) in the venue's order; normalization to our
models happens in :mod:`providers.okx.domain`. Every answer is ``{"code": "0", "msg": "", "data": [...]}``;
a non-zero ``code`` is an error even with HTTP 200 (:func:`okx_error_hook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers._shared import ErrorCodes, status_decides
from providers.okx.models import (
    OkxBook,
    OkxCandle,
    OkxFundingRate,
    OkxFundingRateHistory,
    OkxInstrument,
    OkxLiquidationItem,
    OkxLongShortRatio,
    OkxMarkPrice,
    OkxOpenInterest,
    OkxOpenInterestHist,
    OkxTicker,
    OkxTrade,
    data_rows,
    first_row,
)

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.errors import UpstreamError
    from providers.http import ProviderHttp

# documented maxima of ``limit`` (candles 300, rubik 100, liquidation-orders 100, trades 500, books 400)
MAX_CANDLES = 300
MAX_FUNDING_HISTORY = 100
MAX_STAT_ROWS = 100
MAX_LIQUIDATIONS = 100
MAX_TRADES = 500
MAX_BOOK_DEPTH = 400

_CODES = ErrorCodes(
    rate_limited=frozenset({"50011", "50061"}),
    unavailable=frozenset({"50001", "50004", "50013", "50026"}),
    bad_symbol=frozenset({"51001"}),
)


def okx_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """OKX error envelopes, which arrive with HTTP 200 as well as 4xx.

    Sample::

        {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
        {"code": "50011", "msg": "Too Many Requests", "data": []}

    HTTP 429 / 451 / 5xx are left to :func:`providers.errors.classify_status` (with ``Retry-After``).
    """
    if status_decides(status) or not isinstance(payload, dict) or "code" not in payload:
        return None
    code = str(payload["code"])
    if code == "0":
        return None
    return _CODES.error(provider, endpoint, status, code, f"code {code}: {payload.get('msg') or 'error'}")


def parse_candles(payload: Any) -> tuple[OkxCandle, ...]:
    return data_rows(payload, OkxCandle)


def parse_ticker(payload: Any) -> OkxTicker:
    return first_row(payload, OkxTicker)


def parse_tickers(payload: Any) -> tuple[OkxTicker, ...]:
    return data_rows(payload, OkxTicker)


def parse_funding(payload: Any) -> OkxFundingRate:
    return first_row(payload, OkxFundingRate)


def parse_fundings(payload: Any) -> tuple[OkxFundingRate, ...]:
    """The USDT-margined swaps of the all-swaps answer only: the other rows are never read, so never validated."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(rows, list):
        usdt = [r for r in rows if not isinstance(r, dict) or str(r.get("instId", "")).endswith("-USDT-SWAP")]
        payload = {**payload, "data": usdt}  # a row that is not an object still fails validation below
    return data_rows(payload, OkxFundingRate)


def parse_funding_history(payload: Any) -> tuple[OkxFundingRateHistory, ...]:
    return data_rows(payload, OkxFundingRateHistory)


def parse_open_interest(payload: Any) -> OkxOpenInterest:
    return first_row(payload, OkxOpenInterest)


def parse_mark_price(payload: Any) -> float:
    return first_row(payload, OkxMarkPrice).markPx


def parse_open_interests(payload: Any) -> tuple[OkxOpenInterest, ...]:
    return data_rows(payload, OkxOpenInterest)


def parse_instruments(payload: Any) -> tuple[OkxInstrument, ...]:
    return data_rows(payload, OkxInstrument)


def parse_liquidations(payload: Any) -> tuple[OkxLiquidationItem, ...]:
    return data_rows(payload, OkxLiquidationItem)


def parse_long_short(payload: Any) -> tuple[OkxLongShortRatio, ...]:
    return data_rows(payload, OkxLongShortRatio)


def parse_open_interest_history(payload: Any) -> tuple[OkxOpenInterestHist, ...]:
    return data_rows(payload, OkxOpenInterestHist)


def parse_order_book(payload: Any) -> OkxBook:
    return first_row(payload, OkxBook)


def parse_trades(payload: Any) -> tuple[OkxTrade, ...]:
    return data_rows(payload, OkxTrade)


class OkxClient:
    """Raw client: routes and parameters exactly as OKX documents them (``inst_id`` is ``BTC-USDT-SWAP``)."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def instruments(self, inst_id: str | None = None) -> tuple[OkxInstrument, ...]:
        """``GET /api/v5/public/instruments?instType=SWAP[&instId=BTC-USDT-SWAP]``: contract specs.

        Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments. Sample:
        ``{"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "ctType": "linear", "ctVal": "0.01",
        "ctValCcy": "BTC", "ctMult": "1", "settleCcy": "USDT", "state": "live", ...}]}``
        """
        params = {"instType": "SWAP"} if inst_id is None else {"instType": "SWAP", "instId": inst_id}
        return await self._http.get(
            "/api/v5/public/instruments",
            params,
            endpoint="public.instruments" if inst_id else "public.instruments.all",
            ttl=self._ttls.exchange_info,
            parse=parse_instruments,
        )

    async def mark_price(self, inst_id: str) -> float:
        """``GET /api/v5/public/mark-price?instType=SWAP&instId=BTC-USDT-SWAP``.

        Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-mark-price. Sample:
        ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "markPx": "84660.1",
        "ts": "1744590349506"}]}``
        """
        return await self._http.get(
            "/api/v5/public/mark-price",
            {"instType": "SWAP", "instId": inst_id},
            endpoint="public.mark-price",
            ttl=self._ttls.price,
            parse=parse_mark_price,
        )

    async def ticker(self, inst_id: str) -> OkxTicker:
        """``GET /api/v5/market/ticker?instId=BTC-USDT-SWAP``.

        Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-ticker. Sample:
        ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "5.123",
        "open24h": "4.799", "high24h": "5.458", "low24h": "4.537", "volCcy24h": "577730.7823",
        "vol24h": "289425", "ts": "1652459223143", ...}]}`` (swaps: ``vol24h`` contracts, ``volCcy24h`` coins)
        """
        return await self._http.get(
            "/api/v5/market/ticker",
            {"instId": inst_id},
            endpoint="market.ticker",
            ttl=self._ttls.price,
            parse=parse_ticker,
        )

    async def tickers(self) -> tuple[OkxTicker, ...]:
        """``GET /api/v5/market/tickers?instType=SWAP``: every perpetual swap's row (USDT and USD margined),
        shaped like :meth:`ticker`'s.

        Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-tickers.
        """
        return await self._http.get(
            "/api/v5/market/tickers",
            {"instType": "SWAP"},
            endpoint="market.tickers",
            ttl=self._ttls.price,
            parse=parse_tickers,
        )

    async def candles(self, inst_id: str, bar: str, limit: int) -> tuple[OkxCandle, ...]:
        """``GET /api/v5/market/candles?instId=BTC-USDT-SWAP&bar=4H&limit=300``, newest-first rows.

        Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-candlesticks. Sample:
        ``{"code": "0", "msg": "", "data": [["1747094040000", "102806.1", "102820.4", "102806.1",
        "102820.4", "1040.37", "10.4037", "1069603.34883", "1"], ...]}`` = open time, OHLC, volume in
        contracts, volume in base coin (``volCcy``), volume in quote, confirm (``0`` = still forming).
        """
        return await self._http.get(
            "/api/v5/market/candles",
            {"instId": inst_id, "bar": bar, "limit": limit},
            endpoint="market.candles",
            ttl=self._ttls.candles,
            parse=parse_candles,
        )

    async def funding_rate(self, inst_id: str) -> OkxFundingRate:
        """``GET /api/v5/public/funding-rate?instId=BTC-USDT-SWAP``: the rate charged at ``fundingTime``.

        Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate. Sample:
        ``{"code": "0", "data": [{"fundingRate": "0.0000792386885340", "fundingTime": "1703088000000",
        "instId": "BTC-USDT-SWAP", "nextFundingTime": "1703116800000", "ts": "1703070685309", ...}]}``
        """
        return await self._http.get(
            "/api/v5/public/funding-rate",
            {"instId": inst_id},
            endpoint="public.funding-rate",
            ttl=self._ttls.funding,
            parse=parse_funding,
        )

    async def funding_rates(self) -> tuple[OkxFundingRate, ...]:
        """``GET /api/v5/public/funding-rate?instId=ANY``: every swap's current rate in one answer (USDT and USD
        margined), each row shaped like :meth:`funding_rate`'s. Docs: same page (``instId`` accepts ``ANY``)."""
        return await self._http.get(
            "/api/v5/public/funding-rate",
            {"instId": "ANY"},
            endpoint="public.funding-rate.all",
            ttl=self._ttls.funding,
            parse=parse_fundings,
        )

    async def funding_rate_history(self, inst_id: str, limit: int) -> tuple[OkxFundingRateHistory, ...]:
        """``GET /api/v5/public/funding-rate-history?instId=BTC-USDT-SWAP&limit=100``, newest-first.

        Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate-history. Sample:
        ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "fundingRate":
        "0.0001515032", "realizedRate": "0.00015", "fundingTime": "1704067200000"}, ...]}``
        """
        return await self._http.get(
            "/api/v5/public/funding-rate-history",
            {"instId": inst_id, "limit": limit},
            endpoint="public.funding-rate-history",
            ttl=self._ttls.funding,
            parse=parse_funding_history,
        )

    async def open_interest(self, inst_id: str) -> OkxOpenInterest:
        """``GET /api/v5/public/open-interest?instType=SWAP&instId=BTC-USDT-SWAP``.

        Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-open-interest. Sample:
        ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "oi": "5000",
        "oiCcy": "555.55", "oiUsd": "50000000", "ts": "1597026383085"}]}`` (contracts, coins, USD;
        older answers lack ``oiUsd``)
        """
        return await self._http.get(
            "/api/v5/public/open-interest",
            {"instType": "SWAP", "instId": inst_id},
            endpoint="public.open-interest",
            ttl=self._ttls.open_interest,
            parse=parse_open_interest,
        )

    async def open_interests(self) -> tuple[OkxOpenInterest, ...]:
        """``GET /api/v5/public/open-interest?instType=SWAP`` without ``instId``: every swap's row (USDT and USD
        margined), shaped like :meth:`open_interest`'s. Docs: same page (``instId`` is optional)."""
        return await self._http.get(
            "/api/v5/public/open-interest",
            {"instType": "SWAP"},
            endpoint="public.open-interest.all",
            ttl=self._ttls.open_interest,
            parse=parse_open_interests,
        )

    async def open_interest_history(self, inst_id: str, period: str, limit: int) -> tuple[OkxOpenInterestHist, ...]:
        """``GET /api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP&period=4H&limit=100``.

        Docs: https://www.okx.com/docs-v5/en/#trading-statistics-rest-api-get-contract-open-interest-history.
        Sample: ``{"code": "0", "data": [["1701417600000", "731377.57500501", "7313.7757500501",
        "271101677.4655"]], "msg": ""}`` = time, OI in contracts, in coins, in USD; newest first.
        """
        return await self._http.get(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            {"instId": inst_id, "period": period, "limit": limit},
            endpoint="rubik.open-interest-history",
            ttl=self._ttls.open_interest,
            parse=parse_open_interest_history,
        )

    async def long_short_account_ratio_contract(
        self, inst_id: str, period: str, limit: int
    ) -> tuple[OkxLongShortRatio, ...]:
        """``GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract?instId=BTC-USDT-SWAP&period=4H``.

        Docs: https://www.okx.com/docs-v5/en/#trading-statistics-rest-api-get-contract-long-short-ratio.
        Sample: ``{"code": "0", "data": [["1630502100000", "1.25"]], "msg": ""}`` = time, accounts net long
        / accounts net short on this contract (not the per-currency aggregate), newest first.
        """
        return await self._http.get(
            "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
            {"instId": inst_id, "period": period, "limit": limit},
            endpoint="rubik.long-short-account-ratio-contract",
            ttl=self._ttls.ratios,
            parse=parse_long_short,
        )

    async def liquidation_orders(self, uly: str, limit: int) -> tuple[OkxLiquidationItem, ...]:
        """``GET /api/v5/public/liquidation-orders?instType=SWAP&uly=BTC-USDT&state=filled``.

        Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-liquidation-orders. Sample:
        ``{"code": "0", "data": [{"details": [{"bkLoss": "0", "bkPx": "0.55205", "ccy": "",
        "posSide": "short", "side": "buy", "sz": "39", "ts": "1680173247614"}], "instFamily": "XRP-USDT",
        "instId": "XRP-USDT-SWAP", "instType": "SWAP", "totalLoss": "0", "uly": "XRP-USDT"}]}``
        (``sz`` contracts, ``bkPx`` the bankruptcy price, details newest-first)
        """
        return await self._http.get(
            "/api/v5/public/liquidation-orders",
            {"instType": "SWAP", "uly": uly, "state": "filled", "limit": limit},
            endpoint="public.liquidation-orders",
            ttl=self._ttls.liquidations,
            parse=parse_liquidations,
        )

    async def books(self, inst_id: str, size: int) -> OkxBook:
        """``GET /api/v5/market/books?instId=BTC-USDT-SWAP&sz=100``: levels ``[price, contracts, "0", orders]``.

        Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-order-book. Sample:
        ``{"code": "0", "data": [{"asks": [["41006.8", "0.60038921", "0", "1"]], "bids": [["41006.3",
        "0.30178218", "0", "2"]], "ts": "1629966436396"}]}``
        """
        return await self._http.get(
            "/api/v5/market/books",
            {"instId": inst_id, "sz": size},
            endpoint="market.books",
            ttl=self._ttls.price,
            parse=parse_order_book,
        )

    async def trades(self, inst_id: str, limit: int) -> tuple[OkxTrade, ...]:
        """``GET /api/v5/market/trades?instId=BTC-USDT-SWAP&limit=500``, newest-first; ``side`` is the taker's.

        Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-trades. Sample:
        ``{"code": "0", "data": [{"instId": "BTC-USDT", "side": "sell", "sz": "0.00013669",
        "px": "102537.9", "tradeId": "734864333", "ts": "1747087163557"}, ...]}`` (``sz`` contracts for swaps)
        """
        return await self._http.get(
            "/api/v5/market/trades",
            {"instId": inst_id, "limit": limit},
            endpoint="market.trades",
            ttl=self._ttls.price,
            parse=parse_trades,
        )
