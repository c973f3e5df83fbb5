"""The ``scalping`` field: every layer of :mod:`engine.scalping` gathered in one parallel round, each with the
source that answered (or why none did), then judged by the engine.

Where each layer comes from: 1m and 5m closed candles from the first candle source (the gateway's
``candle_window``); volume delta over the last :data:`DELTA_WINDOW` from the trade streams of the
configured venues (the venues whose stream covered the whole span, merged; see :mod:`resolvers.flow`);
the book of the first configured venue that answers (walls and imbalance); liquidations of the last
:data:`LIQUIDATION_WINDOW` from the live liquidation stream; funding, the 15m accounts' long/short
ratio and fear & greed from the signal's sources.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.inputs import Reading
from engine.market import CandleInterval, Timeframe
from engine.orderbook import BookAnalysis
from engine.scalping import ScalpingInputs, ScalpingView, scalping_view
from resolvers.flow import flow_report
from resolvers.orderbook import analyzed
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol
from resolvers.symbols import listed_instrument

if TYPE_CHECKING:
    from engine.flow import VolumeDelta
    from providers.symbols import Instrument
    from resolvers.context import RequestContext

DELTA_WINDOW = timedelta(minutes=5)
LIQUIDATION_WINDOW = timedelta(hours=1)
RSI_CANDLES = 60  # closed bars asked for each RSI: enough for Wilder's smoothing to settle past its 14


@dataclass(frozen=True, slots=True)
class ScalpingReport:
    view: ScalpingView
    price: float | None  # the last closed 1m candle's close
    price_source: str | None


async def _book(ctx: RequestContext, instrument: Instrument) -> Reading[BookAnalysis]:
    """The first configured venue's book that answers, analyzed; every failure named."""
    config = ctx.services.order_flow
    gateway = ctx.services.gateway
    failed: list[str] = []
    for venue in config.venues:
        reading = (await gateway.order_books(instrument, (venue,), config.depth))[venue]
        result = analyzed(reading, config)
        if isinstance(result, BookAnalysis):
            return Reading(result, reading.source, failed=tuple(failed), observed_at=result.time)
        failed.append(f"{reading.source or venue}: {result}")
    return Reading.missing("; ".join(failed) or "no order book venue configured", failed=tuple(failed))


def _volume_delta(ctx: RequestContext, instrument: Instrument) -> Reading[VolumeDelta]:
    report = flow_report(ctx, instrument, DELTA_WINDOW, ctx.services.order_flow.venues)
    if report.merged is None:
        return Reading.missing("no trade stream covers the last 5 minutes: " + "; ".join(report.missing))
    source = " + ".join(f"{v}.trades stream" for v in report.merged_venues)
    return Reading(report.merged, source, failed=report.missing, observed_at=report.end)


async def resolve_scalping(ctx: RequestContext, symbol: str) -> ScalpingReport | InvalidArgument | UnknownSymbol:
    instrument = await listed_instrument(ctx, symbol)
    if isinstance(instrument, Problem):
        return instrument
    gateway = ctx.services.gateway
    delta = _volume_delta(ctx, instrument)  # starts following the trade streams before the round trips
    candles_1m, candles_5m, book, funding, long_short, fear_greed = await asyncio.gather(
        gateway.candle_window(instrument, CandleInterval.M1, RSI_CANDLES),
        gateway.candle_window(instrument, CandleInterval.M5, RSI_CANDLES),
        _book(ctx, instrument),
        gateway.funding_reading(instrument, ctx.loaders),
        gateway.long_short_reading(instrument, Timeframe.M15),
        gateway.fear_greed_reading(),
    )
    inputs = ScalpingInputs(
        symbol=instrument.canonical,
        as_of=gateway.now(),
        candles_1m=candles_1m,
        candles_5m=candles_5m,
        volume_delta=delta,
        book=book,
        liquidations=gateway.stream_liquidations(instrument, LIQUIDATION_WINDOW),
        funding=funding,
        long_short=long_short,
        fear_greed=fear_greed,
    )
    closes = candles_1m.value
    return ScalpingReport(
        view=scalping_view(inputs),
        price=closes[-1].close if closes else None,
        price_source=candles_1m.source if closes else None,
    )
