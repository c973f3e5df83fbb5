"""CoinGlass API v4 (keyed: header ``CG-API-KEY``), preferred for liquidations, ratios and OI when set.

Docs: https://docs.coinglass.com/v4.0-zh/reference. Every answer is ``{"code": "0", "msg": "success",
"data": ...}``; ``code`` may be the string ``"0"`` or the integer ``0``, anything else is an error even
with HTTP 200. Symbol forms differ by endpoint: the coin (``BTC``) on coin endpoints, the pair
(``BTCUSDT``) plus ``exchange`` on pair endpoints. Ratio percentages arrive already in percent.

Units, decided once here (REFERENCE §2 defect 2): every CoinGlass funding value is a *percent* per the
venue's funding interval (``0.01`` = 0.01 % = ``0.0001``); the parsers below divide by 100 exactly once
and hand out :class:`~engine.market.FundingRate` fractions. Price and OHLC-history values arrive as
strings, OI / liquidation / ratio values as numbers; every parser accepts both. Intervals are spelled
``1m 3m 5m 15m 30m 1h 4h 6h 8h 12h 1d 1w`` (never ``h1``). Plan limits (docs, per endpoint): the
Hobbyist plan serves history only at ``>= 4h``; ``coins-markets`` needs Standard, ``liquidation/coin-list``
Startup.

Layers: ``parse_*`` functions (payload → typed models, series oldest-first), :class:`CoinGlassClient`
(one method per endpoint), :class:`CoinGlassProvider` (the :class:`~providers.venue.MarketProvider`
adapter) and :func:`build`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from engine.market import (
    CandleInterval,
    FearGreed,
    FundingRate,
    LiquidationTotals,
    LongShortPoint,
    OpenInterest,
    OpenInterestPoint,
    utc_from_ms,
)
from providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    InvalidSymbol,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from providers.venue import Capability, IntervalNotSupported, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.market import Timeframe
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

_T = TypeVar("_T")

T = TypeVar("T")
PROVIDER = "coinglass"
KEY_SETTING = "COINGLASS_API_KEY"
DEFAULT_BASE_URL = "https://open-api-v4.coinglass.com"
# CoinGlass meters per API key and per minute, by plan: "The rate limit is depending on the paid plan"
# (https://docs.coinglass.com/reference/responses-error-codes; the answer headers API-KEY-MAX-LIMIT /
# API-KEY-USE-LIMIT report the key's limit and use). Plans (https://www.coinglass.com/pricing): Hobbyist
# 30/min, Startup 80/min, Standard 300/min. The default is the smallest plan, 30/min = 0.5/s, so any key
# stays under its limit; a bigger plan raises it in configuration.
RATE_LIMIT_PER_SECOND = 0.5
LIQUIDATION_EXCHANGES = "Binance,OKX,Bybit,Bitget,Hyperliquid,Gate,HTX,BingX"
# the exchange whose row answers ``CoinGlassProvider.funding`` and the pair endpoints by default
DEFAULT_EXCHANGE = "Binance"
# the interval spellings every v4 history endpoint documents (2h is not among them; 8h is)
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "4h", "6h", "8h", "12h", "1d", "1w")
INTERVAL_CODES: Mapping[CandleInterval, str] = {
    CandleInterval.M1: "1m",
    CandleInterval.M3: "3m",
    CandleInterval.M5: "5m",
    CandleInterval.M15: "15m",
    CandleInterval.M30: "30m",
    CandleInterval.H1: "1h",
    CandleInterval.H4: "4h",
    CandleInterval.H6: "6h",
    CandleInterval.H12: "12h",
    CandleInterval.D1: "1d",
    CandleInterval.W1: "1w",
}
# envelope codes CoinGlass documents as transient (request timeout, server error)
_RETRYABLE_CODES = {"408", "500", "502", "503", "504"}


def coinglass_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Non-zero ``code`` in the envelope is an error whatever the HTTP status.

    CoinGlass documents its envelope codes as HTTP-like (``0`` success, ``400``, ``401`` bad key, ``408``
    too slow, ``429`` rate limit, ``500``), so the transient ones stay retryable. A 429 / 5xx HTTP status
    is left to :func:`providers.errors.classify_status`, which also honours ``Retry-After``.
    """
    if status in (418, 429, 451) or status >= 500:
        return None
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = str(payload["code"])
    if code == "0":
        return None
    message = f"code {code}: {payload.get('msg') or 'error'}"
    lowered = message.lower()
    if code == "429":
        return RateLimited(provider, endpoint, message, status=status)
    if code in _RETRYABLE_CODES:
        return UpstreamUnavailable(provider, endpoint, message, status=status)
    if code == "401" or "key" in lowered or "upgrade" in lowered or "plan" in lowered or status in (401, 403):
        return AuthenticationFailed(provider, endpoint, message, status=status)
    if "symbol" in lowered:
        return InvalidSymbol(provider, endpoint, message, status=status)
    return InvalidRequest(provider, endpoint, message, status=status)


def _data_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    rows = payload["data"]
    if not isinstance(rows, list):
        raise TypeError(f"data is {type(rows).__name__}, expected a list")
    return sorted(rows, key=lambda r: int(r["time"]))


def parse_liquidation_history(payload: dict[str, Any]) -> tuple[tuple[datetime, float, float], ...]:
    """``GET /api/futures/liquidation/aggregated-history?symbol=BTC&interval=4h&exchange_list=...``.

    Sample: ``{"code": "0", "msg": "success", "data": [{"time": 1749384000000,
    "aggregated_long_liquidation_usd": 6366.4341, "aggregated_short_liquidation_usd": 467444.0939}]}``
    (USD of liquidated *long* and *short* positions per bar.)
    """
    return tuple(
        (
            utc_from_ms(r["time"]),
            float(r["aggregated_long_liquidation_usd"]),
            float(r["aggregated_short_liquidation_usd"]),
        )
        for r in _data_rows(payload)
    )


