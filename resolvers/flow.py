"""The ``flow`` field: large trades and cumulative volume delta over a window, per venue and merged, from
the trades the live streams deliver into :class:`resolvers.trade_window.TradeWindow`.

Asking is what starts the streams (``follow``): the first request for a symbol answers that coverage is
only beginning, and a window is complete once its venue's stream has covered all of it. A venue whose
coverage does not reach back over the window still reports what it saw, with ``complete`` false and
the span it covers; the merged delta adds only the venues that covered the whole window, and names
them. With streams off every venue says so: never a zero that would read as a quiet market.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.flow import VolumeDelta, cvd_path, large_trades, volume_delta
from providers.streams.client import STREAM_VENUES
from resolvers.orderbook import checked_venues
from resolvers.problems import InvalidArgument, Problem, UnknownExchange, UnknownSymbol, UnsupportedCapability
from resolvers.symbols import listed_instrument

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from engine.market import Trade
    from providers.symbols import Instrument
    from resolvers.context import RequestContext

FlowProblem = InvalidArgument | UnknownSymbol | UnknownExchange | UnsupportedCapability
CVD_STEPS = 12  # points of the CVD path per window
_TICK = timedelta(microseconds=1)
STREAMS_OFF = "live streams are off on this server (STREAMS_ENABLED=false), so no trade is ingested"


@dataclass(frozen=True, slots=True)
class VenueFlow:
    venue: str
    source: str
    complete: bool  # the stream covered the whole window
    covered_from: datetime | None  # start of what ``delta`` sums (None: nothing covered)
    delta: VolumeDelta | None  # over (max(window start, coverage start), end]; None: nothing covered
    cvd: tuple[tuple[datetime, float], ...]  # only when complete
    large_trades: tuple[Trade, ...]  # newest first, within what is covered
    error: str | None  # why incomplete or missing


@dataclass(frozen=True, slots=True)
class FlowReport:
    symbol: str
    window: timedelta
    start: datetime
    end: datetime
    threshold_usd: float
    venues: tuple[VenueFlow, ...]
    merged: VolumeDelta | None  # the complete venues only
    merged_venues: tuple[str, ...]
    large_trades: tuple[Trade, ...]  # every venue's, newest first
    missing: tuple[str, ...]  # "venue: why" for each venue not in the merged delta


def venue_flow(
    ctx: RequestContext, instrument: Instrument, venue: str, start: datetime, end: datetime, threshold: float
) -> VenueFlow:
    """One venue's flow over ``(start, end]`` from the trade window (following it from now on if new)."""
    symbol = instrument.canonical
    source = f"{venue}.trades stream"
    window = ctx.services.trades
    if window is None:
        return VenueFlow(venue, source, False, None, None, (), (), STREAMS_OFF)
    refusal = window.follow(venue, symbol)
    if refusal is not None:
        return VenueFlow(venue, source, False, None, None, (), (), refusal)
    since = window.coverage_start(venue, symbol)
    if since is None:
        error = f"following {symbol} trades on {venue} from now; no trade received yet: ask again shortly"
        return VenueFlow(venue, source, False, None, None, (), (), error)
    trades = window.trades(venue, symbol)
    complete = since <= start
    # sums run over (lower, end]; the first trade opens the coverage, so it is counted with it
    lower = start if complete else since - _TICK
    delta = volume_delta(trades, lower, end)
    big = large_trades(trades, lower, end, threshold)
    if complete:
        return VenueFlow(venue, source, True, start, delta, _cvd(trades, start, end), big, None)
    covered = _minutes(end - since)
    error = f"the {venue} stream covers the last {covered} of the {_minutes(end - start)} window"
    return VenueFlow(venue, source, False, since, delta, (), big, error)


def _cvd(trades: Sequence[Trade], start: datetime, end: datetime) -> tuple[tuple[datetime, float], ...]:
    return cvd_path(trades, start, end, (end - start) / CVD_STEPS)


def _minutes(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


async def resolve_flow(
    ctx: RequestContext, symbol: str, window: timedelta, venues: Sequence[str] | None = None
) -> FlowReport | FlowProblem:
    if not timedelta(minutes=1) <= window <= timedelta(hours=1):
        return InvalidArgument("window", "window must be between 1 minute and 1 hour")
    chosen = checked_venues(ctx, venues, None)
    if isinstance(chosen, Problem):
        return chosen
    for name in chosen:
        if name not in STREAM_VENUES:
            message = (
                f"{name} has no public trade stream here; trade streams come from {', '.join(sorted(STREAM_VENUES))}"
            )
            return UnsupportedCapability(name, "trades", message)
    instrument = await listed_instrument(ctx, symbol)
    if isinstance(instrument, Problem):
        return instrument
    return flow_report(ctx, instrument, window, chosen)


def flow_report(ctx: RequestContext, instrument: Instrument, window: timedelta, venues: Sequence[str]) -> FlowReport:
    end = ctx.services.gateway.now()
    start = end - window
    threshold = ctx.services.order_flow.large_trade_usd
    flows = tuple(venue_flow(ctx, instrument, v, start, end, threshold) for v in venues)
    complete = [f for f in flows if f.complete and f.delta is not None]
    merged_trades = sorted((t for f in flows for t in f.large_trades), key=lambda t: t.time, reverse=True)
    return FlowReport(
        symbol=instrument.canonical,
        window=window,
        start=start,
        end=end,
        threshold_usd=threshold,
        venues=flows,
        merged=VolumeDelta.merge(f.delta for f in complete if f.delta is not None) if complete else None,
        merged_venues=tuple(f.venue for f in complete),
        large_trades=tuple(merged_trades),
        missing=tuple(f"{f.venue}: {f.error}" for f in flows if not f.complete),
    )
