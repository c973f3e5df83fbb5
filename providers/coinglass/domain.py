"""CoinGlass venue models → our normalized models (:mod:`engine.market`), and the normalized client.

Units, decided once here (REFERENCE §2 defect 2): every CoinGlass funding value is a *percent* per the
venue's funding interval (``0.01`` = 0.01 % = ``0.0001``); :func:`percent_to_fraction` divides by 100
exactly once and hands out :class:`~engine.market.FundingRate` fractions. Ratio percentages arrive
already in percent. Series come out oldest-first whatever order the wire used.

Time stamps: CoinGlass stamps a bar with its *open*. Our :class:`~engine.market.LiquidationBar` is stamped
with its *end* (the moment its total is known, which is what the backtest replays), so
:func:`to_liquidation_bar` adds the bar length. Every other series keeps the bar's open time, as its
engine model documents. Plan limits (docs, per endpoint): the Hobbyist plan serves history only at
``>= 4h``; ``coins-markets`` needs Standard, ``liquidation/coin-list`` Startup.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from engine.market import (
    CandleInterval,
    FearGreed,
    FundingRate,
    LiquidationBar,
    LiquidationTotals,
    LongShortPoint,
    OpenInterestPoint,
    utc_from_ms,
)
from providers.coinglass.raw import (
    FEAR_GREED_HISTORY,
    FUNDING_RATE_EXCHANGE_LIST,
    FUNDING_RATE_OI_WEIGHT_HISTORY,
    GLOBAL_ACCOUNT_RATIO_HISTORY,
    LIQUIDATION_AGGREGATED_HISTORY,
    OPEN_INTEREST_AGGREGATED_HISTORY,
    OPEN_INTEREST_EXCHANGE_LIST,
    TOP_POSITION_RATIO_HISTORY,
    CoinGlassRawClient,
)
from providers.errors import InvalidRequest, InvalidSymbol
from providers.venue import IntervalNotSupported, interval_code

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from engine.market import Timeframe
    from providers.coinglass import models as cg
    from providers.coinglass.raw import Route
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument

B = TypeVar("B", "cg.CgLiquidationBar", "cg.CgLongShortRatio", "cg.CgOhlc", "cg.CgTakerVolume")
D = TypeVar("D")

PROVIDER = "coinglass"
LIQUIDATION_EXCHANGES = "Binance,OKX,Bybit,Bitget,Hyperliquid,Gate,HTX,BingX"
# the exchange whose row answers ``CoinGlassProvider.funding`` and the pair endpoints by default
DEFAULT_EXCHANGE = "Binance"
# the interval spellings every v4 history endpoint documents (2h is not among them; 8h is)
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "4h", "6h", "8h", "12h", "1d", "1w")
INTERVAL_CODES: Mapping[CandleInterval, str] = {i: i.value for i in CandleInterval if i.value in INTERVALS}
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


# --------------------------------------------------------------------------------------------------
# CoinGlass's own aggregates that need a conversion (the snapshot rows of coins-markets, the OI and
# liquidation lists are already in our units: see :mod:`providers.coinglass.models`)


@dataclass(frozen=True, slots=True)
class CoinFunding:
    """One coin of ``funding-rate/exchange-list``: exchange → current rate (a fraction)."""

    symbol: str
    stablecoin_margin: Mapping[str, FundingRate]
    token_margin: Mapping[str, FundingRate]


@dataclass(frozen=True, slots=True)
class ExchangeLiquidations:
    """One exchange row of ``liquidation/exchange-list`` (``exchange == "All"``: the sum)."""

    exchange: str
    totals: LiquidationTotals
    liquidation_usd: float


@dataclass(frozen=True, slots=True)
class TakerVolumeBar:
    """Taker (aggressor) buy and sell volume in USD during one bar starting at ``time``."""

    time: datetime
    buy_usd: float
    sell_usd: float


# --------------------------------------------------------------------------------------------------
# helpers


def percent_to_fraction(value: float) -> float:
    """The one place a CoinGlass funding percent becomes a fraction (``0.01`` % → ``0.0001``).

    The decimal point is moved on the number's text (``Decimal(str(v)) / 100``), so ``0.008631`` becomes
    exactly the double nearest ``0.00008631`` (plain ``0.008631 / 100`` gives ``8.630999999999999e-05``).
    """
    return float(Decimal(str(value)) / 100)


def fear_greed_classification(value: float) -> str:
    """The classification of a 0..100 index value; ``"Unclassified"`` outside that range."""
    if not 0.0 <= value <= 100.0:
        return "Unclassified"
    return next(label for ceiling, label in _FEAR_GREED_BANDS if value <= ceiling)


def interval_of(endpoint: str, interval: CandleInterval | str) -> str:
    """CoinGlass's spelling of an interval, or :class:`IntervalNotSupported` (``2h``, ``h1`` …)."""
    if isinstance(interval, CandleInterval):
        return interval_code(PROVIDER, endpoint, interval, INTERVAL_CODES)
    if interval not in INTERVALS:
        raise IntervalNotSupported(PROVIDER, endpoint, interval, INTERVALS)
    return interval