def parse_global_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    """``GET /api/futures/global-long-short-account-ratio/history?exchange=Binance&symbol=BTCUSDT&interval=4h``.

    Sample: ``{"code": "0", "data": [{"time": 1741604400000, "global_account_long_percent": 73.88,
    "global_account_short_percent": 26.12, "global_account_long_short_ratio": 2.83}]}``
    """
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r["time"]),
            long_pct=float(r["global_account_long_percent"]),
            long_short_ratio=float(r["global_account_long_short_ratio"]),
        )
        for r in _data_rows(payload)
    )


def parse_top_position_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    """``GET /api/futures/top-long-short-position-ratio/history?exchange=Binance&symbol=BTCUSDT&interval=4h``.

    Sample: ``{"code": "0", "data": [{"time": 1749384000000, "top_position_long_percent": 57.56,
    "top_position_short_percent": 42.44, "top_position_long_short_ratio": 1.36}]}``
    """
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r["time"]),
            long_pct=float(r["top_position_long_percent"]),
            long_short_ratio=float(r["top_position_long_short_ratio"]),
        )
        for r in _data_rows(payload)
    )


def parse_oi_history(payload: dict[str, Any]) -> tuple[OpenInterestPoint, ...]:
    """``GET /api/futures/open-interest/aggregated-history?symbol=BTC&interval=4h``: OHLC of USD OI.

    Sample: ``{"code": "0", "data": [{"time": 1749384000000, "open": 71550877210.0, "high": 72412713465.0,
    "low": 71550877210.0, "close": 72391752381.0}]}`` (the docs show the values as strings; both parse.)
    """
    return tuple(
        OpenInterestPoint(
            time=utc_from_ms(r["time"]),
            open_interest=float(r["close"]),
            open_interest_usd=float(r["close"]),
            unit="usd",
        )
        for r in _data_rows(payload)
    )


# --------------------------------------------------------------------------------------------------
# Helpers shared by the parsers below


def _rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """``data`` as a list of objects, in wire order (for snapshot lists that carry no ``time``)."""
    rows = payload["data"]
    if not isinstance(rows, list):
        raise TypeError(f"data is {type(rows).__name__}, expected a list")
    return rows


def _num(value: Any) -> float:
    """A number or a numeric string (CoinGlass sends both) as a float; ``None`` is an error."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _opt_num(value: Any) -> float | None:
    return None if value is None else _num(value)


def _opt_time(value: Any) -> datetime | None:
    """Epoch ms, possibly a float (``1763164800000.0`` in the live exchange-list), or null."""
    return None if value is None else utc_from_ms(int(float(value)))


def _percent_to_fraction(value: Any) -> float:
    """The one place a CoinGlass funding percent becomes a fraction (``0.01`` % → ``0.0001``).

    The decimal point is moved on the venue's text (``Decimal(str(v)) / 100``), so ``0.008631`` becomes
    exactly the double nearest ``0.00008631`` (plain ``0.008631 / 100`` gives ``8.630999999999999e-05``).
    """
    _num(value)  # rejects None and booleans with the same message as every other field
    return float(Decimal(str(value)) / 100)


_WINDOW_RE = re.compile(r"^(\d+)([mhdw])$")
_WINDOW_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def window_duration(window: str) -> timedelta:
    """``"5m"``, ``"4h"``, ``"24h"``, ``"1d"``, ``"1w"`` as a timedelta (CoinGlass window suffixes)."""
    match = _WINDOW_RE.match(window)
    if match is None:
        raise ValueError(f"not a window: {window!r}")
    return timedelta(**{_WINDOW_UNITS[match.group(2)]: int(match.group(1))})


def _windowed(row: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """``{"5m": -0.02, "24h": 1.06}`` from ``price_change_percent_5m`` … (null values left out)."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if key.startswith(prefix) and value is not None:
            suffix = key[len(prefix) :]
            if _WINDOW_RE.match(suffix):
                out[suffix] = _num(value)
    return out


def _liquidation_windows(row: Mapping[str, Any]) -> dict[str, LiquidationTotals]:
    """``long_liquidation_usd_<w>`` / ``short_liquidation_usd_<w>`` pairs as totals per window."""
    out: dict[str, LiquidationTotals] = {}
    for window, long_usd in _windowed(row, "long_liquidation_usd_").items():
        short = row.get(f"short_liquidation_usd_{window}")
        if short is not None:
            out[window] = LiquidationTotals(window=window_duration(window), long_usd=long_usd, short_usd=_num(short))
    return out


# --------------------------------------------------------------------------------------------------
# Typed raw models (CoinGlass units; funding stays percent only where the name says ``_pct``)


@dataclass(frozen=True, slots=True)
class CoinMarket:
    """One coin of ``/api/futures/coins-markets``, aggregated over the exchanges CoinGlass follows.

    ``*_pct`` fields are percent as sent (funding ``avg_funding_rate_by_*`` included: percent per the
    venues' intervals, *not* converted); windowed fields map a window (``"5m"`` … ``"24h"``) to its value.
    Fields the answer leaves out are ``None`` / empty (the docs' ETH row stops after the price changes).
    """

    symbol: str
    price: float
    avg_funding_rate_by_oi_pct: float | None
    avg_funding_rate_by_vol_pct: float | None
    market_cap_usd: float | None
    open_interest_usd: float | None
    open_interest_quantity: float | None
    open_interest_market_cap_ratio: float | None
    open_interest_volume_ratio: float | None
    price_change_pct: Mapping[str, float]
    open_interest_change_pct: Mapping[str, float]
    volume_change_pct: Mapping[str, float]
    volume_change_usd: Mapping[str, float]
    long_short_ratio: Mapping[str, float]
    liquidations: Mapping[str, LiquidationTotals]


