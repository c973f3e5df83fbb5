"""The cross-venue market view and the per-venue API (`exchanges`, `exchange(name) { ... }`).

Long series come as compact rows of numbers with a `columns` header, not one object per candle:
STYLE.md measured 1,000 candles at ~63 ms as objects and ~31 ms as rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info  # noqa: TC002

from resolvers.context import RequestContext  # noqa: TC001
from resolvers.exchange import Capability, Series, VenueApi, exchange, exchange_statuses
from resolvers.market import resolve_market
from resolvers.problems import Problem
from schema.errors import (
    CapabilityUnsupported,
    ExchangeNotFound,
    InvalidInput,
    SymbolNotFound,
    UpstreamUnavailable,
    problem,
)

if TYPE_CHECKING:
    from engine.market import Candle, FundingRate, OpenInterest, OpenInterestPoint

CapabilityEnum = strawberry.enum(Capability, name="Capability", description="What a provider can serve.")


def _ms(moment: datetime) -> float:
    return moment.timestamp() * 1000.0


@strawberry.type(description="A funding rate on one venue: a fraction per interval, and its 8-hour equivalent.")
class VenueFunding:
    venue: str
    rate: float = strawberry.field(description="Fraction per funding interval (0.0001 = 0.01 %).")
    interval_hours: float
    rate_8h: float = strawberry.field(description="The same carry per 8 hours, as a fraction.")
    percent_8h: float
    next_funding_time: datetime | None
    time: datetime

    @classmethod
    def of(cls, venue: str, f: FundingRate) -> VenueFunding:
        return cls(
            venue=venue,
            rate=f.rate,
            interval_hours=f.interval_hours,
            rate_8h=f.rate_8h_equivalent,
            percent_8h=f.percent_8h,
            next_funding_time=f.next_funding_time,
            time=f.time,
        )


@strawberry.type
class VenueOpenInterest:
    venue: str
    coins: float
    usd: float | None
    time: datetime

    @classmethod
    def of(cls, venue: str, oi: OpenInterest) -> VenueOpenInterest:
        return cls(venue=venue, coins=oi.coins, usd=oi.usd, time=oi.time)


@strawberry.type
class VenueLongShort:
    venue: str
    long_pct: float = strawberry.field(description="Share of accounts long, percent.")
    long_short_ratio: float
    time: datetime


@strawberry.type(description="One USDT perpetual across every enabled venue, each number with its source.")
class Market:
    symbol: str
    price: float | None
    price_source: str | None
    change_24h_pct: float | None
    volume_24h_usd: float | None
    funding: list[VenueFunding]
    open_interest: list[VenueOpenInterest]
    open_interest_total_usd: float | None = strawberry.field(
        description="Sum over the venues that report USD (see openInterest for which)."
    )
    long_short: list[VenueLongShort]
    failures: list[str] = strawberry.field(description="Every source that failed, with its error.")
    generated_at: datetime


MarketResult = Annotated[Market | InvalidInput | SymbolNotFound | UpstreamUnavailable, strawberry.union("MarketResult")]


@strawberry.type(description="Candles as rows of numbers: [openTime (epoch ms), open, high, low, close, volume].")
class CandleSeries:
    exchange: str
    symbol: str
    interval: str
    columns: list[str]
    rows: list[list[float]]

    @classmethod
    def of(cls, series: Series[Candle]) -> CandleSeries:
        assert series.interval is not None
        return cls(
            exchange=series.exchange,
            symbol=series.symbol,
            interval=series.interval.value,
            columns=["openTime", "open", "high", "low", "close", "volume"],
            rows=[[_ms(c.open_time), c.open, c.high, c.low, c.close, c.volume] for c in series.items],
        )


@strawberry.type(description="Open interest history as rows: [time (epoch ms), openInterest, openInterestUsd].")
class OpenInterestSeries:
    exchange: str
    symbol: str
    period: str
    unit: str = strawberry.field(description="Unit of the openInterest column: coin or usd.")
    columns: list[str]
    rows: list[list[float | None]]

    @classmethod
    def of(cls, series: Series[OpenInterestPoint]) -> OpenInterestSeries:
        assert series.interval is not None
        points = series.items
        return cls(
            exchange=series.exchange,
            symbol=series.symbol,
            period=series.interval.value,
            unit=points[0].unit if points else "coin",
            columns=["time", "openInterest", "openInterestUsd"],
            rows=[[_ms(p.time), p.open_interest, p.open_interest_usd] for p in points],
        )


@strawberry.type(description="Funding history as rows: [time (epoch ms), rate, intervalHours, rate8h].")
class FundingSeries:
    exchange: str
    symbol: str
    columns: list[str]
    rows: list[list[float]]

    @classmethod
    def of(cls, series: Series[FundingRate]) -> FundingSeries:
        return cls(
            exchange=series.exchange,
            symbol=series.symbol,
            columns=["time", "rate", "intervalHours", "rate8h"],
            rows=[[_ms(f.time), f.rate, f.interval_hours, f.rate_8h_equivalent] for f in series.items],
        )


VenueProblem = InvalidInput | SymbolNotFound | CapabilityUnsupported | UpstreamUnavailable
CandlesResult = Annotated[CandleSeries | VenueProblem, strawberry.union("CandlesResult")]
OpenInterestResult = Annotated[VenueOpenInterest | VenueProblem, strawberry.union("OpenInterestResult")]
OpenInterestHistoryResult = Annotated[OpenInterestSeries | VenueProblem, strawberry.union("OpenInterestHistoryResult")]
FundingResult = Annotated[VenueFunding | VenueProblem, strawberry.union("FundingResult")]
FundingHistoryResult = Annotated[FundingSeries | VenueProblem, strawberry.union("FundingHistoryResult")]


@strawberry.type(description="One exchange or data vendor: ask for what its capabilities list.")
class Exchange:
    name: str
    capabilities: list[CapabilityEnum]  # type: ignore[valid-type]
    venue: strawberry.Private[VenueApi]

    @strawberry.field(description="Oldest-first candles; interval 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w.")
    async def candles(self, symbol: str, interval: str = "1h", limit: int = 200) -> CandlesResult:
        result = await self.venue.candles(symbol, interval, limit)
        return problem(result) if isinstance(result, Problem) else CandleSeries.of(result)

    @strawberry.field(description="Current open interest in coins and USD.")
    async def open_interest(self, symbol: str) -> OpenInterestResult:
        result = await self.venue.open_interest(symbol)
        return problem(result) if isinstance(result, Problem) else VenueOpenInterest.of(self.name, result)

    @strawberry.field(description="Open interest history, oldest-first.")
    async def open_interest_history(
        self, symbol: str, period: str = "1h", limit: int = 30
    ) -> OpenInterestHistoryResult:
        result = await self.venue.open_interest_history(symbol, period, limit)
        return problem(result) if isinstance(result, Problem) else OpenInterestSeries.of(result)

    @strawberry.field(description="The current funding rate with its interval and 8-hour equivalent.")
    async def funding(self, symbol: str) -> FundingResult:
        result = await self.venue.funding(symbol)
        return problem(result) if isinstance(result, Problem) else VenueFunding.of(self.name, result)

    @strawberry.field(description="Settled funding rates, oldest-first.")
    async def funding_history(self, symbol: str, limit: int = 30) -> FundingHistoryResult:
        result = await self.venue.funding_history(symbol, limit)
        return problem(result) if isinstance(result, Problem) else FundingSeries.of(result)


@strawberry.type(description="A known provider and whether it is enabled here.")
class ExchangeStatus:
    name: str
    enabled: bool
    status: str
    capabilities: list[CapabilityEnum]  # type: ignore[valid-type]


ExchangeResult = Annotated[Exchange | ExchangeNotFound, strawberry.union("ExchangeResult")]


@strawberry.type
class MarketQuery:
    @strawberry.field(description="Price, 24 h change and volume, funding, open interest and ratios across venues.")
    async def market(self, info: Info[RequestContext, None], symbol: str) -> MarketResult:
        view = await resolve_market(info.context, symbol)
        if isinstance(view, Problem):
            return problem(view)
        ticker = view.ticker
        return Market(
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
                    venue=s.venue,
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
            ExchangeStatus(name=s.name, enabled=s.enabled, status=s.status, capabilities=list(s.capabilities))
            for s in exchange_statuses(info.context.services.gateway.registry)
        ]

    @strawberry.field(description="One venue's data: candles, openInterest, openInterestHistory, funding, ...")
    def exchange(self, info: Info[RequestContext, None], name: str) -> ExchangeResult:
        found = exchange(info.context.services.gateway.registry, name)
        if isinstance(found, Problem):
            return problem(found)
        return Exchange(name=found.name, capabilities=list(found.capabilities), venue=found)