def oldest_first(rows: Iterable[B], convert: Callable[[B], D]) -> tuple[D, ...]:
    """A history's rows converted, oldest bar first (the wire order varies by endpoint)."""
    return tuple(convert(r) for r in sorted(rows, key=lambda r: r.time))


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------------
# converters: one per wire model (sample payloads show the wire fields)


def to_liquidation_bar(row: cg.CgLiquidationBar, bar: timedelta) -> LiquidationBar:
    """``liquidation/aggregated-history?symbol=BTC&interval=4h&exchange_list=...`` and
    ``liquidation/history?exchange=Binance&symbol=BTCUSDT&interval=4h``, one bar of length ``bar``.

    Samples: ``{"time": 1749384000000, "aggregated_long_liquidation_usd": 6366.4341,
    "aggregated_short_liquidation_usd": 467444.0939}``; ``{"time": 1658880000000, "long_liquidation_usd":
    "2369935.19562", "short_liquidation_usd": "6947459.43674"}``. ``time`` is the bar's open; the result is
    stamped at its end (``time + bar``), the engine's convention.
    """
    return LiquidationBar(time=utc_from_ms(row.time) + bar, long_usd=row.long_usd, short_usd=row.short_usd)


def to_long_short(row: cg.CgLongShortRatio) -> LongShortPoint:
    """``global-long-short-account-ratio``, ``top-long-short-position-ratio`` and
    ``top-long-short-account-ratio`` histories (already percent).

    Sample: ``{"time": 1741604400000, "global_account_long_percent": 73.88,
    "global_account_short_percent": 26.12, "global_account_long_short_ratio": 2.83}``
    """
    return LongShortPoint(time=utc_from_ms(row.time), long_pct=row.long_percent, long_short_ratio=row.long_short_ratio)


def to_open_interest_point(row: cg.CgOhlc) -> OpenInterestPoint:
    """``open-interest/aggregated-history?symbol=BTC&interval=4h``: OHLC of USD OI, the close taken.

    Sample: ``{"time": 1749384000000, "open": 71550877210.0, "high": 72412713465.0, "low": 71550877210.0,
    "close": 72391752381.0}`` (the docs show the values as strings; both parse.)
    """
    return OpenInterestPoint(
        time=utc_from_ms(row.time), open_interest=row.close, open_interest_usd=row.close, unit="usd"
    )


def to_funding(row: cg.CgOhlc, symbol: str, interval_hours: float = 8.0) -> FundingRate:
    """``funding-rate/history?exchange=Binance&symbol=BTCUSDT&interval=8h`` and
    ``funding-rate/oi-weight-history?symbol=BTC&interval=4h``: OHLC of funding in percent, one
    :class:`FundingRate` per bar: ``rate = close / 100``, ``time`` = the bar's open time.

    Sample: ``{"time": 1658880000000, "open": "0.004603", "high": "0.009388", "low": "-0.005063",
    "close": "0.009229"}`` (docs: strings; the live oi-weight answer: numbers.)

    Unit decision (``interval_hours``): a bar is a *sample* of the rate the venue quotes, not an amount
    accrued over the bar, so its unit is the venue's funding interval, not the bar length. Evidence: in
    the live Binance BTCUSDT capture 15 of 40 closes are exactly ``0.01`` and no high exceeds it: Binance's
    0.01 % interest-rate default, which Binance quotes per its 8 h interval. For a single pair the caller
    passes the venue's interval (8 for Binance/OKX/Bybit BTC/ETH; 4 or 1 for some listings; see
    ``funding-rate/exchange-list``). For the OI-weighted series CoinGlass does not document whether 1h
    venues (Hyperliquid ``0.00125``) are rescaled before averaging; the live BTC values (≈0.005–0.0095)
    track the 8h majors that hold most OI, so it is recorded as **per 8 h**: an assumption, stated here.
    """
    return FundingRate(
        symbol=symbol, rate=percent_to_fraction(row.close), interval_hours=interval_hours, time=utc_from_ms(row.time)
    )