@dataclass(frozen=True, slots=True)
class CoinFunding:
    """One coin of ``/api/futures/funding-rate/exchange-list``: exchange → current rate (a fraction)."""

    symbol: str
    stablecoin_margin: Mapping[str, FundingRate]
    token_margin: Mapping[str, FundingRate]


@dataclass(frozen=True, slots=True)
class ExchangeOpenInterest:
    """One exchange row of ``/api/futures/open-interest/exchange-list`` (``exchange == "All"``: the sum)."""

    exchange: str
    symbol: str
    open_interest_usd: float
    open_interest_quantity: float  # coins
    open_interest_by_coin_margin_usd: float | None
    open_interest_by_stable_coin_margin_usd: float | None
    open_interest_quantity_by_coin_margin: float | None
    open_interest_quantity_by_stable_coin_margin: float | None
    change_pct: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class CoinLiquidations:
    """One coin of ``/api/futures/liquidation/coin-list``: liquidated USD per trailing window."""

    symbol: str
    windows: Mapping[str, LiquidationTotals]  # "1h", "4h", "12h", "24h"


@dataclass(frozen=True, slots=True)
class ExchangeLiquidations:
    """One exchange row of ``/api/futures/liquidation/exchange-list`` (``exchange == "All"``: the sum)."""

    exchange: str
    totals: LiquidationTotals
    liquidation_usd: float


@dataclass(frozen=True, slots=True)
class LiquidationBar:
    """USD of liquidated *long* and *short* positions during one bar starting at ``time``."""

    time: datetime
    long_usd: float
    short_usd: float


@dataclass(frozen=True, slots=True)
class TakerVolumeBar:
    """Taker (aggressor) buy and sell volume in USD during one bar starting at ``time``."""

    time: datetime
    buy_usd: float
    sell_usd: float


# --------------------------------------------------------------------------------------------------
# Parsers of the added endpoints


def parse_coins_markets(payload: dict[str, Any]) -> tuple[CoinMarket, ...]:
    """``GET /api/futures/coins-markets`` (per-coin snapshot, wire order kept).

    Sample: ``{"code": "0", "msg": "success", "data": [{"symbol": "BTC", "current_price": 84773.6,
    "avg_funding_rate_by_oi": 0.00196, "avg_funding_rate_by_vol": 0.002647,  # percent
    "market_cap_usd": 1683310500117.051, "open_interest_usd": 55002072334.9376,
    "open_interest_quantity": 648525.0328, "price_change_percent_24h": 1.06,
    "open_interest_change_percent_24h": 4.58, "long_short_ratio_24h": 1.0313,
    "long_liquidation_usd_24h": 17793322.595016, "short_liquidation_usd_24h": 9725970.37863}]}``
    """
    return tuple(
        CoinMarket(
            symbol=str(r["symbol"]),
            price=_num(r["current_price"]),
            avg_funding_rate_by_oi_pct=_opt_num(r.get("avg_funding_rate_by_oi")),
            avg_funding_rate_by_vol_pct=_opt_num(r.get("avg_funding_rate_by_vol")),
            market_cap_usd=_opt_num(r.get("market_cap_usd")),
            open_interest_usd=_opt_num(r.get("open_interest_usd")),
            open_interest_quantity=_opt_num(r.get("open_interest_quantity")),
            open_interest_market_cap_ratio=_opt_num(r.get("open_interest_market_cap_ratio")),
            open_interest_volume_ratio=_opt_num(r.get("open_interest_volume_ratio")),
            price_change_pct=_windowed(r, "price_change_percent_"),
            open_interest_change_pct=_windowed(r, "open_interest_change_percent_"),
            volume_change_pct=_windowed(r, "volume_change_percent_"),
            volume_change_usd=_windowed(r, "volume_change_usd_"),
            long_short_ratio=_windowed(r, "long_short_ratio_"),
            liquidations=_liquidation_windows(r),
        )
        for r in _rows(payload)
    )


def parse_funding_ohlc(payload: dict[str, Any], symbol: str, interval_hours: float = 8.0) -> tuple[FundingRate, ...]:
    """``GET /api/futures/funding-rate/history?exchange=Binance&symbol=BTCUSDT&interval=8h`` and
    ``GET /api/futures/funding-rate/oi-weight-history?symbol=BTC&interval=4h``: OHLC of funding, percent.

    Sample: ``{"code": "0", "msg": "success", "data": [{"time": 1658880000000, "open": "0.004603",
    "high": "0.009388", "low": "-0.005063", "close": "0.009229"}]}`` (docs: strings; the live
    oi-weight answer: numbers.) One :class:`FundingRate` per bar, oldest-first: ``rate = close / 100``,
    ``time`` = the bar's open time.

    Unit decision (``interval_hours``): a bar is a *sample* of the rate the venue quotes, not an amount
    accrued over the bar, so its unit is the venue's funding interval, not the bar length. Evidence: in
    the live Binance BTCUSDT capture 15 of 40 closes are exactly ``0.01`` and no high exceeds it: Binance's
    0.01 % interest-rate default, which Binance quotes per its 8 h interval. For a single pair the caller passes
    the venue's interval (8 for Binance/OKX/Bybit BTC/ETH; 4 or 1 for some listings; see
    ``funding-rate/exchange-list``). For the OI-weighted series CoinGlass does not document whether 1h
    venues (Hyperliquid ``0.00125``) are rescaled before averaging; the live BTC values (≈0.005–0.0095)
    track the 8h majors that hold most OI, so it is recorded as **per 8 h** — an assumption, stated here.
    """
    return tuple(
        FundingRate(
            symbol=symbol,
            rate=_percent_to_fraction(r["close"]),
            interval_hours=interval_hours,
            time=utc_from_ms(r["time"]),
        )
        for r in _data_rows(payload)
    )


