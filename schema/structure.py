"""Smart Money Concepts as GraphQL: the ``smc`` root field and the per-timeframe type ``Signal.structure`` uses.

Every item carries ``barTime`` (the bar it refers to) and ``knownAt`` (the close of the bar that made it
known), so a client can replay what was knowable at any moment. Lists hold the ``recent`` most recently
known items; the nearest levels are picked from everything the analysis found.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine.smc import DEFAULT_SWING_BARS, Direction, EventKind, Structure
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import Problem
from resolvers.structure import (
    DEFAULT_CANDLES,
    DEFAULT_RECENT,
    DEFAULT_TIMEFRAMES,
    MAX_CANDLES,
    MAX_RECENT,
    resolve_smc,
)
from schema.enums import CandleIntervalEnum, described
from schema.errors import InvalidInput, SymbolNotFound, UpstreamUnavailable, problem

if TYPE_CHECKING:
    from engine import smc
    from resolvers.structure import SmcAnalysis, TimeframeStructure

MarketStructureEnum = described(
    Structure,
    "MarketStructure",
    "The prevailing structure of one timeframe: the direction of its last break of structure.",
    {
        Structure.BULLISH: "The last BOS or CHoCH broke a swing high upward.",
        Structure.BEARISH: "The last BOS or CHoCH broke a swing low downward.",
        Structure.RANGING: "No swing has been broken by a close yet in the candles analysed.",
    },
)
SmcEventKindEnum = described(
    EventKind,
    "SmcEventKind",
    "What a structure event is.",
    {
        EventKind.SWING_HIGH: "A fractal high: above the N bars before it (or equal) and above the N bars after it.",
        EventKind.SWING_LOW: "A fractal low: below the N bars before it (or equal) and below the N bars after it.",
        EventKind.BOS: "Break of structure: a close beyond the last swing, with the prevailing structure "
        "(or the first break, when there was none).",
        EventKind.CHOCH: "Change of character: the first close beyond the last swing against the prevailing structure.",
    },
)
SmcDirectionEnum = described(
    Direction,
    "SmcDirection",
    "Bullish or bearish. A swing high is BEARISH (price turned down from it), a swing low BULLISH.",
    {
        Direction.BULLISH: "Upward: a swing low, an upward break, a gap or order block below price that supports.",
        Direction.BEARISH: "Downward: a swing high, a downward break, a gap or order block above price that resists.",
    },
)


@strawberry.enum(name="LiquidityKind", description="Which side's resting stops a liquidity zone marks.")
class LiquidityKind(enum.Enum):
    EQUAL_HIGHS = strawberry.enum_value("EQUAL_HIGHS", description="Equal highs: buy stops rest just above.")
    EQUAL_LOWS = strawberry.enum_value("EQUAL_LOWS", description="Equal lows: sell stops rest just below.")


@strawberry.type(description="A swing, break of structure or change of character, with when it became known.")
class SmcEvent:
    kind: SmcEventKindEnum = strawberry.field(description="SWING_HIGH, SWING_LOW, BOS or CHOCH.")  # type: ignore[valid-type]
    direction: SmcDirectionEnum = strawberry.field(description="BULLISH or BEARISH (see SmcDirection).")  # type: ignore[valid-type]
    price: float = strawberry.field(
        description="The swing's extreme (USDT); for BOS/CHOCH the swing level that was broken."
    )
    bar_time: datetime = strawberry.field(
        description="Open time (UTC) of the bar it refers to: the swing's extreme bar, or the bar whose close "
        "broke the level."
    )
    known_at: datetime = strawberry.field(
        description="Close (UTC) of the bar that made it known: a swing N bars after its extreme, a break at its close."
    )
    swing_time: datetime | None = strawberry.field(
        description="For BOS/CHOCH: open time (UTC) of the broken swing's bar; null for swings."
    )

    @classmethod
    def of(cls, e: smc.StructureEvent) -> SmcEvent:
        return cls(
            kind=e.kind,
            direction=e.direction,
            price=e.price,
            bar_time=e.bar_time,
            known_at=e.known_at,
            swing_time=e.swing_time,
        )


@strawberry.type(description="A three-candle fair value gap (a, b, c): the range candle c left untraded after a.")
class SmcFairValueGap:
    direction: SmcDirectionEnum = strawberry.field(  # type: ignore[valid-type]
        description="BULLISH: low(c) > high(a), gap [high(a), low(c)]; BEARISH: high(c) < low(a), "
        "gap [high(c), low(a)]."
    )
    top: float = strawberry.field(description="Upper edge of the gap (USDT).")
    bottom: float = strawberry.field(description="Lower edge of the gap (USDT).")
    bar_time: datetime = strawberry.field(description="Open time (UTC) of the middle candle (b).")
    known_at: datetime = strawberry.field(description="Close time (UTC) of the third candle (c).")
    filled: bool = strawberry.field(
        description="Whether a later bar traded through the whole gap (BULLISH: low ≤ bottom; BEARISH: high ≥ top)."
    )
    filled_at: datetime | None = strawberry.field(
        description="Close time (UTC) of the bar that filled it; null while unfilled."
    )

    @classmethod
    def of(cls, g: smc.FairValueGap) -> SmcFairValueGap:
        return cls(
            direction=g.direction,
            top=g.top,
            bottom=g.bottom,
            bar_time=g.bar_time,
            known_at=g.known_at,
            filled=g.filled,
            filled_at=g.filled_at,
        )


@strawberry.type(
    description="The last opposite-colour candle before the leg that broke a swing (a BOS or CHOCH): its range."
)
class SmcOrderBlock:
    direction: SmcDirectionEnum = strawberry.field(  # type: ignore[valid-type]
        description="BULLISH (last down candle before an upward break) or BEARISH (last up candle before a "
        "downward one)."
    )
    top: float = strawberry.field(description="The candle's high (USDT).")
    bottom: float = strawberry.field(description="The candle's low (USDT).")
    bar_time: datetime = strawberry.field(description="Open time (UTC) of the order-block candle.")
    known_at: datetime = strawberry.field(description="Close time (UTC) of the bar whose break defined it.")
    mitigated_at: datetime | None = strawberry.field(
        description="Close time (UTC) of the first later bar that traded back into it; null if not yet."
    )
    broken_at: datetime | None = strawberry.field(
        description="Close time (UTC) of the first later bar that closed past its far side; null while it holds."
    )

    @classmethod
    def of(cls, b: smc.OrderBlock) -> SmcOrderBlock:
        return cls(
            direction=b.direction,
            top=b.top,
            bottom=b.bottom,
            bar_time=b.bar_time,
            known_at=b.known_at,
            mitigated_at=b.mitigated_at,
            broken_at=b.broken_at,
        )


@strawberry.type(description="Clustered equal highs or lows (two or more swings within the tolerance): resting stops.")
class SmcLiquidityZone:
    kind: LiquidityKind = strawberry.field(description="EQUAL_HIGHS (above) or EQUAL_LOWS (below).")
    level: float = strawberry.field(description="The first swing's price (USDT); the zone's band is level ± 0.1 %.")
    top: float = strawberry.field(description="Highest swing price in the cluster (USDT).")
    bottom: float = strawberry.field(description="Lowest swing price in the cluster (USDT).")
    touches: int = strawberry.field(description="How many swings make up the cluster (2 or more).")
    touch_times: list[datetime] = strawberry.field(
        description="Open time (UTC) of each swing's extreme bar, oldest first."
    )
    known_at: datetime = strawberry.field(
        description="When (UTC) the second touch became known (the zone exists from then)."
    )
    swept_at: datetime | None = strawberry.field(
        description="Close time (UTC) of the first bar that traded beyond the band (stops taken); null while resting."
    )

    @classmethod
    def of(cls, z: smc.LiquidityZone) -> SmcLiquidityZone:
        return cls(
            kind=LiquidityKind.EQUAL_HIGHS if z.is_equal_highs else LiquidityKind.EQUAL_LOWS,
            level=z.level,
            top=z.top,
            bottom=z.bottom,
            touches=z.touch_count,
            touch_times=[t.bar_time for t in z.touches],
            known_at=z.known_at,
            swept_at=z.swept_at,
        )


@strawberry.type(
    description="Smart Money Concepts on one timeframe's closed candles, or why there are none (available: false)."
)
class SmcTimeframe:
    timeframe: CandleIntervalEnum = strawberry.field(description="The candle interval analysed.")  # type: ignore[valid-type]
    available: bool = strawberry.field(description="Whether candles were served; if not, error says why.")
    error: str | None = strawberry.field(description="Why this timeframe has no reading; null when available.")
    source: str | None = strawberry.field(description="The upstream that served the candles (venue.endpoint).")
    failed_sources: list[str] = strawberry.field(description="Sources tried first that failed, as source: error.")
    candles: int = strawberry.field(description="Closed candles analysed (a venue may cap fewer than asked).")
    swing_bars: int = strawberry.field(description="N: bars each side of a swing (it is known N bars after it).")
    as_of: datetime | None = strawberry.field(
        description="Close time (UTC) of the last candle analysed; null when unavailable."
    )
    last_close: float | None = strawberry.field(description="Close of the last candle analysed (USDT).")
    structure: MarketStructureEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="BULLISH, BEARISH or RANGING; null when unavailable (never a default)."
    )
    last_bos: SmcEvent | None = strawberry.field(description="The most recent break of structure; null if none.")
    last_choch: SmcEvent | None = strawberry.field(description="The most recent change of character; null if none.")
    events: list[SmcEvent] = strawberry.field(
        description="The `recent` most recently known swings, BOS and CHOCH, oldest known first."
    )
    fair_value_gaps: list[SmcFairValueGap] = strawberry.field(
        description="The `recent` most recently known fair value gaps (filled or not), oldest known first."
    )
    order_blocks: list[SmcOrderBlock] = strawberry.field(
        description="The `recent` most recently known order blocks, oldest known first."
    )
    liquidity_zones: list[SmcLiquidityZone] = strawberry.field(
        description="The `recent` most recently formed liquidity zones (swept or not), oldest first."
    )
    nearest_unfilled_fvgs: list[SmcFairValueGap] = strawberry.field(
        description="Up to 3 unfilled gaps nearest the last close (a gap containing it first), from all candles."
    )
    liquidity_above: SmcLiquidityZone | None = strawberry.field(
        description="The nearest unswept equal highs above the last close; null if none."
    )
    liquidity_below: SmcLiquidityZone | None = strawberry.field(
        description="The nearest unswept equal lows below the last close; null if none."
    )

    @classmethod
    def of(cls, t: TimeframeStructure, swing_bars: int, recent: int) -> SmcTimeframe:
        r = t.reading
        return cls(
            timeframe=t.interval,
            available=r is not None,
            error=t.error,
            source=t.source,
            failed_sources=list(t.failed),
            candles=r.candles if r is not None else 0,
            swing_bars=swing_bars,
            as_of=r.as_of if r is not None else None,
            last_close=r.last_close if r is not None else None,
            structure=r.structure if r is not None else None,
            last_bos=SmcEvent.of(r.last_bos) if r is not None and r.last_bos is not None else None,
            last_choch=SmcEvent.of(r.last_choch) if r is not None and r.last_choch is not None else None,
            events=[SmcEvent.of(e) for e in r.events[-recent:]] if r is not None and recent else [],
            fair_value_gaps=[SmcFairValueGap.of(g) for g in r.fair_value_gaps[-recent:]] if r and recent else [],
            order_blocks=[SmcOrderBlock.of(b) for b in r.order_blocks[-recent:]] if r and recent else [],
            liquidity_zones=[SmcLiquidityZone.of(z) for z in r.liquidity_zones[-recent:]] if r and recent else [],
            nearest_unfilled_fvgs=[SmcFairValueGap.of(g) for g in r.nearest_unfilled_fvgs] if r is not None else [],
            liquidity_above=SmcLiquidityZone.of(r.liquidity_above) if r and r.liquidity_above else None,
            liquidity_below=SmcLiquidityZone.of(r.liquidity_below) if r and r.liquidity_below else None,
        )


@strawberry.type(name="SMCReport", description="Smart Money Concepts for one symbol, one entry per timeframe asked.")
class SMCReport:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    swing_bars: int = strawberry.field(description="N: bars each side of a swing.")
    timeframes: list[SmcTimeframe] = strawberry.field(description="One entry per timeframe, in the order asked.")
    generated_at: datetime = strawberry.field(description="When the report was computed (UTC, ISO-8601).")

    @classmethod
    def of(cls, a: SmcAnalysis) -> SMCReport:
        return cls(
            symbol=a.symbol,
            swing_bars=a.swing_bars,
            timeframes=[SmcTimeframe.of(t, a.swing_bars, a.recent) for t in a.timeframes],
            generated_at=a.generated_at,
        )


SmcResult = Annotated[
    SMCReport | InvalidInput | SymbolNotFound | UpstreamUnavailable,
    strawberry.union("SmcResult", description="The SMC report, or why there is none."),
]


@strawberry.type
class StructureQuery:
    @strawberry.field(
        description="Smart Money Concepts (swings, BOS, CHoCH, fair value gaps, order blocks, liquidity zones) "
        "on closed candles, per timeframe; causal: every item says when it became known. One candle call per "
        "timeframe (cached)."
    )
    async def smc(
        self,
        info: Info[RequestContext, None],
        symbol: Annotated[
            str,
            strawberry.argument(description="A USDT perpetual in any usual spelling: BTC, BTCUSDT, BTC-USDT."),
        ],
        timeframes: Annotated[
            list[str],
            strawberry.argument(
                description="Candle intervals, one report entry each (a repeat counts once): any of 1m 3m 5m 15m "
                "30m 1h 2h 4h 6h 12h 1d 1w (or M15, H4 ...); anything else is INVALID_INPUT. Default 15m, 1h, 4h, 1d."
            ),
        ] = list(DEFAULT_TIMEFRAMES),  # noqa: B006 - strawberry copies argument defaults
        candles: Annotated[
            int,
            strawberry.argument(
                description=f"Closed candles per timeframe, 1 to {MAX_CANDLES} (default 500; OKX serves at most 300)."
            ),
        ] = DEFAULT_CANDLES,
        swing_bars: Annotated[
            int, strawberry.argument(description="N: bars each side of a swing, 1 to 10 (default 2).")
        ] = DEFAULT_SWING_BARS,
        recent: Annotated[
            int,
            strawberry.argument(
                description=f"How many of the most recent items each list returns, 0 to {MAX_RECENT} (default 20)."
            ),
        ] = DEFAULT_RECENT,
    ) -> SmcResult:
        outcome = await resolve_smc(info.context, symbol, timeframes, candles, swing_bars, recent)
        return problem(outcome) if isinstance(outcome, Problem) else SMCReport.of(outcome)