def to_taker_volume_bar(row: cg.CgTakerVolume) -> TakerVolumeBar:
    """``aggregated-taker-buy-sell-volume/history``: ``{"time": 1741622400000, "aggregated_buy_volume_usd":
    968834542.3787, "aggregated_sell_volume_usd": 1054582654.8138}``; ``v2/taker-buy-sell-volume/history``:
    ``{"time": 1750183200000, "taker_buy_volume_usd": "414120141.0714", "taker_sell_volume_usd": "350417509.655"}``
    """
    return TakerVolumeBar(time=utc_from_ms(row.time), buy_usd=row.buy_usd, sell_usd=row.sell_usd)


def _exchange_funding(
    coin: str, quote: str, rows: Iterable[cg.CgExchangeFunding], received: datetime
) -> dict[str, FundingRate]:
    # a row without its interval is left out, not guessed: a wrong interval is a wrong carry
    return {
        r.exchange: FundingRate(
            symbol=f"{coin}{quote}",
            rate=percent_to_fraction(r.funding_rate),
            interval_hours=r.funding_rate_interval,
            time=received,
            next_funding_time=utc_from_ms(int(r.next_funding_time)) if r.next_funding_time is not None else None,
        )
        for r in rows
        if r.funding_rate is not None and r.funding_rate_interval is not None and r.funding_rate_interval > 0
    }


def to_coin_funding(row: cg.CgCoinFunding, received: datetime) -> CoinFunding:
    """``funding-rate/exchange-list`` (every coin): per-exchange current funding.

    Sample: ``{"symbol": "BTC", "stablecoin_margin_list": [{"exchange": "Binance",
    "funding_rate_interval": 8,  # hours
    "funding_rate": 0.007343,  # percent per interval
    "next_funding_time": 1745222400000}], "token_margin_list": [...]}``

    ``funding_rate / 100`` per ``funding_rate_interval`` hours (Hyperliquid's ``0.00125`` per 1 h and
    Binance's ``0.005`` per 4 h on HYPE are the same 0.01 %/8h carry). Rows whose rate or interval is null
    (live: KuCoin, HTX, Bitmex, Bitfinex) are left out. The answer has no observation time, so ``time`` is
    ``received`` (our receipt time). Stablecoin-margined rates get ``<coin>USDT``, coin-margined
    ``<coin>USD`` as their symbol.
    """
    return CoinFunding(
        symbol=row.symbol,
        stablecoin_margin=_exchange_funding(row.symbol, "USDT", row.stablecoin_margin_list or (), received),
        token_margin=_exchange_funding(row.symbol, "USD", row.token_margin_list or (), received),
    )


def to_exchange_liquidations(row: cg.CgExchangeLiquidations, window: timedelta) -> ExchangeLiquidations:
    """``liquidation/exchange-list?symbol=BTC&range=24h`` (``window`` is the requested range).

    Docs sample: ``{"exchange": "All", "liquidation_usd": 14673519.81739075, "long_liquidation_usd":
    451394.17404598, "short_liquidation_usd": 14222125.64334477}``; the live answer spells the sides
    ``longLiquidation_usd`` / ``shortLiquidation_usd``.
    """
    return ExchangeLiquidations(
        exchange=row.exchange,
        totals=LiquidationTotals(window=window, long_usd=row.long_usd, short_usd=row.short_usd),
        liquidation_usd=row.liquidation_usd,
    )