def _funding_rows(
    coin: str, quote: str, rows: list[dict[str, Any]] | None, received: datetime
) -> dict[str, FundingRate]:
    out: dict[str, FundingRate] = {}
    for row in rows or []:
        rate, hours = row.get("funding_rate"), row.get("funding_rate_interval")
        # a row without its interval is left out, not guessed: a wrong interval is a wrong carry
        if rate is None or hours is None or _num(hours) <= 0:
            continue
        out[str(row["exchange"])] = FundingRate(
            symbol=f"{coin}{quote}",
            rate=_percent_to_fraction(rate),
            interval_hours=_num(hours),
            time=received,
            next_funding_time=_opt_time(row.get("next_funding_time")),
        )
    return out


def parse_funding_exchange_list(payload: dict[str, Any], received: datetime) -> dict[str, CoinFunding]:
    """``GET /api/futures/funding-rate/exchange-list`` (every coin): coin → per-exchange current funding.

    Sample: ``{"code": "0", "msg": "success", "data": [{"symbol": "BTC", "stablecoin_margin_list": [
    {"exchange": "Binance", "funding_rate_interval": 8,  # hours
    "funding_rate": 0.007343,  # percent per interval
    "next_funding_time": 1745222400000}], "token_margin_list": [...]}]}``

    ``funding_rate / 100`` per ``funding_rate_interval`` hours (Hyperliquid's ``0.00125`` per 1 h and
    Binance's ``0.005`` per 4 h on HYPE are the same 0.01 %/8h carry). Rows whose rate or interval is null
    (live: KuCoin, HTX, Bitmex, Bitfinex) are left out. The answer has no observation time, so ``time``
    is ``received`` (our receipt time). Stablecoin-margined rates get ``<coin>USDT``, coin-margined
    ``<coin>USD`` as their symbol.
    """
    out: dict[str, CoinFunding] = {}
    for r in _rows(payload):
        coin = str(r["symbol"])
        out[coin] = CoinFunding(
            symbol=coin,
            stablecoin_margin=_funding_rows(coin, "USDT", r.get("stablecoin_margin_list"), received),
            token_margin=_funding_rows(coin, "USD", r.get("token_margin_list"), received),
        )
    return out


def parse_oi_exchange_list(payload: dict[str, Any]) -> tuple[ExchangeOpenInterest, ...]:
    """``GET /api/futures/open-interest/exchange-list?symbol=BTC``: OI per exchange, ``All`` first.

    Sample: ``{"code": "0", "msg": "success", "data": [{"exchange": "All", "symbol": "BTC",
    "open_interest_usd": 57437891724.5572, "open_interest_quantity": 659557.3064,  # coins
    "open_interest_by_stable_coin_margin": 48920274435.15,  # usd
    "open_interest_quantity_by_coin_margin": 97551.2547, "open_interest_quantity_by_stable_coin_margin":
    562006.0517, "open_interest_change_percent_24h": 0.9}]}`` (the live answer adds
    ``open_interest_by_coin_margin``; the docs example lacks it.)
    """
    return tuple(
        ExchangeOpenInterest(
            exchange=str(r["exchange"]),
            symbol=str(r["symbol"]),
            open_interest_usd=_num(r["open_interest_usd"]),
            open_interest_quantity=_num(r["open_interest_quantity"]),
            open_interest_by_coin_margin_usd=_opt_num(r.get("open_interest_by_coin_margin")),
            open_interest_by_stable_coin_margin_usd=_opt_num(r.get("open_interest_by_stable_coin_margin")),
            open_interest_quantity_by_coin_margin=_opt_num(r.get("open_interest_quantity_by_coin_margin")),
            open_interest_quantity_by_stable_coin_margin=_opt_num(
                r.get("open_interest_quantity_by_stable_coin_margin")
            ),
            change_pct=_windowed(r, "open_interest_change_percent_"),
        )
        for r in _rows(payload)
    )


def parse_liquidation_coin_list(payload: dict[str, Any]) -> tuple[CoinLiquidations, ...]:
    """``GET /api/futures/liquidation/coin-list?exchange=Binance``: per coin, liquidated USD per window.

    Sample: ``{"code": "0", "msg": "success", "data": [{"symbol": "BTC", "liquidation_usd_24h":
    82280481.50425325, "long_liquidation_usd_24h": 68437447.33734027, "short_liquidation_usd_24h":
    13843034.16691298, "long_liquidation_usd_1h": 3182915.16289, "short_liquidation_usd_1h": 100720.7902}]}``
    (long / short = the liquidated *position* side.)
    """
    return tuple(CoinLiquidations(symbol=str(r["symbol"]), windows=_liquidation_windows(r)) for r in _rows(payload))


def parse_liquidation_exchange_list(
    payload: dict[str, Any], window: timedelta = timedelta(hours=24)
) -> tuple[ExchangeLiquidations, ...]:
    """``GET /api/futures/liquidation/exchange-list?symbol=BTC&range=24h``: per exchange, ``All`` first.

    Docs sample: ``{"exchange": "All", "liquidation_usd": 14673519.81739075, "long_liquidation_usd":
    451394.17404598, "short_liquidation_usd": 14222125.64334477}``; the live answer spells the sides
    ``longLiquidation_usd`` / ``shortLiquidation_usd``; both are read. ``window`` is the requested range.
    """

    def side(row: Mapping[str, Any], name: str) -> float:
        snake, camel = f"{name}_liquidation_usd", f"{name}Liquidation_usd"
        return _num(row[snake] if snake in row else row[camel])

    return tuple(
        ExchangeLiquidations(
            exchange=str(r["exchange"]),
            totals=LiquidationTotals(window=window, long_usd=side(r, "long"), short_usd=side(r, "short")),
            liquidation_usd=_num(r["liquidation_usd"]),
        )
        for r in _rows(payload)
    )


