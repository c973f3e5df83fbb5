"""The cross-venue market view and the per-venue API (`exchanges`, `exchange(name) { ... }`).

Long series come as compact rows with a `columns` header, not one object per candle: a ``JSON`` scalar
(an array of arrays, times as integer epoch milliseconds, since GraphQL's ``Int`` is 32-bit).
STYLE.md measured 1,000 candles at ~63 ms as objects, ~31 ms as ``[[Float!]!]`` rows and ~1.3 ms as a
JSON scalar.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info  # noqa: TC002

from resolvers.context import RequestContext  # noqa: TC001
from resolvers.exchange import MAX_LIMIT, Series, VenueApi, exchange, exchange_statuses
from resolvers.market import resolve_market
from resolvers.problems import Problem
from schema.enums import CandleIntervalEnum, CapabilityEnum, Venue, VenueEnum
from schema.errors import (
    CapabilityUnsupported,
    ExchangeNotFound,
    InvalidInput,
    SymbolNotFound,
    UpstreamUnavailable,
    problem,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.market import Candle, FundingRate, OpenInterest, OpenInterestPoint


EXCHANGE_NAME = (
    "The exchange or vendor's lowercase name, one of the Venue enum's values (a String, as in the Problem "
    "members beside it in the same union)."
)


def _cell(value: float | None) -> float | None:
    """A non-finite number (NaN, Infinity: not JSON) goes out as null, like a value the source lacks."""
    return value if value is None or math.isfinite(value) else None


def _rows(rows: Iterable[tuple[int, *tuple[float | None, ...]]]) -> JSON:
    """Rows for a ``JSON`` field: the time first (integer epoch ms), then the values."""
    return JSON([[time, *(_cell(v) for v in values)] for time, *values in rows])


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


@strawberry.type(description="A funding rate on one venue: a fraction per interval, and its 8-hour equivalent.")
class VenueFunding:
    venue: VenueEnum = strawberry.field(description="Where the rate is paid.")  # type: ignore[valid-type]
    rate: float = strawberry.field(
        description="Fraction per funding interval, as the venue publishes it (0.0001 = 0.01 %); positive: "
        "longs pay shorts."
    )
    rate_pct: float = strawberry.field(description="The same rate in percent per funding interval (0.01 = 0.01 %).")
    interval_hours: float = strawberry.field(description="Hours between fundings on this venue (8, 4 or 1).")
    rate_8h: float = strawberry.field(description="The same carry per 8 hours, as a fraction.")
    rate_8h_pct: float = strawberry.field(
        description="The same carry per 8 hours, in percent: compare venues with different intervals by this."
    )
    percent_8h: float = strawberry.field(
        description="The same carry per 8 hours, in percent.", deprecation_reason="Use rate8hPct."
    )
    next_funding_time: datetime | None = strawberry.field(
        description="When the next funding is settled (UTC, ISO-8601); null where the venue does not say."
    )
    time: datetime = strawberry.field(description="When the venue published this rate (UTC, ISO-8601).")

    @classmethod
    def of(cls, venue: str, f: FundingRate) -> VenueFunding:
        return cls(
            venue=Venue(venue),
            rate=f.rate,
            rate_pct=f.rate * 100.0,
            interval_hours=f.interval_hours,
            rate_8h=f.rate_8h_equivalent,
            rate_8h_pct=f.percent_8h,
            percent_8h=f.percent_8h,
            next_funding_time=f.next_funding_time,
            time=f.time,
        )


@strawberry.type(description="Open interest on one venue: the contracts outstanding.")
class VenueOpenInterest:
    venue: VenueEnum = strawberry.field(description="The venue.")  # type: ignore[valid-type]
    coins: float = strawberry.field(description="Open interest in coins of the base asset (BTC for BTCUSDT).")
    usd: float | None = strawberry.field(
        description="Open interest in USD (notional); null where the venue gives none and no price is known."
    )
    time: datetime = strawberry.field(description="When the venue measured it (UTC, ISO-8601).")

    @classmethod
    def of(cls, venue: str, oi: OpenInterest) -> VenueOpenInterest:
        return cls(venue=Venue(venue), coins=oi.coins, usd=oi.usd, time=oi.time)


@strawberry.type(description="The global accounts' long/short split on one venue.")
class VenueLongShort:
    venue: VenueEnum = strawberry.field(description="The venue.")  # type: ignore[valid-type]
    long_pct: float = strawberry.field(description="Share of accounts long, percent (0..100).")
    long_short_ratio: float = strawberry.field(description="Accounts long per account short (1.5 = 60 % long).")
    time: datetime = strawberry.field(description="When the venue measured it (UTC, ISO-8601).")


@strawberry.type(description="One USDT perpetual across every enabled venue, each number with its source.")
class Market:
    id: strawberry.ID = strawberry.field(
        description="Stable cache key: the symbol (BTCUSDT); a newer snapshot replaces the cached one."
    )
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    price: float | None = strawberry.field(description="Last price in USDT; null when no venue answered.")
    price_source: str | None = strawberry.field(description="The venue.endpoint the price came from.")
    change_24h_pct: float | None = strawberry.field(description="Price change over the last 24 h, in percent.")
    volume_24h_usd: float | None = strawberry.field(description="Traded volume over the last 24 h, in USD(T).")
    funding: list[VenueFunding] = strawberry.field(description="The current funding rate on each venue that answered.")
    open_interest: list[VenueOpenInterest] = strawberry.field(description="Open interest on each venue that answered.")
    open_interest_total_usd: float | None = strawberry.field(
        description="Sum in USD over the venues that report USD (see openInterest for which)."
    )
    long_short: list[VenueLongShort] = strawberry.field(description="Accounts' long/short split per venue.")
    failures: list[str] = strawberry.field(description="Every source that failed, with its error.")
    generated_at: datetime = strawberry.field(description="When this snapshot was assembled (UTC, ISO-8601).")


MarketResult = Annotated[
    Market | InvalidInput | SymbolNotFound | UpstreamUnavailable,
    strawberry.union("MarketResult", description="A market snapshot, or why there is none."),
]


@strawberry.type(
    description="Candles, oldest first, as compact rows: [openTime (epoch ms, integer, UTC), open, high, low, "
    "close (USDT), volume (coins)]."
)
class CandleSeries:
    id: strawberry.ID = strawberry.field(description="Stable cache key: exchange:SYMBOL:interval (binance:BTCUSDT:1h).")
    exchange: str = strawberry.field(description=EXCHANGE_NAME)
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    interval: CandleIntervalEnum = strawberry.field(description="Each candle's length.")  # type: ignore[valid-type]
    columns: list[str] = strawberry.field(
        description="Names of the row cells: openTime, open, high, low, close, volume."
    )
    rows: JSON = strawberry.field(
        description="One row per candle: [openTime (integer epoch ms, UTC), open, high, low, close (USDT), "
        "volume (coins)]; the last row may be the forming candle. A JSON value, not a list type: integer ms do "
        "not fit GraphQL's 32-bit Int, and one array per candle is ~50x cheaper to serve than objects."
    )

    @classmethod
    def of(cls, series: Series[Candle]) -> CandleSeries:
        assert series.interval is not None
        return cls(
            id=strawberry.ID(f"{series.exchange}:{series.symbol}:{series.interval.value}"),
            exchange=series.exchange,
            symbol=series.symbol,
            interval=series.interval,
            columns=["openTime", "open", "high", "low", "close", "volume"],
            rows=_rows((_ms(c.open_time), c.open, c.high, c.low, c.close, c.volume) for c in series.items),
        )


@strawberry.type(
    description="Open interest history, oldest first, as compact rows: [time (epoch ms, integer, UTC), "
    "openInterest (in unit), openInterestUsd (USD or null)]."
)
class OpenInterestSeries:
    exchange: str = strawberry.field(description=EXCHANGE_NAME)
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    period: CandleIntervalEnum = strawberry.field(description="Time between points.")  # type: ignore[valid-type]
    unit: str = strawberry.field(description="Unit of the openInterest column: coin or usd.")
    columns: list[str] = strawberry.field(description="Names of the row cells: time, openInterest, openInterestUsd.")
    rows: JSON = strawberry.field(
        description="One row per point: [time (integer epoch ms, UTC), openInterest (in unit), openInterestUsd "
        "(USD, or null where unknown)]. A JSON value, not a list type: integer ms do not fit GraphQL's Int."
    )

    @classmethod
    def of(cls, series: Series[OpenInterestPoint]) -> OpenInterestSeries:
        assert series.interval is not None
        points = series.items
        return cls(
            exchange=series.exchange,
            symbol=series.symbol,
            period=series.interval,
            unit=points[0].unit if points else "coin",
            columns=["time", "openInterest", "openInterestUsd"],
            rows=_rows((_ms(p.time), p.open_interest, p.open_interest_usd) for p in points),
        )


@strawberry.type(
    description="Settled funding rates, oldest first, as compact rows: [time (epoch ms, integer, UTC), rate "
    "(fraction per interval), intervalHours, rate8h (fraction per 8 h)]."
)
class FundingSeries:
    exchange: str = strawberry.field(description=EXCHANGE_NAME)
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    columns: list[str] = strawberry.field(description="Names of the row cells: time, rate, intervalHours, rate8h.")
    rows: JSON = strawberry.field(
        description="One row per settlement: [time (integer epoch ms, UTC), rate (fraction per interval, "
        "0.0001 = 0.01 %), intervalHours, rate8h (fraction per 8 h)]. A JSON value: integer ms do not fit Int."
    )

    @classmethod
    def of(cls, series: Series[FundingRate]) -> FundingSeries:
        return cls(
            exchange=series.exchange,
            symbol=series.symbol,
            columns=["time", "rate", "intervalHours", "rate8h"],
            rows=_rows((_ms(f.time), f.rate, f.interval_hours, f.rate_8h_equivalent) for f in series.items),
        )


VenueProblem = InvalidInput | SymbolNotFound | CapabilityUnsupported | UpstreamUnavailable
CandlesResult = Annotated[
    CandleSeries | VenueProblem, strawberry.union("CandlesResult", description="Candles, or why there are none.")
]
OpenInterestResult = Annotated[
    VenueOpenInterest | VenueProblem,
    strawberry.union("OpenInterestResult", description="Current open interest, or why there is none."),
]
OpenInterestHistoryResult = Annotated[
    OpenInterestSeries | VenueProblem,
    strawberry.union("OpenInterestHistoryResult", description="Open interest history, or why there is none."),
]
FundingResult = Annotated[
    VenueFunding | VenueProblem,
    strawberry.union("FundingResult", description="The current funding rate, or why there is none."),
]
FundingHistoryResult = Annotated[
    FundingSeries | VenueProblem,
    strawberry.union("FundingHistoryResult", description="Settled funding rates, or why there are none."),
]

SymbolArg = Annotated[
    str, strawberry.argument(description="A USDT perpetual in any usual spelling: BTC, BTCUSDT, btc-usdt.")
]
IntervalArg = Annotated[
    str,
    strawberry.argument(
        description="Candle length: 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w (or the CandleInterval names, H4); "
        "not every venue serves every interval."
    ),
]
PeriodArg = Annotated[
    str,
    strawberry.argument(description="Time between points: 5m 15m 30m 1h 2h 4h 6h 12h 1d (or H1, H4 ...)."),
]


def _limit(what: str) -> object:
    return strawberry.argument(description=f"How many {what}, the most recent: 1..{MAX_LIMIT}.")


@strawberry.type(description="One exchange or data vendor: ask for what its capabilities list.")
class Exchange:
    id: strawberry.ID = strawberry.field(description="Stable cache key: the exchange name (binance).")
    name: str = strawberry.field(description=EXCHANGE_NAME)
    capabilities: list[CapabilityEnum] = strawberry.field(  # type: ignore[valid-type]
        description="What it serves; a field outside these answers CapabilityUnsupported."
    )
    venue: strawberry.Private[VenueApi]

    @strawberry.field(description="Oldest-first candles; interval 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w.")
    async def candles(
        self,
        symbol: SymbolArg,
        interval: IntervalArg = "1h",
        limit: Annotated[int, _limit("candles")] = 200,
    ) -> CandlesResult:
        result = await self.venue.candles(symbol, interval, limit)
        return problem(result) if isinstance(result, Problem) else CandleSeries.of(result)

    @strawberry.field(description="Current open interest in coins and USD.")
    async def open_interest(self, symbol: SymbolArg) -> OpenInterestResult:
        result = await self.venue.open_interest(symbol)
        return problem(result) if isinstance(result, Problem) else VenueOpenInterest.of(self.venue.name, result)

    @strawberry.field(description="Open interest history, oldest-first.")
    async def open_interest_history(
        self,
        symbol: SymbolArg,
        period: PeriodArg = "1h",
        limit: Annotated[int, _limit("points")] = 30,
    ) -> OpenInterestHistoryResult:
        result = await self.venue.open_interest_history(symbol, period, limit)
        return problem(result) if isinstance(result, Problem) else OpenInterestSeries.of(result)

    @strawberry.field(description="The current funding rate with its interval and 8-hour equivalent.")
    async def funding(self, symbol: SymbolArg) -> FundingResult:
        result = await self.venue.funding(symbol)
        return problem(result) if isinstance(result, Problem) else VenueFunding.of(self.venue.name, result)

    @strawberry.field(description="Settled funding rates, oldest-first.")
    async def funding_history(
        self, symbol: SymbolArg, limit: Annotated[int, _limit("settlements")] = 30
    ) -> FundingHistoryResult:
        result = await self.venue.funding_history(symbol, limit)
        return problem(result) if isinstance(result, Problem) else FundingSeries.of(result)


@strawberry.type(description="A known provider and whether it is enabled here.")
class ExchangeStatus:
    id: strawberry.ID = strawberry.field(description="Stable cache key: the exchange name (binance).")
    name: str = strawberry.field(description=EXCHANGE_NAME)
    enabled: bool = strawberry.field(description="Whether this server uses it (keyed vendors need their key).")
    status: str = strawberry.field(description="Why it is enabled or not, for a human (e.g. no API key set).")
    capabilities: list[CapabilityEnum] = strawberry.field(  # type: ignore[valid-type]
        description="What it can serve once enabled."
    )


ExchangeResult = Annotated[
    Exchange | ExchangeNotFound, strawberry.union("ExchangeResult", description="The exchange, or ExchangeNotFound.")
]


@strawberry.type
class MarketQuery:
    @strawberry.field(description="Price, 24 h change and volume, funding, open interest and ratios across venues.")
    async def market(self, info: Info[RequestContext, None], symbol: SymbolArg) -> MarketResult:
        view = await resolve_market(info.context, symbol)
        if isinstance(view, Problem):
            return problem(view)
        ticker = view.ticker
        return Market(
            id=strawberry.ID(view.symbol),
            symbol=view.symbol,
            price=ticker.value.last_price if ticker else None,
            price_source=f"{ticker.venue}.ticker" if ticker else None,
            change_24h_pct=ticker.value.price_change_pct if ticker else None,
            volume_24h_usd=ticker.value.quote_volume if ticker else None,
            funding=[VenueFunding.of(s.venue, s.value) for s in view.funding],
            open_interest=[VenueOpenInterest.of(s.venue, s.value) for s in view.open_interest],
            open_interest_total_usd=view.open_interest_total_usd,
            long_short=[
                VenueLongShort(
                    venue=Venue(s.venue),
                    long_pct=s.value.long_pct,
                    long_short_ratio=s.value.long_short_ratio,
                    time=s.value.time,
                )
                for s in view.long_short
            ],
            failures=list(view.failures),
            generated_at=view.generated_at,
        )

    @strawberry.field(description="Every known exchange and data vendor, enabled or not, with its capabilities.")
    def exchanges(self, info: Info[RequestContext, None]) -> list[ExchangeStatus]:
        return [
            ExchangeStatus(
                id=strawberry.ID(s.name),
                name=s.name,
                enabled=s.enabled,
                status=s.status,
                capabilities=list(s.capabilities),
            )
            for s in exchange_statuses(info.context.services.gateway.registry)
        ]

    @strawberry.field(description="One venue's data: candles, openInterest, openInterestHistory, funding, ...")
    def exchange(
        self,
        info: Info[RequestContext, None],
        name: Annotated[
            str, strawberry.argument(description="The exchange or vendor, case-insensitive: binance, bybit, okx ...")
        ],
    ) -> ExchangeResult:
        found = exchange(info.context.services.gateway.registry, name)
        if isinstance(found, Problem):
            return problem(found)
        return Exchange(
            id=strawberry.ID(found.name), name=found.name, capabilities=list(found.capabilities), venue=found
        )
