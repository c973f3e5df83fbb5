"""OKX v5 public REST (keyless): USDT-margined perpetual swaps (``BTC-USDT-SWAP``).

Docs: https://www.okx.com/docs-v5/en/ (market data, public data, trading statistics). Every answer is
``{"code": "0", "msg": "", "data": [...]}``; a non-zero ``code`` is an error even with HTTP 200.

Units, decided once here (REFERENCE §2):

- Series (candles, funding history, OI history, ratios, trades, liquidations) arrive newest-first and
  leave oldest-first.
- Sizes in *contracts* (swap trades, order-book levels, liquidation ``sz``) are multiplied by the
  instrument's ``ctVal`` (coins per contract, BTC-USDT-SWAP: 0.01) from ``/public/instruments``.
  Candle volume is ``volCcy`` (already in coins), OI is ``oiCcy`` (coins).
- Funding is a fraction per interval; the interval is ``nextFundingTime - fundingTime`` (usually 8 h).
- Liquidations are normalized to the liquidated *position* side: ``posSide`` when it says long/short,
  else the order side (a ``sell`` closes a long, a ``buy`` closes a short).
- Intervals of 6 h and longer use OKX's UTC-aligned bars (``6Hutc``, ``1Dutc``), not the default
  Hong Kong-aligned ones, so they line up with every other venue.
- Normalized symbols are canonical (``BTCUSDT``), never the venue's ``BTC-USDT-SWAP``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from engine.market import (
    Candle,
    CandleInterval,
    FundingRate,
    Liquidation,
    LongShortPoint,
    OpenInterest,
    OpenInterestPoint,
    OrderBook,
    PositionSide,
    Ticker24h,
    Trade,
    utc_from_ms,
)
from providers.errors import (
    InvalidRequest,
    InvalidSymbol,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from providers.normalize import DEFAULT_FUNDING_INTERVAL_HOURS, clamp_limit, funding_interval_hours, oldest_first
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

PROVIDER = "okx"
DEFAULT_BASE_URL = "https://www.okx.com"
# OKX documents its public limits per endpoint and IP: 20 requests / 2 s for market data and public data
# (candles, ticker, funding-rate, open-interest, instruments, books, trades), 10 / 2 s for contract OI
# history and 5 / 2 s for the other trading-statistics (rubik) endpoints
# (https://www.okx.com/docs-v5/en/#overview-rate-limits and each endpoint's "Rate Limit" line).
# One budget for the whole provider, below the 10/s of a single market-data endpoint, so even a burst
# on one endpoint stays legal; rubik answers are cached for a minute (ttls.ratios / open_interest).
RATE_LIMIT_PER_SECOND: float = 8.0


# /api/v5/market/candles ``bar``: 6 h and longer in their UTC-aligned form
CANDLE_BARS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1m",
    CandleInterval.M3: "3m",
    CandleInterval.M5: "5m",
    CandleInterval.M15: "15m",
    CandleInterval.M30: "30m",
    CandleInterval.H1: "1H",
    CandleInterval.H2: "2H",
    CandleInterval.H4: "4H",
    CandleInterval.H6: "6Hutc",
    CandleInterval.H12: "12Hutc",
    CandleInterval.D1: "1Dutc",
    CandleInterval.W1: "1Wutc",
}
# /api/v5/rubik/stat/contracts/* ``period``: the same spellings, but nothing shorter than 5m
STAT_PERIODS: dict[CandleInterval, str] = {k: v for k, v in CANDLE_BARS.items() if k.duration.total_seconds() >= 300}

# documented maxima of ``limit`` (candles 300, rubik 100, liquidation-orders 100, trades 500, books 400)
_MAX_CANDLES = 300
_MAX_FUNDING_HISTORY = 100
_MAX_STAT_ROWS = 100
_MAX_LIQUIDATIONS = 100
_MAX_TRADES = 500
_MAX_BOOK_DEPTH = 400

_RATE_LIMIT_CODES = {"50011", "50061"}
_UNAVAILABLE_CODES = {"50001", "50004", "50013", "50026"}
_BAD_SYMBOL_CODES = {"51001"}


def okx_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """OKX error envelopes, which arrive with HTTP 200 as well as 4xx.

    Sample::

        {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
        {"code": "50011", "msg": "Too Many Requests", "data": []}

    HTTP 429 / 451 / 5xx are left to :func:`providers.errors.classify_status` (with ``Retry-After``).
    """
    if status in (418, 429, 451) or status >= 500:
        return None
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = str(payload["code"])
    if code == "0":
        return None
    message = f"code {code}: {payload.get('msg') or 'error'}"
    if code in _RATE_LIMIT_CODES:
        return RateLimited(provider, endpoint, message, status=status)
    if code in _UNAVAILABLE_CODES:
        return UpstreamUnavailable(provider, endpoint, message, status=status)
    if code in _BAD_SYMBOL_CODES:
        return InvalidSymbol(provider, endpoint, message, status=status)
    return InvalidRequest(provider, endpoint, message, status=status)


# --------------------------------------------------------------------------------------------------
# parsers: envelope in, normalized models out (each raises KeyError/ValueError/TypeError on a bad shape,
# which ProviderHttp reports as MalformedPayload)


def _data(payload: Any) -> list[Any]:
    data = payload["data"]
    if not isinstance(data, list):
        raise TypeError(f"data is {type(data).__name__}, expected a list")
    return data


def _first(payload: Any) -> dict[str, Any]:
    data = _data(payload)
    if not data:
        raise ValueError("empty data")
    row: dict[str, Any] = data[0]
    return row


def canonical_symbol(inst_id: str) -> str:
    """``BTC-USDT-SWAP`` → ``BTCUSDT`` (the form every normalized model carries)."""
    return inst_id.removesuffix("-SWAP").replace("-", "")


def parse_candles(payload: Any) -> tuple[Candle, ...]:
    """``GET /api/v5/market/candles?instId=BTC-USDT-SWAP&bar=4H&limit=300``, newest-first rows.

    Sample: ``{"code": "0", "msg": "", "data": [["1747094040000", "102806.1", "102820.4", "102806.1",
    "102820.4", "1040.37", "10.4037", "1069603.34883", "1"], ...]}`` = open time, OHLC, volume in
    contracts, volume in base coin (``volCcy``), volume in quote, confirm (``0`` = still forming).
    """
    rows = oldest_first(_data(payload), lambda r: int(r[0]))
    return tuple(
        Candle(
            open_time=utc_from_ms(r[0]),
            open=float(r[1]),
            high=float(r[2]),
            low=float(r[3]),
            close=float(r[4]),
            volume=float(r[6]),
            quote_volume=float(r[7]),
        )
        for r in rows
    )


def parse_ticker(payload: Any) -> Ticker24h:
    """``GET /api/v5/market/ticker?instId=BTC-USDT-SWAP``.

    Sample: ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "5.123",
    "open24h": "4.799", "high24h": "5.458", "low24h": "4.537", "volCcy24h": "577730.7823",
    "vol24h": "289425", "ts": "1652459223143", ...}]}``. For swaps ``vol24h`` is contracts and
    ``volCcy24h`` base coins; OKX gives no quote volume for swaps, so it is estimated as
    ``volCcy24h × last``. The change is against ``open24h`` (the price 24 h ago), in percent.
    """
    row = _first(payload)
    last = float(row["last"])
    open_24h = float(row["open24h"])
    volume = float(row["volCcy24h"])
    return Ticker24h(
        symbol=canonical_symbol(row["instId"]),
        last_price=last,
        price_change_pct=(last - open_24h) / open_24h * 100.0 if open_24h else 0.0,
        high=float(row["high24h"]),
        low=float(row["low24h"]),
        volume=volume,
        quote_volume=volume * last,
        close_time=utc_from_ms(row["ts"]),
    )


def parse_funding(payload: Any) -> FundingRate:
    """``GET /api/v5/public/funding-rate?instId=BTC-USDT-SWAP``: the rate charged at ``fundingTime``.

    Sample: ``{"code": "0", "data": [{"fundingRate": "0.0000792386885340", "fundingTime": "1703088000000",
    "instId": "BTC-USDT-SWAP", "nextFundingTime": "1703116800000", "ts": "1703070685309", ...}]}``
    (a fraction per interval; interval = ``nextFundingTime - fundingTime``, 8 h here).
    """
    row = _first(payload)
    funding_time = int(row["fundingTime"])
    next_time = int(row["nextFundingTime"]) if row.get("nextFundingTime") else 0
    interval = (next_time - funding_time) / 3_600_000 if next_time > funding_time else DEFAULT_FUNDING_INTERVAL_HOURS
    return FundingRate(
        symbol=canonical_symbol(row["instId"]),
        rate=float(row["fundingRate"]),
        interval_hours=interval,
        time=utc_from_ms(row.get("ts") or funding_time),
        next_funding_time=utc_from_ms(funding_time),
    )


def parse_funding_history(payload: Any) -> tuple[FundingRate, ...]:
    """``GET /api/v5/public/funding-rate-history?instId=BTC-USDT-SWAP&limit=100``, newest-first.

    Sample: ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "fundingRate":
    "0.0001515032", "realizedRate": "0.00015", "fundingTime": "1704067200000"}, ...]}``. OKX documents
    ``realizedRate`` as the rate actually settled (``fundingRate`` is the last prediction): it is used
    when present. The interval is the spacing of ``fundingTime``.
    """
    rows = oldest_first(_data(payload), lambda r: int(r["fundingTime"]))
    interval = funding_interval_hours([int(r["fundingTime"]) for r in rows])
    return tuple(
        FundingRate(
            symbol=canonical_symbol(r["instId"]),
            rate=float(r.get("realizedRate") or r["fundingRate"]),
            interval_hours=interval,
            time=utc_from_ms(r["fundingTime"]),
        )
        for r in rows
    )


def parse_open_interest(payload: Any) -> OpenInterest:
    """``GET /api/v5/public/open-interest?instType=SWAP&instId=BTC-USDT-SWAP``.

    Sample: ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "oi": "5000",
    "oiCcy": "555.55", "oiUsd": "50000000", "ts": "1597026383085"}]}`` (``oi`` contracts, ``oiCcy``
    coins, ``oiUsd`` USD; older answers lack ``oiUsd``: then ``usd`` is ``None`` here).
    """
    row = _first(payload)
    return OpenInterest(
        symbol=canonical_symbol(row["instId"]),
        coins=float(row["oiCcy"]),
        usd=float(row["oiUsd"]) if row.get("oiUsd") else None,
        time=utc_from_ms(row["ts"]),
    )


def parse_mark_price(payload: Any) -> float:
    """``GET /api/v5/public/mark-price?instType=SWAP&instId=BTC-USDT-SWAP``.

    Sample: ``{"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "markPx": "84660.1",
    "ts": "1744590349506"}]}``
    """
    return float(_first(payload)["markPx"])


def parse_contract_value(payload: Any) -> float:
    """``GET /api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP``: coins per contract.

    Sample: ``{"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "ctType": "linear", "ctVal": "0.01",
    "ctValCcy": "BTC", "ctMult": "1", "settleCcy": "USDT", "state": "live", ...}]}``. Only linear
    contracts have ``ctVal`` in coins (inverse ones count USD), so anything else is rejected.
    """
    row = _first(payload)
    if row.get("ctType", "linear") != "linear":
        raise ValueError(f"{row.get('instId')}: ctType {row['ctType']!r}, expected linear")
    value = float(row["ctVal"])
    if value <= 0:
        raise ValueError(f"{row.get('instId')}: ctVal {value} is not positive")
    return value


def parse_contract_values(payload: Any) -> dict[str, float]:
    """``GET /api/v5/public/instruments?instType=SWAP``: every swap's coins per contract, linear ones only
    (same rows as :func:`parse_contract_value`)."""
    rows = payload["data"]
    return {
        row["instId"]: float(row["ctVal"])
        for row in rows
        if row.get("ctType", "linear") == "linear" and float(row.get("ctVal") or 0) > 0
    }


def liquidated_side(detail: dict[str, Any]) -> PositionSide:
    """The side of the position that was liquidated.

    ``posSide`` names it directly (``long`` / ``short``); in net mode it is ``net`` (or empty) and the
    liquidation order's ``side`` decides: a ``sell`` order closes a long, a ``buy`` order a short.
    """
    pos_side = detail.get("posSide", "")
    if pos_side == "long":
        return PositionSide.LONG
    if pos_side == "short":
        return PositionSide.SHORT
    side = detail.get("side", "")
    if side == "sell":
        return PositionSide.LONG
    if side == "buy":
        return PositionSide.SHORT
    raise ValueError(f"liquidation without a usable side: posSide={pos_side!r} side={side!r}")


def parse_liquidations(payload: Any, contract_value: float, inst_id: str | None = None) -> tuple[Liquidation, ...]:
    """``GET /api/v5/public/liquidation-orders?instType=SWAP&uly=BTC-USDT&state=filled``, oldest-first.

    Sample: ``{"code": "0", "data": [{"details": [{"bkLoss": "0", "bkPx": "0.55205", "ccy": "",
    "posSide": "short", "side": "buy", "sz": "39", "ts": "1680173247614"}], "instFamily": "XRP-USDT",
    "instId": "XRP-USDT-SWAP", "instType": "SWAP", "totalLoss": "0", "uly": "XRP-USDT"}]}``.
    ``sz`` is contracts (× ``contract_value`` = coins); ``bkPx`` the bankruptcy price. Only items of
    ``inst_id`` are kept when given (an underlying can list several instruments).
    """
    liquidations = [
        Liquidation(
            venue=PROVIDER,
            symbol=canonical_symbol(item["instId"]),
            side=liquidated_side(detail),
            price=float(detail["bkPx"]),
            size=float(detail["sz"]) * contract_value,
            time=utc_from_ms(detail["ts"]),
        )
        for item in _data(payload)
        if inst_id is None or item["instId"] == inst_id
        for detail in item["details"]
    ]
    return tuple(oldest_first(liquidations, lambda liq: liq.time))


def parse_long_short(payload: Any) -> tuple[LongShortPoint, ...]:
    """``GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract?instId=BTC-USDT-SWAP&period=4H``.

    Sample: ``{"code": "0", "data": [["1630502100000", "1.25"]], "msg": ""}`` = time, ratio of accounts
    net long to accounts net short (same rows as the per-currency ``long-short-account-ratio``), newest
    first. The long share is ``ratio / (1 + ratio)``, carried in percent.
    """
    rows = oldest_first(_data(payload), lambda r: int(r[0]))
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r[0]), long_pct=float(r[1]) / (1.0 + float(r[1])) * 100.0, long_short_ratio=float(r[1])
        )
        for r in rows
    )


def parse_open_interest_history(payload: Any) -> tuple[OpenInterestPoint, ...]:
    """``GET /api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP&period=4H&limit=100``.

    Sample: ``{"code": "0", "data": [["1701417600000", "731377.57500501", "7313.7757500501",
    "271101677.4655"]], "msg": ""}`` = time, OI in contracts, in coins (``oiCcy``), in USD; newest first.
    """
    rows = oldest_first(_data(payload), lambda r: int(r[0]))
    return tuple(
        OpenInterestPoint(
            time=utc_from_ms(r[0]),
            open_interest=float(r[2]),
            open_interest_usd=float(r[3]) if len(r) > 3 and r[3] else None,
            unit="coin",
        )
        for r in rows
    )


def parse_order_book(payload: Any, contract_value: float, symbol: str) -> OrderBook:
    """``GET /api/v5/market/books?instId=BTC-USDT-SWAP&sz=100``: levels ``[price, contracts, "0", orders]``.

    Sample: ``{"code": "0", "data": [{"asks": [["41006.8", "0.60038921", "0", "1"]], "bids": [["41006.3",
    "0.30178218", "0", "2"]], "ts": "1629966436396"}]}`` (sizes × ``contract_value`` = coins).
    """
    book = _first(payload)

    def levels(rows: list[list[str]]) -> tuple[tuple[float, float], ...]:
        return tuple((float(r[0]), float(r[1]) * contract_value) for r in rows)

    return OrderBook(symbol=symbol, bids=levels(book["bids"]), asks=levels(book["asks"]), time=utc_from_ms(book["ts"]))


def parse_trades(payload: Any, contract_value: float) -> tuple[Trade, ...]:
    """``GET /api/v5/market/trades?instId=BTC-USDT-SWAP&limit=500``, newest-first; ``side`` is the taker's.

    Sample: ``{"code": "0", "data": [{"instId": "BTC-USDT", "side": "sell", "sz": "0.00013669",
    "px": "102537.9", "tradeId": "734864333", "ts": "1747087163557"}, ...]}`` (``sz`` is contracts for
    swaps: pass the contract value; 1.0 for spot).
    """
    rows = oldest_first(_data(payload), lambda r: int(r["ts"]))
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=canonical_symbol(r["instId"]),
            taker_side=str(r["side"]).upper(),
            price=float(r["px"]),
            size=float(r["sz"]) * contract_value,
            time=utc_from_ms(r["ts"]),
        )
        for r in rows
    )


# --------------------------------------------------------------------------------------------------
# the provider


class OkxProvider(MarketProvider):
    """OKX USDT-margined perpetual swaps over the keyless v5 REST API."""

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
            Capability.LIQUIDATIONS,
            Capability.ORDER_BOOK,
            Capability.TRADES,
        }
    )

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def contract_value(self, instrument: Instrument) -> float:
        """Coins per contract (``ctVal``), cached for ``ttls.exchange_info``."""
        return await self._http.get(
            "/api/v5/public/instruments",
            {"instType": "SWAP", "instId": instrument.for_provider(PROVIDER)},
            endpoint="public.instruments",
            ttl=self._ttls.exchange_info,
            parse=parse_contract_value,
        )

    async def contract_values(self) -> dict[str, float]:
        """Every linear swap's ``ctVal`` in one call (the stream parsers need them synchronously)."""
        return await self._http.get(
            "/api/v5/public/instruments",
            {"instType": "SWAP"},
            endpoint="public.instruments.all",
            ttl=self._ttls.exchange_info,
            parse=parse_contract_values,
        )

    async def mark_price(self, instrument: Instrument) -> float:
        return await self._http.get(
            "/api/v5/public/mark-price",
            {"instType": "SWAP", "instId": instrument.for_provider(PROVIDER)},
            endpoint="public.mark-price",
            ttl=self._ttls.price,
            parse=parse_mark_price,
        )

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        return await self._http.get(
            "/api/v5/market/ticker",
            {"instId": instrument.for_provider(PROVIDER)},
            endpoint="market.ticker",
            ttl=self._ttls.price,
            parse=parse_ticker,
        )

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        bar = interval_code(PROVIDER, "market.candles", interval, CANDLE_BARS)
        return await self._http.get(
            "/api/v5/market/candles",
            {"instId": instrument.for_provider(PROVIDER), "bar": bar, "limit": clamp_limit(limit, _MAX_CANDLES)},
            endpoint="market.candles",
            ttl=self._ttls.candles,
            parse=parse_candles,
        )

    async def funding(self, instrument: Instrument) -> FundingRate:
        return await self._http.get(
            "/api/v5/public/funding-rate",
            {"instId": instrument.for_provider(PROVIDER)},
            endpoint="public.funding-rate",
            ttl=self._ttls.funding,
            parse=parse_funding,
        )

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return await self._http.get(
            "/api/v5/public/funding-rate-history",
            {"instId": instrument.for_provider(PROVIDER), "limit": clamp_limit(limit, _MAX_FUNDING_HISTORY)},
            endpoint="public.funding-rate-history",
            ttl=self._ttls.funding,
            parse=parse_funding_history,
        )

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        """Coins from ``oiCcy``; USD from ``oiUsd``, or ``oiCcy × mark price`` when OKX omits it."""
        oi = await self._http.get(
            "/api/v5/public/open-interest",
            {"instType": "SWAP", "instId": instrument.for_provider(PROVIDER)},
            endpoint="public.open-interest",
            ttl=self._ttls.open_interest,
            parse=parse_open_interest,
        )
        if oi.usd is None:
            oi = dataclasses.replace(oi, usd=oi.coins * await self.mark_price(instrument))
        return oi

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        period = interval_code(PROVIDER, "rubik.open-interest-history", interval, STAT_PERIODS)
        return await self._http.get(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            {
                "instId": instrument.for_provider(PROVIDER),
                "period": period,
                "limit": clamp_limit(limit, _MAX_STAT_ROWS),
            },
            endpoint="rubik.open-interest-history",
            ttl=self._ttls.open_interest,
            parse=parse_open_interest_history,
        )

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        """Accounts net long vs net short on this contract (not the per-currency aggregate)."""
        period = interval_code(PROVIDER, "rubik.long-short-account-ratio-contract", interval, STAT_PERIODS)
        return await self._http.get(
            "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
            {
                "instId": instrument.for_provider(PROVIDER),
                "period": period,
                "limit": clamp_limit(limit, _MAX_STAT_ROWS),
            },
            endpoint="rubik.long-short-account-ratio-contract",
            ttl=self._ttls.ratios,
            parse=parse_long_short,
        )

    async def liquidations(self, instrument: Instrument, limit: int) -> tuple[Liquidation, ...]:
        inst_id = instrument.for_provider(PROVIDER)
        contract_value = await self.contract_value(instrument)
        rows = await self._http.get(
            "/api/v5/public/liquidation-orders",
            {
                "instType": "SWAP",
                "uly": f"{instrument.base}-{instrument.quote}",
                "state": "filled",
                "limit": clamp_limit(limit, _MAX_LIQUIDATIONS),
            },
            endpoint="public.liquidation-orders",
            ttl=self._ttls.liquidations,
            parse=lambda payload: parse_liquidations(payload, contract_value, inst_id),
        )
        return rows[-limit:] if limit > 0 else ()

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        contract_value = await self.contract_value(instrument)
        return await self._http.get(
            "/api/v5/market/books",
            {"instId": instrument.for_provider(PROVIDER), "sz": clamp_limit(depth, _MAX_BOOK_DEPTH)},
            endpoint="market.books",
            ttl=self._ttls.price,
            parse=lambda payload: parse_order_book(payload, contract_value, instrument.canonical),
        )

    async def trades(self, instrument: Instrument, limit: int) -> tuple[Trade, ...]:
        contract_value = await self.contract_value(instrument)
        return await self._http.get(
            "/api/v5/market/trades",
            {"instId": instrument.for_provider(PROVIDER), "limit": clamp_limit(limit, _MAX_TRADES)},
            endpoint="market.trades",
            ttl=self._ttls.price,
            parse=lambda payload: parse_trades(payload, contract_value),
        )


def build(deps: ProviderDeps) -> MarketProvider:
    """The composition root's entry point: one ``ProviderHttp`` with the OKX error hook."""
    return OkxProvider(deps.http(PROVIDER, okx_error_hook), deps.ttls)