def parse_pair_liquidation_history(payload: dict[str, Any]) -> tuple[LiquidationBar, ...]:
    """``GET /api/futures/liquidation/history?exchange=Binance&symbol=BTCUSDT&interval=4h``, oldest-first.

    Sample: ``{"code": "0", "msg": "success", "data": [{"time": 1658880000000, "long_liquidation_usd":
    "2369935.19562", "short_liquidation_usd": "6947459.43674"}]}`` (strings in the docs.)
    """
    return tuple(
        LiquidationBar(
            time=utc_from_ms(r["time"]),
            long_usd=_num(r["long_liquidation_usd"]),
            short_usd=_num(r["short_liquidation_usd"]),
        )
        for r in _data_rows(payload)
    )


def parse_top_account_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    """``GET /api/futures/top-long-short-account-ratio/history?exchange=Binance&symbol=BTCUSDT&interval=4h``.

    Sample: ``{"code": "0", "msg": "success", "data": [{"time": 1741615200000, "top_account_long_percent":
    73.3, "top_account_short_percent": 26.7, "top_account_long_short_ratio": 2.75}]}`` (already percent.)
    """
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r["time"]),
            long_pct=_num(r["top_account_long_percent"]),
            long_short_ratio=_num(r["top_account_long_short_ratio"]),
        )
        for r in _data_rows(payload)
    )


def parse_taker_volume_history(payload: dict[str, Any]) -> tuple[TakerVolumeBar, ...]:
    """Taker buy/sell USD bars, oldest-first, from either taker-volume history endpoint.

    ``GET /api/futures/aggregated-taker-buy-sell-volume/history?symbol=BTC&interval=4h&exchange_list=...``:
    ``{"code": "0", "data": [{"time": 1741622400000, "aggregated_buy_volume_usd": 968834542.3787,
    "aggregated_sell_volume_usd": 1054582654.8138}]}``;
    ``GET /api/futures/v2/taker-buy-sell-volume/history?exchange=Binance&symbol=BTCUSDT&interval=1h``:
    ``{"code": "0", "data": [{"time": 1750183200000, "taker_buy_volume_usd": "414120141.0714",
    "taker_sell_volume_usd": "350417509.655"}]}``.
    """

    def side(row: Mapping[str, Any], name: str) -> float:
        key = f"aggregated_{name}_volume_usd"
        return _num(row[key] if key in row else row[f"taker_{name}_volume_usd"])

    return tuple(
        TakerVolumeBar(time=utc_from_ms(r["time"]), buy_usd=side(r, "buy"), sell_usd=side(r, "sell"))
        for r in _data_rows(payload)
    )


# alternative.me's published bands (its own answers agree: 24 Extreme Fear, 26-45 Fear, 47-54 Neutral,
# 58-75 Greed); CoinGlass sends the value only
_FEAR_GREED_BANDS = (
    (24.0, "Extreme Fear"),
    (46.0, "Fear"),
    (54.0, "Neutral"),
    (75.0, "Greed"),
    (100.0, "Extreme Greed"),
)
# epoch values below this are seconds (the docs' ``1636588800``), at or above it milliseconds
_SECONDS_BELOW = 100_000_000_000


def fear_greed_classification(value: float) -> str:
    """The classification of a 0..100 index value; ``"Unclassified"`` outside that range."""
    if not 0.0 <= value <= 100.0:
        return "Unclassified"
    return next(label for ceiling, label in _FEAR_GREED_BANDS if value <= ceiling)


def _epoch(value: Any) -> datetime:
    number = int(float(value))
    return utc_from_ms(number * 1000 if abs(number) < _SECONDS_BELOW else number)


def parse_fear_greed_history(payload: dict[str, Any]) -> tuple[FearGreed, ...]:
    """``GET /api/index/fear-greed-history``: the Crypto Fear & Greed index, oldest-first.

    Live (an object of parallel arrays, ``time_list`` in ms): ``{"code": "0", "msg": "success", "data":
    {"data_list": [51.0, 54.0], "price_list": [115228.0, 116700.0], "time_list": [1757982001000,
    1758068402000]}}``. Docs (a list of such objects, ``time_list`` in seconds): ``{"code": "0", "data":
    [{"data_list": [4611285.1141], "price_list": [4788636.51145], "time_list": [1636588800]}]}``. Both are
    read; arrays of unequal length are an error; ``price_list`` (BTC price) is not part of the result.
    """
    data = payload["data"]
    blocks = [data] if isinstance(data, dict) else data
    if not isinstance(blocks, list):
        raise TypeError(f"data is {type(data).__name__}, expected an object or a list")
    points = [
        FearGreed(value=_num(value), classification=fear_greed_classification(_num(value)), time=_epoch(stamp))
        for block in blocks
        for value, stamp in zip(block["data_list"], block["time_list"], strict=True)
    ]
    return tuple(sorted(points, key=lambda p: p.time))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _interval(endpoint: str, interval: CandleInterval | str) -> str:
    """CoinGlass's spelling of an interval, or :class:`IntervalNotSupported` (``2h``, ``h1`` …)."""
    if isinstance(interval, CandleInterval):
        return interval_code(PROVIDER, endpoint, interval, INTERVAL_CODES)
    if interval not in INTERVALS:
        raise IntervalNotSupported(PROVIDER, endpoint, interval, INTERVALS)
    return interval


