"""Smart Money Concepts per timeframe: closed candles through the gateway, the pure engine on each.

One candle call per timeframe, all in one concurrent round with the listing check; the venues' HTTP
cache (``CANDLES_TTL``) and its single-flight serve repeats, so ``smc`` and ``Signal.structure`` in one
request, or many clients on the same symbol, cost one upstream call per timeframe. A timeframe whose
candles no venue served is reported as missing with every failure named, never as RANGING.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.market import CandleInterval
from engine.smc import DEFAULT_SWING_BARS, StructureReading, analyze_structure
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.gateway import SymbolNotListed
from resolvers.problems import InvalidArgument, UnknownSymbol, UpstreamDown

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from engine.market import Timeframe
    from providers.symbols import Instrument
    from resolvers.context import RequestContext
    from resolvers.gateway import MarketGateway

DEFAULT_TIMEFRAMES = ("15m", "1h", "4h", "1d")
DEFAULT_CANDLES = 500
MAX_CANDLES = 1000  # Binance and Bybit serve 1000+ per call; OKX caps at 300 (the answer says how many)
MAX_SWING_BARS = 10
DEFAULT_RECENT = 20
MAX_RECENT = 500


@dataclass(frozen=True, slots=True)
class TimeframeStructure:
    """One timeframe's reading, or why there is none (``reading`` is ``None`` and ``error`` says why)."""

    interval: CandleInterval
    reading: StructureReading | None
    source: str | None
    failed: tuple[str, ...]
    error: str | None


@dataclass(frozen=True, slots=True)
class SmcAnalysis:
    symbol: str
    swing_bars: int
    recent: int
    timeframes: tuple[TimeframeStructure, ...]
    generated_at: datetime


SmcOutcome = SmcAnalysis | InvalidArgument | UnknownSymbol | UpstreamDown


async def timeframe_structure(
    gateway: MarketGateway, instrument: Instrument, interval: CandleInterval, candles: int, swing_bars: int
) -> TimeframeStructure:
    reading = await gateway.candle_window(instrument, interval, candles)
    if reading.value is None:
        return TimeframeStructure(interval, None, reading.source, reading.failed, reading.error or "no candles")
    smc = analyze_structure(reading.value, interval=interval.duration, swing_bars=swing_bars)
    return TimeframeStructure(interval, smc, reading.source, reading.failed, None)


def parse_timeframes(texts: Sequence[str], max_items: int) -> tuple[CandleInterval, ...] | InvalidArgument:
    """``15m``, ``H4``, ``1d`` ... in the order given, a repeat counted once; anything else is a typed
    INVALID_INPUT on ``timeframes`` (as are no timeframes, or more than ``max_items`` items)."""
    if not texts or len(texts) > max_items:
        return InvalidArgument("timeframes", f"give between 1 and {max_items} timeframes, not {len(texts)}")
    parsed: dict[CandleInterval, None] = {}
    for text in texts:
        try:
            parsed[CandleInterval.parse(text)] = None
        except ValueError as exc:
            return InvalidArgument("timeframes", f"unsupported timeframe: {exc}")
    return tuple(parsed)


def _validate(candles: int, swing_bars: int, recent: int) -> InvalidArgument | None:
    if not 1 <= swing_bars <= MAX_SWING_BARS:
        return InvalidArgument("swingBars", f"swingBars must be between 1 and {MAX_SWING_BARS}")
    if not 1 <= candles <= MAX_CANDLES:
        return InvalidArgument("candles", f"candles must be between 1 and {MAX_CANDLES}")
    if not 0 <= recent <= MAX_RECENT:
        return InvalidArgument("recent", f"recent must be between 0 and {MAX_RECENT}")
    return None


async def resolve_smc(
    ctx: RequestContext,
    symbol: str,
    timeframes: Sequence[str] = DEFAULT_TIMEFRAMES,
    candles: int = DEFAULT_CANDLES,
    swing_bars: int = DEFAULT_SWING_BARS,
    recent: int = DEFAULT_RECENT,
) -> SmcOutcome:
    """The ``smc`` field: every timeframe's candles and the listing check in one concurrent round."""
    intervals = parse_timeframes(timeframes, ctx.services.max_symbols_per_request)
    if isinstance(intervals, InvalidArgument):
        return intervals
    problem = _validate(candles, swing_bars, recent)
    if problem is not None:
        return problem
    try:
        instrument = parse_symbol(symbol)
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    gateway = ctx.services.gateway
    listed = asyncio.ensure_future(gateway.check_listed(instrument, ctx.loaders))
    readings = await asyncio.gather(
        *(timeframe_structure(gateway, instrument, tf, candles, swing_bars) for tf in intervals)
    )
    try:
        await listed
    except SymbolNotListed as exc:
        return UnknownSymbol(exc.symbol, str(exc))
    if all(r.reading is None for r in readings):
        failures = tuple(dict.fromkeys(f for r in readings for f in (r.failed or (r.error or "",)) if f))
        return UpstreamDown(f"no venue served candles for {instrument.canonical}", failures)
    return SmcAnalysis(instrument.canonical, swing_bars, recent, tuple(readings), gateway.now())


async def resolve_signal_structure(ctx: RequestContext, symbol: str, timeframe: Timeframe) -> TimeframeStructure:
    """``Signal.structure``: the signal's own timeframe, default candles and swing size (the symbol is
    already known to be listed: the signal was computed)."""
    interval = CandleInterval.of(timeframe)
    return await timeframe_structure(
        ctx.services.gateway, parse_symbol(symbol), interval, DEFAULT_CANDLES, DEFAULT_SWING_BARS
    )
