"""MSS resolvers: one coin's report (``mss``), a budgeted scan of new listings (``mssScan``) and the watchlist.

Every input is read through the gateway in one concurrent round per coin and handed to
:func:`engine.mss.score_mss` as a :class:`~engine.inputs.Reading` by rule name, so a missing input keeps
its reason. A watched coin's report is stored in its MSS history each time it is computed.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from engine.factors import oi_change_24h
from engine.inputs import Reading
from engine.listings import VenueListing, coin_symbol, coins_by_base, new_listings
from engine.market import Candle, CandleInterval, Ticker24h, Timeframe
from engine.mss import CoinDetails, MssReport, score_mss, whale_accumulation
from persistence.db import DATABASE_ERRORS
from persistence.watchlist import MssPoint
from providers.symbols import parse_symbol
from providers.venue import Capability
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol, UpstreamDown
from resolvers.symbols import listed_instrument
from resolvers.universe import MAX_LIMIT as MAX_SCREEN_ROWS
from resolvers.universe import resolve_screener

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from engine.hype import SocialMetrics
    from engine.listings import CoinMarket
    from engine.market import SymbolInfo
    from engine.screener import ScreenKind
    from providers.symbols import Instrument
    from resolvers.context import RequestContext
    from resolvers.gateway import MarketGateway

log = structlog.get_logger(__name__)

# Open interest and the top-trader ratio are read at 4 h, the signal's default period: the same (cached)
# upstream calls as a signal of the coin, and 24 h of open interest in 12 points.
INSTITUTIONAL_TIMEFRAME = Timeframe.H4
VOLUME_DAYS = 7  # the volume spike compares the last 24 h with the mean of up to this many closed days
# Whale accumulation: the large trades (LARGE_TRADE_THRESHOLD_USD, $100k) among the latest REST trades
WHALE_TRADES = 1000
MAX_SCAN_LIMIT = 50
MAX_WITHIN_HOURS = 24 * 30
SCREEN_MIN_QUOTE_VOLUME_USD = 1_000_000.0  # the screener's own default: illiquid rows are not candidates


@dataclass(frozen=True, slots=True)
class ScanBudget:
    """Upstream calls one scan may still spend on the rate-limited vendors."""

    coingecko: int
    lunarcrush: int

    def spend(self, vendor: str) -> tuple[bool, ScanBudget]:
        left = getattr(self, vendor)
        return (True, replace(self, **{vendor: left - 1})) if left > 0 else (False, self)


@dataclass(frozen=True, slots=True)
class ScanItem:
    """A scored candidate: where it came from (``origin``), its listing when known, and its report."""

    symbol: str
    venue: str
    listed_at: datetime | None
    age_hours: float | None
    origin: str  # "new listing on binance", "screener gainers #3"
    report: MssReport


@dataclass(frozen=True, slots=True)
class MssScan:
    """The scanned coins, best total first; ``skipped`` names every candidate left out and why."""

    items: tuple[ScanItem, ...]
    candidates: int
    skipped: tuple[str, ...]
    failures: tuple[str, ...]
    coingecko_calls: int
    lunarcrush_calls: int
    within_hours: float
    max_fdv_usd: float | None


def _value(reading: Reading[Any] | None, value: float | None, name: str) -> Reading[float]:
    """``value`` read from ``reading`` (its source kept), or missing with the reading's error or ``name``'s."""
    if reading is None:
        return Reading.missing(f"{name}: not fetched")
    if reading.value is None:
        return Reading.missing(reading.error or "no answer", source=reading.source, failed=reading.failed)
    if value is None or not math.isfinite(value):
        return Reading.missing(f"{reading.source} has no {name}", source=reading.source)
    return Reading(value=value, source=reading.source, observed_at=reading.observed_at)


def discovery_readings(
    symbol: str,
    listed_at: Reading[datetime] | None,
    details: Reading[CoinDetails] | None,
    now: datetime,
    market: CoinMarket | None = None,
    market_source: str | None = None,
) -> dict[str, Reading[float]]:
    """FDV, age and circulating share; ``market`` (a scan's ``coins/markets`` row) stands in for ``details``."""
    out: dict[str, Reading[float]] = {}
    if market is not None:
        src = Reading(value=market, source=market_source)
        out["fdv"] = _value(src, market.fdv_usd, "FDV")
        share = market.circulating_share
        out["circulating_share"] = _value(src, None if share is None else share * 100.0, "circulating supply")
    else:
        coin = details.value.market if details is not None and details.value is not None else None
        out["fdv"] = _value(details, coin.fdv_usd if coin else None, "FDV")
        share = coin.circulating_share if coin else None
        out["circulating_share"] = _value(details, None if share is None else share * 100.0, "circulating supply")
    age = None
    if listed_at is not None and listed_at.value is not None:
        age = max((now - listed_at.value).total_seconds(), 0.0) / 3600.0
    out["age"] = _value(listed_at, age, f"listing date of {symbol}")
    return out


def social_readings(
    keyed: Reading[SocialMetrics] | None, details: Reading[CoinDetails] | None
) -> dict[str, Reading[float]]:
    """AltRank and Galaxy Score from the keyed vendor; sentiment from it, else CoinGecko's up-votes."""
    metrics = keyed.value if keyed is not None else None
    out = {
        "alt_rank": _value(keyed, metrics.alt_rank if metrics else None, "AltRank"),
        "galaxy_score": _value(keyed, metrics.galaxy_score if metrics else None, "Galaxy Score"),
    }
    sentiment = _value(keyed, metrics.sentiment_pct if metrics else None, "sentiment")
    if sentiment.value is None and details is not None and details.value is not None:
        votes = _value(details, details.value.social.sentiment_pct, "community up-votes")
        if votes.value is not None:
            sentiment = replace(votes, failed=(*sentiment.failed, *(f"{e}" for e in (sentiment.error,) if e)))
    out["sentiment"] = sentiment
    return out


async def exchange_readings(
    gateway: MarketGateway, ctx: RequestContext, instrument: Instrument
) -> dict[str, Reading[float]]:
    """Volume spike, open-interest change, funding and the top-trader ratio, in one concurrent round."""
    ticker, days, oi, funding, top, trades = await asyncio.gather(
        gateway.ticker_24h(instrument, ctx.loaders),
        gateway.candle_window(instrument, CandleInterval.D1, VOLUME_DAYS),
        gateway.open_interest_reading(instrument, INSTITUTIONAL_TIMEFRAME),
        gateway.funding_reading(instrument, ctx.loaders),
        gateway.top_trader_reading(instrument, INSTITUTIONAL_TIMEFRAME),
        gateway.recent_trades(instrument, WHALE_TRADES),
    )
    out: dict[str, Reading[float]] = {"volume_spike": _volume_spike(ticker, days)}
    if oi.value is not None:
        try:
            change, _, _ = oi_change_24h(oi.value)
            out["oi_change"] = Reading(value=change, source=oi.source, observed_at=oi.observed_at)
        except ValueError as exc:
            out["oi_change"] = Reading.missing(str(exc), source=oi.source)
    else:
        out["oi_change"] = _value(oi, None, "open interest")
    out["funding"] = _value(funding, funding.value.percent_8h if funding.value else None, "funding")
    out["top_trader_ratio"] = _value(top, top.value.long_short_ratio if top.value else None, "top-trader ratio")
    if trades.value:
        value, detail = whale_accumulation(trades.value, ctx.services.order_flow.large_trade_usd)
        out["whale_accumulation"] = Reading(value=value, source=f"{trades.source} ({detail})")
    else:
        out["whale_accumulation"] = _value(trades, None, "trades")
    return out


def _volume_spike(ticker: Reading[Ticker24h], days: Reading[tuple[Candle, ...]]) -> Reading[float]:
    """The last 24 h quote volume against the mean of the closed days before it, in percent above it."""
    if ticker.value is None:
        return _value(ticker, None, "24 h volume")
    if days.value is None:
        return _value(days, None, "daily volume")
    volumes = [c.quote_volume for c in days.value if c.quote_volume is not None]
    # the last closed day overlaps the 24 h window: compare with the days before it
    earlier = volumes[:-1] if len(volumes) > 1 else []
    if not earlier or sum(earlier) <= 0:
        return Reading.missing(f"needs at least 2 closed days of volume, has {len(volumes)}", source=days.source)
    mean = sum(earlier) / len(earlier)
    spike = (ticker.value.quote_volume / mean - 1.0) * 100.0
    return Reading(value=spike, source=f"{ticker.source} vs {days.source} ({len(earlier)} d mean)")


async def compute_mss(
    ctx: RequestContext,
    instrument: Instrument,
    *,
    listed_at: Reading[datetime] | None = None,
    market: CoinMarket | None = None,
    market_source: str | None = None,
    fetch_details: bool = True,
    fetch_social: bool = True,
) -> tuple[MssReport, tuple[str, ...]]:
    """The report and the failures behind it; a scan passes what it already read and what its budget allows."""
    gateway = ctx.services.gateway

    async def nothing() -> None:
        return None

    async def listing_date() -> Reading[datetime]:
        listed = await gateway.symbol_list()
        if listed.value is None:
            return Reading.missing(listed.error or "no listing", source=listed.source, failed=listed.failed)
        info = listed.value.get(instrument.canonical)
        if info is None or info.onboard_date is None:
            return Reading.missing(f"{listed.source} gives no listing date for {instrument.canonical}", listed.source)
        return Reading(value=info.onboard_date, source=listed.source)

    details_task = gateway.coin_details(instrument) if fetch_details and market is None else nothing()
    social_task = gateway.social_metrics(instrument, keyed_only=True) if fetch_social else nothing()
    listing_task = nothing() if listed_at is not None else listing_date()
    details, social, fetched, exchange = await asyncio.gather(
        details_task, social_task, listing_task, exchange_readings(gateway, ctx, instrument)
    )
    listed = listed_at if listed_at is not None else fetched
    readings = {
        **discovery_readings(instrument.canonical, listed, details, gateway.now(), market, market_source),
        **social_readings(social, details),
        **exchange,
    }
    if not fetch_details and market is None:
        for name in ("fdv", "circulating_share"):
            readings[name] = Reading.missing("left out: this scan's CoinGecko budget is spent")
    if not fetch_social:
        for name in ("alt_rank", "galaxy_score", "sentiment"):
            if readings[name].value is None:
                readings[name] = Reading.missing("left out: this scan's LunarCrush budget is spent")
    failures = tuple(dict.fromkeys(f for r in readings.values() for f in r.failed))
    categories = details.value.categories if details is not None and details.value is not None else None
    return score_mss(instrument.canonical, readings, categories), failures


async def record_if_watched(ctx: RequestContext, report: MssReport) -> None:
    """Store the report in the coin's MSS history when it is watched; storage trouble is logged, never raised."""
    repo = ctx.services.discovery.watchlist
    if repo is None:
        return
    try:
        await repo.record(mss_point(report, ctx.services.gateway.now()))
    except DATABASE_ERRORS as exc:  # the answer still goes out
        log.warning("watchlist MSS history not stored", symbol=report.symbol, error=repr(exc))


def mss_point(report: MssReport, at: datetime) -> MssPoint:
    tier = report.tier
    return MssPoint(
        symbol=report.symbol,
        measured_at=at,
        total=report.total,
        measurable_max=report.measurable_max,
        total_low=report.total_low,
        total_high=report.total_high,
        tier=tier.value if tier is not None else None,
        phases=tuple(
            {
                "name": p.phase.value,
                "points": p.points,
                "maxPoints": p.max_points,
                "available": p.available,
                "passes": p.passes,
                "missing": list(p.missing),
            }
            for p in report.phases
        ),
    )


async def resolve_mss(
    ctx: RequestContext, symbol: str, *, record: bool = True
) -> tuple[MssReport, tuple[str, ...]] | InvalidArgument | UnknownSymbol:
    instrument = await listed_instrument(ctx, symbol)
    if isinstance(instrument, Problem):
        return instrument
    report, failures = await compute_mss(ctx, instrument)
    if record:
        await record_if_watched(ctx, report)
    return report, failures


@dataclass(frozen=True, slots=True)
class _Candidate:
    symbol: str
    venue: str
    listed_at: datetime | None
    age_hours: float | None
    origin: str
    coin: CoinMarket | None
    listing_source: str | None = None  # venue.endpoint of listed_at


async def _listing_candidates(
    ctx: RequestContext, within_hours: float, table: Mapping[str, CoinMarket]
) -> tuple[list[_Candidate], list[str]] | UpstreamDown:
    """New listings on every universe venue, newest first, one per symbol."""
    gateway = ctx.services.gateway
    by_venue = await gateway.listings()
    answered: dict[str, Mapping[str, VenueListing]] = {}
    failures: list[str] = []
    for venue, reading in by_venue.items():
        if reading.value is None:
            failures.append(f"{venue}: {reading.error}")
            continue
        answered[venue] = {s: _venue_listing(venue, info) for s, info in reading.value.items()}
    if not answered:
        return UpstreamDown("no venue's listing answered", tuple(failures))
    fresh = new_listings(
        answered, gateway.now(), timedelta(hours=within_hours), unavailable=set(by_venue) - set(answered)
    )
    unique: dict[str, _Candidate] = {}
    for item in fresh:
        coin = table.get(_base(item.base_asset, item.symbol))
        origin = f"new listing on {item.venue}"
        source = by_venue[item.venue].source
        candidate = _Candidate(item.symbol, item.venue, item.listed_at, item.age_hours, origin, coin, source)
        unique.setdefault(item.symbol, candidate)
    return list(unique.values()), failures


async def _screener_candidates(
    ctx: RequestContext, kind: ScreenKind, limit: int
) -> tuple[list[_Candidate], list[str]] | UpstreamDown:
    """The screener's top rows for ``kind`` (its own minimum volume of $1M; CoinGecko facts where it has them)."""
    result = await resolve_screener(ctx, kind, limit, SCREEN_MIN_QUOTE_VOLUME_USD, None)
    if isinstance(result, UpstreamDown):
        return result
    if isinstance(result, InvalidArgument):  # pragma: no cover - limit is within the screener's bounds
        return UpstreamDown(result.message)
    rows = result.outcome.rows
    return [
        _Candidate(r.symbol, r.price_venue, None, None, f"screener {kind.value.lower()} #{rank}", r.coin)
        for rank, r in enumerate(rows, start=1)
    ], list(result.missing)


async def resolve_mss_scan(
    ctx: RequestContext,
    limit: int,
    max_fdv_usd: float | None,
    within_hours: float,
    screen: ScreenKind | None = None,
) -> MssScan | InvalidArgument | UpstreamDown:
    """New listings (every universe venue, newest first), or a screener's top rows when ``screen`` is given,
    filtered by FDV where CoinGecko's first page knows it, then the first ``limit`` scored; CoinGecko and
    LunarCrush calls stay within the scan's budget."""
    config = ctx.services.discovery.config
    cap = min(MAX_SCAN_LIMIT, config.scan_max_coins)
    if not 1 <= limit <= cap:
        return InvalidArgument("limit", f"limit must be 1..{cap}, not {limit}")
    if not (0 < within_hours <= MAX_WITHIN_HOURS) or not math.isfinite(within_hours):
        return InvalidArgument("withinHours", f"withinHours must be in (0, {MAX_WITHIN_HOURS}], not {within_hours}")
    if max_fdv_usd is not None and not (max_fdv_usd > 0 and math.isfinite(max_fdv_usd)):
        return InvalidArgument("maxFdvUsd", f"maxFdvUsd must be a positive number, not {max_fdv_usd}")
    gateway = ctx.services.gateway
    budget = ScanBudget(coingecko=config.scan_coingecko_calls, lunarcrush=config.scan_lunarcrush_calls)
    failures: list[str] = []
    if screen is None:
        spent, budget = budget.spend("coingecko")

        async def no_markets() -> None:
            return None

        # one round: the listings and CoinGecko's first page together
        markets, found = await asyncio.gather(
            gateway.coin_markets(pages=1) if spent else no_markets(), _listing_candidates(ctx, within_hours, {})
        )
        table = coins_by_base(markets.value) if markets is not None and markets.value is not None else {}
        if markets is not None:
            failures.extend(markets.failed)
        source = markets.source if markets is not None else None
    else:  # the screener reads CoinGecko's pages itself (its own bounded wait), within this scan's budget
        spent, budget = budget.spend("coingecko")
        found = await _screener_candidates(ctx, screen, min(MAX_SCREEN_ROWS, 2 * limit))
        table, source = {}, "coingecko.coins.markets.page"
    if isinstance(found, UpstreamDown):
        return found
    candidates, notes = found
    failures.extend(notes)
    skipped: list[str] = []
    chosen: list[_Candidate] = []
    for item in candidates:
        coin = item.coin or table.get(_base("", item.symbol))
        if max_fdv_usd is not None and coin is not None and coin.fdv_usd is not None and coin.fdv_usd > max_fdv_usd:
            skipped.append(f"{item.symbol}: FDV ${coin.fdv_usd:,.0f} above ${max_fdv_usd:,.0f}")
            continue
        if len(chosen) >= limit:
            skipped.append(f"{item.symbol}: beyond limit {limit}")
            continue
        chosen.append(replace(item, coin=coin))
    plans = []
    coingecko_used = 1 if spent else 0
    lunarcrush_used = 0
    lunar_on = any(v.keyed for v in gateway.registry.with_capability(Capability.SOCIAL_METRICS))
    for item in chosen:
        fetch_details = item.coin is None
        if fetch_details:
            fetch_details, budget = budget.spend("coingecko")
            coingecko_used += int(fetch_details)
        fetch_social = True  # without a key the gateway answers "set LUNARCRUSH_API_KEY" with no call
        if lunar_on:
            fetch_social, budget = budget.spend("lunarcrush")
            lunarcrush_used += int(fetch_social)
        plans.append((item, fetch_details, fetch_social))
    results = await asyncio.gather(
        *(
            compute_mss(
                ctx,
                parse_symbol(item.symbol),
                listed_at=None if item.listed_at is None else Reading(value=item.listed_at, source=item.listing_source),
                market=item.coin,
                market_source=source,
                fetch_details=fetch_details,
                fetch_social=fetch_social,
            )
            for item, fetch_details, fetch_social in plans
        )
    )
    items: list[ScanItem] = []
    for (item, *_), (report, report_failures) in zip(plans, results, strict=True):
        if max_fdv_usd is not None:
            fdv = next(i for p in report.phases for i in p.inputs if i.name == "fdv")
            if fdv.value is not None and fdv.value > max_fdv_usd:
                skipped.append(f"{item.symbol}: FDV ${fdv.value:,.0f} above ${max_fdv_usd:,.0f}")
                continue
        failures.extend(report_failures)
        age = _age(report) if item.age_hours is None else item.age_hours
        items.append(ScanItem(item.symbol, item.venue, item.listed_at, age, item.origin, report))
        await record_if_watched(ctx, report)
    items.sort(key=lambda i: (-i.report.total, i.symbol))
    return MssScan(
        items=tuple(items),
        candidates=len(candidates),
        skipped=tuple(skipped),
        failures=tuple(dict.fromkeys(failures)),
        coingecko_calls=coingecko_used,
        lunarcrush_calls=lunarcrush_used,
        within_hours=within_hours,
        max_fdv_usd=max_fdv_usd,
    )


def _age(report: MssReport) -> float | None:
    """The age input's value (hours since listing) when it was measured."""
    return next((i.value for p in report.phases for i in p.inputs if i.name == "age"), None)


def _base(base_asset: str, symbol: str) -> str:
    return coin_symbol(base_asset or symbol.removesuffix("USDT"))


def _venue_listing(venue: str, info: SymbolInfo) -> VenueListing:
    return VenueListing(info.symbol, venue, info.onboard_date, info.status, info.base_asset)