def _last(series: tuple[_T, ...], limit: int) -> tuple[_T, ...]:
    """The newest ``limit`` items of an oldest-first series (the venue may send more than asked)."""
    return series[-limit:] if limit > 0 else ()


_LIQUIDATION_RANGES = ("1h", "4h", "12h", "24h")


class CoinGlassClient:
    """Raw v4 endpoints plus their normalization (the venue is one JSON envelope, so one class suffices)."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls, *, clock: Callable[[], datetime] | None = None) -> None:
        self._http = http
        self._ttls = ttls
        # receipt time for snapshot answers that carry no timestamp (funding exchange-list)
        self._clock = clock or _utc_now

    async def liquidations_24h(self, instrument: Instrument) -> LiquidationTotals:
        """Long vs short liquidated USD over the last 24 h across the major venues (six 4 h bars)."""
        bars = await self._http.get(
            "/api/futures/liquidation/aggregated-history",
            {
                "symbol": instrument.for_provider(PROVIDER, form="coin"),
                "interval": "4h",
                "limit": 6,
                "exchange_list": LIQUIDATION_EXCHANGES,
            },
            endpoint="liquidation.aggregated-history",
            ttl=self._ttls.liquidations,
            parse=parse_liquidation_history,
        )
        if not bars:
            raise InvalidRequest(PROVIDER, "liquidation.aggregated-history", "no liquidation bars returned")
        last_day = [b for b in bars if b[0] > bars[-1][0] - timedelta(hours=24)]
        return LiquidationTotals(
            window=timedelta(hours=24),
            long_usd=sum(b[1] for b in last_day),
            short_usd=sum(b[2] for b in last_day),
        )

    async def global_long_short(self, instrument: Instrument, timeframe: Timeframe) -> tuple[LongShortPoint, ...]:
        """Binance's global account ratio at the signal's timeframe (the signal's smart-money peer)."""
        return await self.global_account_ratio_history(instrument, timeframe.value)

    async def top_trader_positions(self, instrument: Instrument, timeframe: Timeframe) -> tuple[LongShortPoint, ...]:
        """Binance's top traders' long share by position at the signal's timeframe."""
        endpoint = "top-long-short-position-ratio"
        return await self._pair_series(
            "/api/futures/top-long-short-position-ratio/history",
            endpoint,
            instrument,
            timeframe.value,
            DEFAULT_EXCHANGE,
            30,
            self._ttls.ratios,
            parse_top_position_ratio,
        )

    async def open_interest_history(
        self, instrument: Instrument, timeframe: Timeframe, limit: int = 30
    ) -> tuple[OpenInterestPoint, ...]:
        return await self.aggregated_open_interest_history(instrument, timeframe.value, limit)

    async def _pair_series(
        self,
        path: str,
        endpoint: str,
        instrument: Instrument,
        interval: CandleInterval | str,
        exchange: str,
        limit: int,
        ttl: float,
        parse: Callable[[Any], T],
    ) -> T:
        """Pair endpoints: ``exchange`` + ``BTCUSDT`` + ``interval`` + ``limit``."""
        params: dict[str, str | int] = {
            "exchange": exchange,
            "symbol": instrument.for_provider(PROVIDER),
            "interval": _interval(endpoint, interval),
            "limit": limit,
        }
        return await self._http.get(path, params, endpoint=endpoint, ttl=ttl, parse=parse)

    async def _coin_series(
        self,
        path: str,
        endpoint: str,
        instrument: Instrument,
        interval: CandleInterval | str,
        limit: int,
        ttl: float,
        parse: Callable[[Any], T],
    ) -> T:
        """Coin endpoints: ``BTC`` + ``interval`` + ``limit`` (aggregated over exchanges)."""
        params: dict[str, str | int] = {
            "symbol": instrument.for_provider(PROVIDER, form="coin"),
            "interval": _interval(endpoint, interval),
            "limit": limit,
        }
        return await self._http.get(path, params, endpoint=endpoint, ttl=ttl, parse=parse)

    # ----------------------------------------------------------------------------------------------
    # Added v4 endpoints (docs: https://docs.coinglass.com/reference). ``interval`` is a
    # :class:`CandleInterval` or one of :data:`INTERVALS`; anything else raises IntervalNotSupported.

    async def coins_markets(
        self, *, exchange_list: str | None = None, page: int = 1, per_page: int = 100
    ) -> tuple[CoinMarket, ...]:
        """``GET /api/futures/coins-markets`` (Standard plan and up): one snapshot row per coin.

        https://docs.coinglass.com/reference/coins-markets
        """
        params: dict[str, str | int] = {"page": page, "per_page": per_page}
        if exchange_list:
            params["exchange_list"] = exchange_list
        return await self._http.get(
            "/api/futures/coins-markets",
            params,
            endpoint="coins-markets",
            ttl=self._ttls.open_interest,
            parse=parse_coins_markets,
        )

    async def funding_rate_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 100,
        interval_hours: float = 8.0,
    ) -> tuple[FundingRate, ...]:
        """``GET /api/futures/funding-rate/history?exchange=&symbol=BTCUSDT&interval=``: one pair's funding.

        https://docs.coinglass.com/reference/fr-ohlc-histroy. ``interval_hours`` is the *venue's* funding
        interval for this pair (see :func:`parse_funding_ohlc`), not the bar length.
        """
        return await self._pair_series(
            "/api/futures/funding-rate/history",
            "funding-rate.history",
            instrument,
            interval,
            exchange,
            limit,
            self._ttls.funding,
            lambda payload: parse_funding_ohlc(payload, instrument.canonical, interval_hours),
        )

    async def funding_rate_oi_weight_history(
        self, instrument: Instrument, interval: CandleInterval | str, limit: int = 100
    ) -> tuple[FundingRate, ...]:
        """``GET /api/futures/funding-rate/oi-weight-history?symbol=BTC&interval=``: OI-weighted funding,
        recorded per 8 h (see :func:`parse_funding_ohlc`). https://docs.coinglass.com/reference/oi-weight-ohlc-history
        """
        return await self._coin_series(
            "/api/futures/funding-rate/oi-weight-history",
            "funding-rate.oi-weight-history",
            instrument,
            interval,
            limit,
            self._ttls.funding,
            lambda payload: parse_funding_ohlc(payload, instrument.canonical, 8.0),
        )

    async def funding_rate_exchange_list(self) -> dict[str, CoinFunding]:
        """``GET /api/futures/funding-rate/exchange-list``: every coin's current funding on every exchange.

        https://docs.coinglass.com/reference/fr-exchange-list. One request answers every coin, so the
        per-coin lookup below shares one cache entry.
        """
        return await self._http.get(
            "/api/futures/funding-rate/exchange-list",
            None,
            endpoint="funding-rate.exchange-list",
            ttl=self._ttls.funding,
            parse=lambda payload: parse_funding_exchange_list(payload, self._clock()),
        )

    async def funding_rates_by_exchange(
        self, instrument: Instrument, *, margin: str = "stablecoin"
    ) -> Mapping[str, FundingRate]:
        """Exchange → current funding (a fraction per its interval) for one coin; ``margin`` is
        ``"stablecoin"`` (USDT/USD-margined) or ``"token"`` (coin-margined)."""
        coin = instrument.for_provider(PROVIDER, form="coin")
        coins = await self.funding_rate_exchange_list()
        if coin not in coins:
            raise InvalidSymbol(PROVIDER, "funding-rate.exchange-list", f"no funding rates for {coin}")
        entry = coins[coin]
        if margin == "stablecoin":
            return entry.stablecoin_margin
        if margin == "token":
            return entry.token_margin
        raise ValueError(f"margin must be 'stablecoin' or 'token', not {margin!r}")

    async def open_interest_exchange_list(self, instrument: Instrument) -> tuple[ExchangeOpenInterest, ...]:
        """``GET /api/futures/open-interest/exchange-list?symbol=BTC``: OI per exchange plus the ``All`` row.

        https://docs.coinglass.com/reference/oi-exchange-list
        """
        return await self._http.get(
            "/api/futures/open-interest/exchange-list",
            {"symbol": instrument.for_provider(PROVIDER, form="coin")},
            endpoint="open-interest.exchange-list",
            ttl=self._ttls.open_interest,
            parse=parse_oi_exchange_list,
        )

    async def aggregated_open_interest_history(
        self, instrument: Instrument, interval: CandleInterval | str, limit: int = 30
    ) -> tuple[OpenInterestPoint, ...]:
        """``GET /api/futures/open-interest/aggregated-history?symbol=BTC&interval=``: USD OI, all exchanges.

        https://docs.coinglass.com/reference/oi-ohlc-aggregated-history (what
        :meth:`open_interest_history` asks, for any interval).
        """
        return await self._coin_series(
            "/api/futures/open-interest/aggregated-history",
            "open-interest.aggregated-history",
            instrument,
            interval,
            limit,
            self._ttls.open_interest,
            parse_oi_history,
        )

    async def liquidation_coin_list(self, exchange: str = DEFAULT_EXCHANGE) -> tuple[CoinLiquidations, ...]:
        """``GET /api/futures/liquidation/coin-list?exchange=Binance`` (Startup plan and up).

        https://docs.coinglass.com/reference/liquidation-coin-list
        """
        return await self._http.get(
            "/api/futures/liquidation/coin-list",
            {"exchange": exchange},
            endpoint="liquidation.coin-list",
            ttl=self._ttls.liquidations,
            parse=parse_liquidation_coin_list,
        )

    async def liquidation_exchange_list(
        self, instrument: Instrument, range_: str = "24h"
    ) -> tuple[ExchangeLiquidations, ...]:
        """``GET /api/futures/liquidation/exchange-list?symbol=BTC&range=24h`` (range 1h, 4h, 12h or 24h).

        https://docs.coinglass.com/reference/liquidation-exchange-list
        """
        endpoint = "liquidation.exchange-list"
        if range_ not in _LIQUIDATION_RANGES:
            raise InvalidRequest(PROVIDER, endpoint, f"range {range_!r} is not one of {', '.join(_LIQUIDATION_RANGES)}")
        window = window_duration(range_)
        return await self._http.get(
            "/api/futures/liquidation/exchange-list",
            {"symbol": instrument.for_provider(PROVIDER, form="coin"), "range": range_},
            endpoint=endpoint,
            ttl=self._ttls.liquidations,
            parse=lambda payload: parse_liquidation_exchange_list(payload, window),
        )

    async def pair_liquidation_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 100,
    ) -> tuple[LiquidationBar, ...]:
        """``GET /api/futures/liquidation/history?exchange=&symbol=BTCUSDT&interval=``: one pair's bars.

        https://docs.coinglass.com/reference/liquidation-history
        """
        return await self._pair_series(
            "/api/futures/liquidation/history",
            "liquidation.history",
            instrument,
            interval,
            exchange,
            limit,
            self._ttls.liquidations,
            parse_pair_liquidation_history,
        )

    async def global_account_ratio_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 30,
    ) -> tuple[LongShortPoint, ...]:
        """``GET /api/futures/global-long-short-account-ratio/history``: what :meth:`global_long_short`
        asks, for any interval and limit. https://docs.coinglass.com/reference/global-longshort-account-ratio
        """
        return await self._pair_series(
            "/api/futures/global-long-short-account-ratio/history",
            "global-long-short-account-ratio",
            instrument,
            interval,
            exchange,
            limit,
            self._ttls.ratios,
            parse_global_ratio,
        )

    async def top_account_ratio_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 30,
    ) -> tuple[LongShortPoint, ...]:
        """``GET /api/futures/top-long-short-account-ratio/history?exchange=&symbol=BTCUSDT&interval=``.

        https://docs.coinglass.com/reference/top-longshort-account-ratio
        """
        return await self._pair_series(
            "/api/futures/top-long-short-account-ratio/history",
            "top-long-short-account-ratio",
            instrument,
            interval,
            exchange,
            limit,
            self._ttls.ratios,
            parse_top_account_ratio,
        )

    async def aggregated_taker_volume_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange_list: str = LIQUIDATION_EXCHANGES,
        limit: int = 100,
    ) -> tuple[TakerVolumeBar, ...]:
        """``GET /api/futures/aggregated-taker-buy-sell-volume/history?symbol=BTC&interval=&exchange_list=``.

        https://docs.coinglass.com/reference/aggregated-taker-buysell-volume-history (``exchange_list`` is
        mandatory there; the liquidation venues are the default.)
        """
        endpoint = "aggregated-taker-buy-sell-volume"
        return await self._http.get(
            "/api/futures/aggregated-taker-buy-sell-volume/history",
            {
                "symbol": instrument.for_provider(PROVIDER, form="coin"),
                "interval": _interval(endpoint, interval),
                "exchange_list": exchange_list,
                "limit": limit,
            },
            endpoint=endpoint,
            ttl=self._ttls.candles,
            parse=parse_taker_volume_history,
        )

    async def pair_taker_volume_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 100,
    ) -> tuple[TakerVolumeBar, ...]:
        """``GET /api/futures/v2/taker-buy-sell-volume/history?exchange=&symbol=BTCUSDT&interval=``.

        https://docs.coinglass.com/reference/taker-buysell-volume: the v4 reference routes the pair
        history under ``/api/futures/v2/``.
        """
        return await self._pair_series(
            "/api/futures/v2/taker-buy-sell-volume/history",
            "taker-buy-sell-volume",
            instrument,
            interval,
            exchange,
            limit,
            self._ttls.candles,
            parse_taker_volume_history,
        )

    async def fear_greed_history(self) -> tuple[FearGreed, ...]:
        """``GET /api/index/fear-greed-history``: the whole daily series, oldest-first.

        https://docs.coinglass.com/reference/cryptofear-greedindex
        """
        return await self._http.get(
            "/api/index/fear-greed-history",
            None,
            endpoint="fear-greed-history",
            ttl=self._ttls.fear_greed,
            parse=parse_fear_greed_history,
        )


