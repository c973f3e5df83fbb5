"""The universe's GraphQL types and root fields: ``newListings``, ``screener`` and ``spikes`` (query and
subscription). The work is :mod:`resolvers.universe`; this module only shapes its answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator  # noqa: TC003 - strawberry reads resolver annotations at runtime
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine.screener import ScreenKind, ranking_value
from engine.spikes import Horizon, SpikeMetric
from resolvers import universe
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import Problem
from schema.enums import Venue, VenueEnum, described
from schema.errors import InvalidInput, UpstreamUnavailable, problem

if TYPE_CHECKING:
    from engine.listings import CoinMarket
    from engine.listings import Listing as ListingValue
    from engine.screener import ScreenerRow as RowValue
    from engine.screener import VenueFunding as VenueFundingValue
    from engine.spikes import Spike

ScreenerKindEnum = described(
    ScreenKind,
    "ScreenerKind",
    "What a screener ranks the USD-M universe by.",
    {
        "GAINERS": "Largest 24 h price rise first (the deepest venue's price).",
        "LOSERS": "Largest 24 h price fall first.",
        "VOLUME": "Most 24 h quote volume first (summed over the venues).",
        "FUNDING_HIGH": "Highest funding first (per 8 h, the symbol's highest venue rate): longs paying most.",
        "FUNDING_LOW": "Lowest (most negative) funding first (the symbol's lowest venue rate): shorts paying most.",
        "OPEN_INTEREST": "Most open interest (USD, summed over the venues that serve it in one call) first.",
    },
)
SpikeMetricEnum = described(
    SpikeMetric,
    "SpikeMetric",
    "What spiked.",
    {
        "OPEN_INTEREST": "Open interest in USD (a build-up or a flush).",
        "QUOTE_VOLUME": "The rolling 24 h volume (a burst of trading), its change in coins valued in USD at the "
        "last price (so a price move alone is not volume); upward only.",
    },
)
HorizonEnum = described(
    Horizon,
    "SpikeHorizon",
    "The window a change is measured over.",
    {"M5": "5 minutes (default threshold z 3.0).", "M15": "15 minutes (z 2.5).", "H1": "1 hour (z 2.0)."},
)


@strawberry.type(description="A USDT perpetual listed recently on one venue, with what is known about its start.")
class Listing:
    symbol: str = strawberry.field(description="Canonical symbol (BTCUSDT).")
    venue: VenueEnum = strawberry.field(description="The venue whose listing this is.")  # type: ignore[valid-type]
    listed_at: datetime = strawberry.field(
        description="When the venue listed it, UTC (Binance onboardDate, OKX listTime, Bybit launchTime)."
    )
    age_hours: float = strawberry.field(description="Hours since listing at asOf (the service clock).")
    status: str = strawberry.field(description="The venue's trading status (TRADING).")
    base_asset: str = strawberry.field(description="The venue's base asset (1000PEPE for 1000PEPEUSDT).")
    also_listed_on: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Other venues that list the symbol too."
    )
    not_listed_on: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Other venues whose listing answered without it."
    )
    unknown_on: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Other venues whose listing could not be read."
    )
    first_price: float | None = strawberry.field(description="Open of the first hourly candle, USDT; null if unknown.")
    last_price: float | None = strawberry.field(description="Close of the latest hourly candle, USDT; null if unknown.")
    since_listing_change_pct: float | None = strawberry.field(
        description="Percent change from the first price to the last; null when not derivable (see figuresMissing)."
    )
    since_listing_quote_volume_usd: float | None = strawberry.field(
        description="Quote volume (USDT) traded since listing on this venue; null when not derivable."
    )
    first_day_change_pct: float | None = strawberry.field(
        description="Percent change over the first 24 h (so far, while firstDayComplete is false)."
    )
    first_day_quote_volume_usd: float | None = strawberry.field(
        description="Quote volume (USDT) of the first 24 h (so far, while firstDayComplete is false)."
    )
    first_day_complete: bool | None = strawberry.field(
        description="Whether 24 h have passed since listing; null when the figures are missing."
    )
    figures_missing: str | None = strawberry.field(
        description="Why the first-day and since-listing figures are null; null when they are present."
    )

    @classmethod
    def of(cls, item: ListingValue) -> Listing:
        p = item.performance
        return cls(
            symbol=item.symbol,
            venue=Venue(item.venue),
            listed_at=item.listed_at,
            age_hours=item.age_hours,
            status=item.status,
            base_asset=item.base_asset,
            also_listed_on=[Venue(v) for v in item.also_listed_on],
            not_listed_on=[Venue(v) for v in item.not_listed_on],
            unknown_on=[Venue(v) for v in item.unknown_on],
            first_price=p.first_price if p else None,
            last_price=p.last_price if p else None,
            since_listing_change_pct=p.since_listing_change_pct if p else None,
            since_listing_quote_volume_usd=p.since_listing_quote_volume if p else None,
            first_day_change_pct=p.first_day_change_pct if p else None,
            first_day_quote_volume_usd=p.first_day_quote_volume if p else None,
            first_day_complete=p.first_day_complete if p else None,
            figures_missing=item.performance_missing,
        )


@strawberry.type(description="Listings younger than withinHours, newest first.")
class NewListings:
    as_of: datetime = strawberry.field(description="The service clock's now (the cassette's in replay mode).")
    within_hours: float = strawberry.field(description="The window asked for.")
    venues: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The venues whose listings were screened."
    )
    listings: list[Listing] = strawberry.field(description="Newest first.")
    missing: list[str] = strawberry.field(
        description="Each venue asked whose listing could not be read, with why (its listings are absent)."
    )


@strawberry.type(description="One venue's current funding of a symbol.")
class UniverseFunding:
    venue: VenueEnum = strawberry.field(description="The venue of this rate.")  # type: ignore[valid-type]
    rate8h_pct: float = strawberry.field(description="The rate per 8 hours, in percent (0.01 = 0.01 % per 8 h).")
    interval_hours: float = strawberry.field(description="The venue's funding interval for this symbol.")
    note: str | None = strawberry.field(description="Why the interval is assumed, when it is; else null.")

    @classmethod
    def of(cls, f: VenueFundingValue) -> UniverseFunding:
        return cls(venue=Venue(f.venue), rate8h_pct=f.rate_8h_pct, interval_hours=f.interval_hours, note=f.note)


@strawberry.type(description="What CoinGecko knows of the coin (the highest-ranked coin with this symbol).")
class CoinFacts:
    coin_id: str = strawberry.field(description="CoinGecko's id (bitcoin).")
    name: str = strawberry.field(description="The coin's name.")
    market_cap_usd: float | None = strawberry.field(description="Market cap in USD; null if CoinGecko has none.")
    market_cap_rank: int | None = strawberry.field(description="Rank by market cap; null if unranked.")
    fdv_usd: float | None = strawberry.field(description="Fully diluted valuation in USD; null if unknown.")
    circulating_share_pct: float | None = strawberry.field(
        description="Circulating supply as a percent of total (else max) supply; null if unknown."
    )

    @classmethod
    def of(cls, c: CoinMarket) -> CoinFacts:
        return cls(
            coin_id=c.coin_id,
            name=c.name,
            market_cap_usd=c.market_cap_usd,
            market_cap_rank=c.market_cap_rank,
            fdv_usd=c.fdv_usd,
            circulating_share_pct=c.circulating_share * 100.0 if c.circulating_share is not None else None,
        )


@strawberry.type(description="One symbol in a screener, its figures merged over the venues asked.")
class ScreenerRow:
    rank: int = strawberry.field(description="1 = the top of the ranking.")
    symbol: str = strawberry.field(description="Canonical symbol (BTCUSDT).")
    base_asset: str = strawberry.field(description="The symbol without USDT.")
    value: float = strawberry.field(description="The figure the kind ranks by (percent, USD or percent per 8 h).")
    price_venue: VenueEnum = strawberry.field(  # type: ignore[valid-type]
        description="The venue with the most quote volume: it sets price and change."
    )
    last_price: float = strawberry.field(description="Last price on priceVenue, USDT.")
    change24h_pct: float = strawberry.field(description="24 h price change on priceVenue, percent.")
    quote_volume_usd: float = strawberry.field(description="24 h quote volume summed over volumeVenues.")
    volume_venues: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The venues whose volume is in quoteVolumeUsd."
    )
    open_interest_usd: float | None = strawberry.field(
        description="Open interest in USD summed over openInterestVenues; null when none serves it in one call."
    )
    open_interest_venues: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The venues whose open interest is summed."
    )
    funding: list[UniverseFunding] = strawberry.field(description="Each venue's current funding (one call per venue).")
    coin: CoinFacts | None = strawberry.field(
        description="Market cap and FDV when the coin is among CoinGecko's top coins read; else null."
    )

    @classmethod
    def of(cls, rank: int, row: RowValue, kind: ScreenKind) -> ScreenerRow:
        value = ranking_value(row, kind)
        assert value is not None  # screen() ranks only rows that have the figure
        return cls(
            rank=rank,
            symbol=row.symbol,
            base_asset=row.base_asset,
            value=value,
            price_venue=Venue(row.price_venue),
            last_price=row.last_price,
            change24h_pct=row.change_24h_pct,
            quote_volume_usd=row.quote_volume_usd,
            volume_venues=[Venue(v) for v in row.volume_venues],
            open_interest_usd=row.open_interest_usd,
            open_interest_venues=[Venue(v) for v in row.open_interest_venues],
            funding=[UniverseFunding.of(f) for f in row.funding],
            coin=CoinFacts.of(row.coin) if row.coin else None,
        )


@strawberry.type(description="A screener's ranking over the USD-M universe.")
class Screener:
    as_of: datetime = strawberry.field(description="The service clock's now.")
    kind: ScreenerKindEnum = strawberry.field(description="What was ranked.")  # type: ignore[valid-type]
    venues: list[VenueEnum] = strawberry.field(description="The venues screened.")  # type: ignore[valid-type]
    rows: list[ScreenerRow] = strawberry.field(description="The top rows, best first.")
    screened: int = strawberry.field(description="Symbols in the universe of these venues.")
    below_min_volume: int = strawberry.field(description="Symbols left out by minQuoteVolumeUsd.")
    without_figure: int = strawberry.field(description="Liquid symbols left out for lacking the ranked figure.")
    coins_covered: int = strawberry.field(description="Coins CoinGecko answered (the top by market cap).")
    missing: list[str] = strawberry.field(description="Every reading that could not be had, with why.")


@strawberry.type(description="A change over a horizon far outside the symbol's own recent history.")
class SpikeReading:
    symbol: str = strawberry.field(description="Canonical symbol (BTCUSDT).")
    venue: VenueEnum = strawberry.field(description="The venue the figures are from.")  # type: ignore[valid-type]
    metric: SpikeMetricEnum = strawberry.field(description="Open interest or quote volume.")  # type: ignore[valid-type]
    horizon: HorizonEnum = strawberry.field(description="The window of the change.")  # type: ignore[valid-type]
    z: float = strawberry.field(description="(change − mean of past changes) / their standard deviation.")
    change: float = strawberry.field(description="The change over the horizon now, USD.")
    mean: float = strawberry.field(description="Mean change over the past windows, USD.")
    stdev: float = strawberry.field(description="Standard deviation of the past changes, USD.")
    windows: int = strawberry.field(description="Past windows the z-score is measured against.")
    threshold: float = strawberry.field(description="The z from which this counts as a spike.")

    @classmethod
    def of(cls, s: Spike) -> SpikeReading:
        return cls(
            symbol=s.symbol,
            venue=Venue(s.venue),
            metric=s.metric,
            horizon=s.horizon,
            z=s.score.z,
            change=s.score.value,
            mean=s.score.mean,
            stdev=s.score.stdev,
            windows=s.score.windows,
            threshold=s.threshold,
        )


@strawberry.type(description="The z-score from which a change counts as a spike at one horizon.")
class SpikeThreshold:
    horizon: HorizonEnum = strawberry.field(description="The window.")  # type: ignore[valid-type]
    min_z: float = strawberry.field(description="The threshold.")


@strawberry.type(description="A scan of the universe's open interest and volume for spikes.")
class SpikeScan:
    as_of: datetime = strawberry.field(description="When this scan's sample was taken (the service clock).")
    spikes: list[SpikeReading] = strawberry.field(description="Readings at or over their threshold, strongest first.")
    thresholds: list[SpikeThreshold] = strawberry.field(description="The thresholds applied.")
    venues: list[VenueEnum] = strawberry.field(description="The venues reported.")  # type: ignore[valid-type]
    symbols_tracked: int = strawberry.field(description="(venue, symbol) pairs the monitor keeps history for.")
    history_since: datetime | None = strawberry.field(description="The monitor's first sample in this process.")
    warming_up: list[str] = strawberry.field(
        description="Horizons without enough sampled history for a z-score yet (no reading there, not zero)."
    )
    missing: list[str] = strawberry.field(description="Venue figures this scan could not read, with why.")

    @classmethod
    def of(cls, scan: universe.SpikeScan) -> SpikeScan:
        return cls(
            as_of=scan.as_of,
            spikes=[SpikeReading.of(s) for s in scan.spikes],
            thresholds=[SpikeThreshold(horizon=h, min_z=z) for h, z in scan.thresholds.items()],
            venues=[Venue(v) for v in scan.venues],
            symbols_tracked=scan.symbols_tracked,
            history_since=scan.history_since,
            warming_up=list(scan.warming_up),
            missing=list(scan.missing),
        )


NewListingsResult = Annotated[
    NewListings | InvalidInput | UpstreamUnavailable,
    strawberry.union("NewListingsResult", description="New listings, or why there are none to show."),
]
ScreenerResult = Annotated[
    Screener | InvalidInput | UpstreamUnavailable,
    strawberry.union("ScreenerResult", description="A screener's ranking, or why it could not be made."),
]
SpikeScanResult = Annotated[
    SpikeScan | InvalidInput | UpstreamUnavailable,
    strawberry.union("SpikeScanResult", description="A spike scan, or why it could not be made."),
]

VenuesArg = Annotated[
    list[str] | None,
    strawberry.argument(description="Venues to include: binance, bybit, okx (case-insensitive); null: all three."),
]
MinZArg = Annotated[
    float | None,
    strawberry.argument(description="One z-score threshold for every horizon; null: 3.0 (5m), 2.5 (15m), 2.0 (1h)."),
]


def _screener(result: universe.ScreenerResult) -> Screener:
    outcome = result.outcome
    return Screener(
        as_of=result.as_of,
        kind=result.kind,
        venues=[Venue(v) for v in result.venues],
        rows=[ScreenerRow.of(i, row, result.kind) for i, row in enumerate(outcome.rows, start=1)],
        screened=outcome.screened,
        below_min_volume=outcome.below_min_volume,
        without_figure=outcome.without_figure,
        coins_covered=result.coins_covered,
        missing=list(result.missing),
    )


@strawberry.type
class UniverseQuery:
    @strawberry.field(
        description="USDT perpetuals listed within the last withinHours on Binance, Bybit and OKX, newest first, "
        "from each venue's listing endpoint (3 upstream calls, cached an hour)."
    )
    async def new_listings(
        self,
        info: Info[RequestContext, None],
        within_hours: Annotated[
            float, strawberry.argument(description="How far back to look, hours (0 < withinHours <= 720).")
        ] = 72.0,
        venues: VenuesArg = None,
    ) -> NewListingsResult:
        found = await universe.resolve_new_listings(info.context, within_hours, venues)
        if isinstance(found, Problem):
            return problem(found)
        return NewListings(
            as_of=found.as_of,
            within_hours=within_hours,
            venues=[Venue(v) for v in found.venues],
            listings=[Listing.of(item) for item in found.listings],
            missing=list(found.missing),
        )

    @strawberry.field(
        description="Top gainers, losers, volume, funding extremes or open-interest leaders over the whole USD-M "
        "universe, from all-symbol endpoints (7 upstream calls cold)."
    )
    async def screener(
        self,
        info: Info[RequestContext, None],
        kind: Annotated[
            ScreenerKindEnum,  # type: ignore[valid-type]
            strawberry.argument(description="What to rank by."),
        ],
        limit: Annotated[int, strawberry.argument(description="How many rows, 1..100.")] = 20,
        min_quote_volume_usd: Annotated[
            float, strawberry.argument(description="Leave out symbols with less 24 h quote volume (USD) than this.")
        ] = 1_000_000.0,
        venues: VenuesArg = None,
    ) -> ScreenerResult:
        result = await universe.resolve_screener(info.context, ScreenKind(kind), limit, min_quote_volume_usd, venues)
        return problem(result) if isinstance(result, Problem) else _screener(result)

    @strawberry.field(
        description="Open-interest and volume spikes: z-scores of 5m, 15m and 1h changes against each symbol's own "
        "recent history, sampled in-process from all-symbol endpoints (4 upstream calls per scan)."
    )
    async def spikes(
        self,
        info: Info[RequestContext, None],
        min_z: MinZArg = None,
        venues: VenuesArg = None,
        limit: Annotated[int, strawberry.argument(description="Most readings to return, 1..200.")] = 50,
    ) -> SpikeScanResult:
        scan = await universe.resolve_spikes(info.context, min_z, venues, limit)
        return problem(scan) if isinstance(scan, Problem) else SpikeScan.of(scan)


SPIKE_SUBSCRIPTION_SECONDS = 60.0  # one scan a minute: 4 upstream calls, shared by every subscriber


async def spike_scans(
    ctx: RequestContext, min_z: float | None, interval_seconds: float = SPIKE_SUBSCRIPTION_SECONDS
) -> AsyncGenerator[SpikeScan, None]:
    """A scan now and then every ``interval_seconds``; bad input is refused before the stream starts."""
    first = await universe.resolve_spikes(ctx, min_z, None, universe.MAX_SPIKES)
    if isinstance(first, Problem):
        raise GraphQLError(first.message, extensions={"code": first.code})
    return _scans(ctx, min_z, first, interval_seconds)


async def _scans(
    ctx: RequestContext, min_z: float | None, first: universe.SpikeScan, interval_seconds: float
) -> AsyncGenerator[SpikeScan, None]:
    yield SpikeScan.of(first)
    for _ in range(universe.MAX_SUBSCRIPTION_SCANS):
        await asyncio.sleep(interval_seconds)
        scan = await universe.resolve_spikes(ctx, min_z, None, universe.MAX_SPIKES)
        if not isinstance(scan, Problem):  # an upstream gap is transient: skip this beat, scan again next time
            yield SpikeScan.of(scan)