def _epoch(value: float) -> datetime:
    number = int(value)
    return utc_from_ms(number * 1000 if abs(number) < _SECONDS_BELOW else number)


def to_fear_greed(blocks: Iterable[cg.CgFearGreed]) -> tuple[FearGreed, ...]:
    """``index/fear-greed-history``: the Crypto Fear & Greed index, oldest-first.

    Live (``time_list`` in ms): ``{"data_list": [51.0, 54.0], "price_list": [115228.0, 116700.0],
    "time_list": [1757982001000, 1758068402000]}``. Docs (``time_list`` in seconds): ``[{"data_list":
    [4611285.1141], "price_list": [4788636.51145], "time_list": [1636588800]}]``. Arrays of unequal
    length are an error; ``price_list`` (BTC price) is not part of the result.
    """
    points = [
        FearGreed(value=value, classification=fear_greed_classification(value), time=_epoch(stamp))
        for block in blocks
        for value, stamp in zip(block.data_list, block.time_list, strict=True)
    ]
    return tuple(sorted(points, key=lambda p: p.time))


# --------------------------------------------------------------------------------------------------
# the normalized client


class CoinGlassClient:
    """Normalized CoinGlass over :class:`~providers.coinglass.raw.CoinGlassRawClient` (``raw``).

    :meth:`pair_series` and :meth:`coin_series` serve any history route with a converter; the named
    methods are the ones the gateway and the adapter ask. ``interval`` is a :class:`CandleInterval` or
    one of :data:`INTERVALS`; anything else raises IntervalNotSupported before any request.
    """

    def __init__(self, http: ProviderHttp, ttls: CacheTtls, *, clock: Callable[[], datetime] | None = None) -> None:
        self.raw = CoinGlassRawClient(http, ttls)
        # receipt time for snapshot answers that carry no timestamp (funding exchange-list)
        self._clock = clock or _utc_now
        # the last exchange-list answer and its conversion: a cached answer keeps the time it was received
        self._funding: tuple[tuple[cg.CgCoinFunding, ...], dict[str, CoinFunding]] | None = None

    async def pair_series(
        self,
        route: Route[B],
        convert: Callable[[B], D],
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 100,
    ) -> tuple[D, ...]:
        """A pair route (``exchange`` + ``BTCUSDT`` + ``interval`` + ``limit``), converted, oldest-first."""
        params: dict[str, str | int] = {
            "exchange": exchange,
            "symbol": instrument.for_provider(PROVIDER),
            "interval": interval_of(route.name, interval),
            "limit": limit,
        }
        return oldest_first(await self.raw.rows(route, params), convert)

    async def coin_series(
        self,
        route: Route[B],
        convert: Callable[[B], D],
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        limit: int = 100,
        exchange_list: str | None = None,
    ) -> tuple[D, ...]:
        """A coin route (``BTC`` + ``interval`` + ``limit``, aggregated over exchanges), converted, oldest-first."""
        params: dict[str, str | int] = {
            "symbol": instrument.for_provider(PROVIDER, form="coin"),
            "interval": interval_of(route.name, interval),
            "limit": limit,
        }
        if exchange_list is not None:
            params["exchange_list"] = exchange_list
        return oldest_first(await self.raw.rows(route, params), convert)

    async def liquidations_24h(self, instrument: Instrument) -> LiquidationTotals:
        """Long vs short liquidated USD over the last 24 h across the major venues (six 4 h bars)."""
        to_bar = functools.partial(to_liquidation_bar, bar=timedelta(hours=4))
        route = LIQUIDATION_AGGREGATED_HISTORY
        bars = await self.coin_series(route, to_bar, instrument, "4h", limit=6, exchange_list=LIQUIDATION_EXCHANGES)
        if not bars:
            raise InvalidRequest(PROVIDER, route.name, "no liquidation bars returned")
        last_day = [b for b in bars if b.time > bars[-1].time - timedelta(hours=24)]
        return LiquidationTotals(
            window=timedelta(hours=24),
            long_usd=sum(b.long_usd for b in last_day),
            short_usd=sum(b.short_usd for b in last_day),
        )

    async def global_account_ratio_history(
        self,
        instrument: Instrument,
        interval: CandleInterval | str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        limit: int = 30,
    ) -> tuple[LongShortPoint, ...]:
        """Share of all accounts long on ``exchange`` (what :meth:`global_long_short` asks)."""
        route = GLOBAL_ACCOUNT_RATIO_HISTORY
        return await self.pair_series(route, to_long_short, instrument, interval, exchange=exchange, limit=limit)

    async def global_long_short(self, instrument: Instrument, timeframe: Timeframe) -> tuple[LongShortPoint, ...]:
        """Binance's global account ratio at the signal's timeframe (the signal's smart-money peer)."""
        return await self.global_account_ratio_history(instrument, timeframe.value)

    async def top_trader_positions(self, instrument: Instrument, timeframe: Timeframe) -> tuple[LongShortPoint, ...]:
        """Binance's top traders' long share by position at the signal's timeframe."""
        return await self.pair_series(TOP_POSITION_RATIO_HISTORY, to_long_short, instrument, timeframe.value, limit=30)

    async def aggregated_open_interest_history(
        self, instrument: Instrument, interval: CandleInterval | str, limit: int = 30
    ) -> tuple[OpenInterestPoint, ...]:
        """USD OI over all exchanges (CoinGlass gives notional, so the unit is ``usd``)."""
        route = OPEN_INTEREST_AGGREGATED_HISTORY
        return await self.coin_series(route, to_open_interest_point, instrument, interval, limit=limit)

    async def open_interest_history(
        self, instrument: Instrument, timeframe: Timeframe, limit: int = 30
    ) -> tuple[OpenInterestPoint, ...]:
        return await self.aggregated_open_interest_history(instrument, timeframe.value, limit)

    async def funding_rate_oi_weight_history(
        self, instrument: Instrument, interval: CandleInterval | str, limit: int = 100
    ) -> tuple[FundingRate, ...]:
        """OI-weighted funding over all exchanges, recorded per 8 h (see :func:`to_funding`)."""
        to_rate = functools.partial(to_funding, symbol=instrument.canonical, interval_hours=8.0)
        return await self.coin_series(FUNDING_RATE_OI_WEIGHT_HISTORY, to_rate, instrument, interval, limit=limit)

    async def funding_rate_exchange_list(self) -> dict[str, CoinFunding]:
        """Every coin's current funding on every exchange (one request answers every coin)."""
        rows = await self.raw.rows(FUNDING_RATE_EXCHANGE_LIST)
        if self._funding is None or self._funding[0] is not rows:  # a new answer, received now
            received = self._clock()
            self._funding = (rows, {r.symbol: to_coin_funding(r, received) for r in rows})
        return self._funding[1]

    async def funding_rates_by_exchange(
        self, instrument: Instrument, *, margin: str = "stablecoin"
    ) -> Mapping[str, FundingRate]:
        """Exchange → current funding (a fraction per its interval) for one coin; ``margin`` is
        ``"stablecoin"`` (USDT/USD-margined) or ``"token"`` (coin-margined)."""
        coin = instrument.for_provider(PROVIDER, form="coin")
        coins = await self.funding_rate_exchange_list()
        if coin not in coins:
            raise InvalidSymbol(PROVIDER, FUNDING_RATE_EXCHANGE_LIST.name, f"no funding rates for {coin}")
        if margin not in ("stablecoin", "token"):
            raise ValueError(f"margin must be 'stablecoin' or 'token', not {margin!r}")
        return coins[coin].stablecoin_margin if margin == "stablecoin" else coins[coin].token_margin

    async def open_interest_exchange_list(self, instrument: Instrument) -> tuple[cg.ExchangeOpenInterest, ...]:
        """OI per exchange plus the ``All`` row, wire order."""
        params = {"symbol": instrument.for_provider(PROVIDER, form="coin")}
        return await self.raw.rows(OPEN_INTEREST_EXCHANGE_LIST, params)

    async def fear_greed_history(self) -> tuple[FearGreed, ...]:
        """The whole daily Crypto Fear & Greed series, oldest-first."""
        return to_fear_greed(await self.raw.rows(FEAR_GREED_HISTORY))