class CoinGlassProvider(MarketProvider):
    """CoinGlass behind the normalized :class:`MarketProvider` interface (keyed).

    - FUNDING: ``funding-rate/exchange-list``, the ``funding_exchange`` (Binance by default: the deepest
      USDT perpetual, the same venue the keyless path reads) stablecoin-margined row, as a fraction per
      that row's ``funding_rate_interval``.
    - FUNDING_HISTORY: ``funding-rate/oi-weight-history`` in 8h bars (the cross-venue view), fractions
      recorded per 8 h (see :func:`parse_funding_ohlc`).
    - OPEN_INTEREST: ``open-interest/exchange-list``, the ``All`` row (coins and USD), timed at receipt.
    - OPEN_INTEREST_HISTORY: ``open-interest/aggregated-history``, unit ``usd`` (CoinGlass gives notional).
    - LONG_SHORT_RATIO: ``global-long-short-account-ratio/history`` on Binance (percent of accounts long).

    Liquidations are served as totals and bars (``CoinGlassClient``), not as the individual orders that
    :meth:`MarketProvider.liquidations` promises, so LIQUIDATIONS is not claimed.
    """

    name = PROVIDER
    keyed = True
    capabilities = frozenset(
        {
            Capability.FUNDING,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.OPEN_INTEREST_HISTORY,
            Capability.LONG_SHORT_RATIO,
        }
    )

    def __init__(
        self,
        client: CoinGlassClient,
        *,
        funding_exchange: str = DEFAULT_EXCHANGE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self._funding_exchange = funding_exchange
        self._clock = clock or _utc_now

    async def funding(self, instrument: Instrument) -> FundingRate:
        rates = await self.client.funding_rates_by_exchange(instrument)
        rate = rates.get(self._funding_exchange)
        if rate is None:
            raise InvalidSymbol(
                PROVIDER,
                "funding-rate.exchange-list",
                f"no {self._funding_exchange} funding rate with an interval for {instrument.base}",
            )
        return rate

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return _last(await self.client.funding_rate_oi_weight_history(instrument, "8h", limit), limit)

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        rows = await self.client.open_interest_exchange_list(instrument)
        total = next((r for r in rows if r.exchange == "All"), None)
        if total is None:
            raise InvalidSymbol(PROVIDER, "open-interest.exchange-list", f"no aggregate OI row for {instrument.base}")
        return OpenInterest(
            symbol=instrument.canonical,
            coins=total.open_interest_quantity,
            usd=total.open_interest_usd,
            time=self._clock(),
        )

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return _last(await self.client.aggregated_open_interest_history(instrument, interval, limit), limit)

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return _last(await self.client.global_account_ratio_history(instrument, interval, limit=limit), limit)


def build(deps: ProviderDeps) -> MarketProvider | None:
    """The CoinGlass adapter, or ``None`` when no key is configured (``COINGLASS_API_KEY``)."""
    key = deps.key(PROVIDER)
    if not key:
        return None
    http = deps.http(PROVIDER, coinglass_error_hook, {"CG-API-KEY": key})
    return CoinGlassProvider(CoinGlassClient(http, deps.ttls))
