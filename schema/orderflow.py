"""Order books, trade flow and the scalping view as GraphQL: ``orderBook``, ``flow`` and ``scalping``.

Every number says where it came from (``source``) and when it was true; what is missing says why, and is
never filled with a neutral value.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine.orderbook import BookSide
from engine.scalping import LayerName, Verdict
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.flow import resolve_flow
from resolvers.orderbook import resolve_order_book
from resolvers.problems import Problem
from resolvers.scalping import resolve_scalping
from schema.enums import Venue, VenueEnum, described
from schema.errors import (
    CapabilityUnsupported,
    ExchangeNotFound,
    InvalidInput,
    SymbolNotFound,
    UpstreamUnavailable,
    problem,
)
from schema.subscriptions import LiveTrade

if TYPE_CHECKING:
    from engine import flow as engine_flow
    from engine import orderbook, scalping
    from resolvers.flow import FlowReport as FlowReport_
    from resolvers.flow import VenueFlow as VenueFlow_
    from resolvers.orderbook import OrderBookReport as OrderBookReport_
    from resolvers.orderbook import VenueBook
    from resolvers.scalping import ScalpingReport


class FlowWindow(enum.Enum):
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=60 if self.value == "1h" else int(self.value.removesuffix("m")))


BookSideEnum = described(
    BookSide,
    "BookSide",
    "The side of the order book a level rests on.",
    {BookSide.BID: "A resting buy order (below the price).", BookSide.ASK: "A resting sell order (above the price)."},
)
FlowWindowEnum = described(
    FlowWindow,
    "FlowWindow",
    "How far back flow sums trades, ending now.",
    {
        FlowWindow.M5: "The last 5 minutes.",
        FlowWindow.M15: "The last 15 minutes.",
        FlowWindow.M30: "The last 30 minutes.",
        FlowWindow.H1: "The last hour (the default; trades are kept for an hour).",
    },
)
ScalpingVerdictEnum = described(
    Verdict,
    "ScalpingVerdict",
    "What one layer of the scalping view leans to, by the rule in its detail (README: Order books, flow and scalping).",
    {
        Verdict.BULLISH: "The layer favours a long scalp.",
        Verdict.BEARISH: "The layer favours a short scalp.",
        Verdict.NEUTRAL: "The layer was read and leans neither way (not a stand-in for missing data).",
    },
)
ScalpingLayerEnum = described(
    LayerName,
    "ScalpingLayerName",
    "A layer of the scalping view; RSI_1M, VOLUME_DELTA, BOOK_IMBALANCE, LIQUIDATIONS and FUNDING are critical.",
    {
        LayerName.RSI_1M: "Wilder's RSI(14) on closed 1m candles (critical: the price/candles layer).",
        LayerName.RSI_5M: "Wilder's RSI(14) on closed 5m candles.",
        LayerName.VOLUME_DELTA: "Taker buys minus sells (USD) over the last 5 minutes from the trade streams "
        "(critical).",
        LayerName.BOOK_IMBALANCE: "(bids - asks) / (bids + asks) in USD within 0.5 % of mid, -1..1 (critical).",
        LayerName.LIQUIDATIONS: "USD liquidated in the last hour from the liquidation stream (critical).",
        LayerName.FUNDING: "The current funding rate in percent per 8 h (critical).",
        LayerName.LONG_SHORT: "Share of accounts long, percent (15m period).",
        LayerName.WHALE_WALLS: "How many walls lie within 0.5 % of mid.",
        LayerName.FEAR_GREED: "The Fear & Greed index, 0..100.",
    },
)


@strawberry.type(description="An order-book level at least wallMultiple x the average level size within the band.")
class WhaleWall:
    side: BookSideEnum = strawberry.field(description="BID (support) or ASK (resistance).")  # type: ignore[valid-type]
    price: float = strawberry.field(description="The level's price in USDT.")
    size: float = strawberry.field(description="Resting size in coins of the base asset.")
    notional_usd: float = strawberry.field(description="price x size, in USD(T).")
    distance_pct: float = strawberry.field(description="|price - mid| / mid, in percent.")
    multiple: float = strawberry.field(description="size / the average level size within the band.")

    @classmethod
    def of(cls, w: orderbook.Wall) -> WhaleWall:
        return cls(
            side=w.side,
            price=w.price,
            size=w.size,
            notional_usd=w.notional_usd,
            distance_pct=w.distance_pct,
            multiple=w.multiple,
        )


@strawberry.type(description="Resting bids against asks within a band around mid, in USD(T).")
class BookImbalance:
    band_pct: float = strawberry.field(description="The band: levels within this percent of mid are summed.")
    bid_usd: float = strawberry.field(description="Notional of the bids within the band.")
    ask_usd: float = strawberry.field(description="Notional of the asks within the band.")
    ratio: float | None = strawberry.field(
        description="(bidUsd - askUsd) / (bidUsd + askUsd), -1..1; positive: more resting bids. Null when the "
        "band holds nothing."
    )
    complete: bool = strawberry.field(
        description="Whether the book the venue sent reaches the band's edge on both sides; false: the sums "
        "cover only the levels sent (see reachPct)."
    )

    @classmethod
    def of(cls, i: orderbook.Imbalance) -> BookImbalance:
        return cls(band_pct=i.band_pct, bid_usd=i.bid_usd, ask_usd=i.ask_usd, ratio=i.ratio, complete=i.complete)


@strawberry.type(description="One venue's order book, read for walls and imbalance.")
class VenueOrderBook:
    venue: VenueEnum = strawberry.field(description="The venue.")  # type: ignore[valid-type]
    source: str | None = strawberry.field(description="The venue.endpoint that answered.")
    time: datetime = strawberry.field(description="The venue's time of the book (UTC, ISO-8601).")
    best_bid: float = strawberry.field(description="Highest bid, USDT.")
    best_ask: float = strawberry.field(description="Lowest ask, USDT.")
    mid: float = strawberry.field(description="(bestBid + bestAsk) / 2, USDT: distances are measured from it.")
    spread_pct: float = strawberry.field(description="(bestAsk - bestBid) / mid, percent.")
    bid_levels: int = strawberry.field(description="Bid levels the venue sent.")
    ask_levels: int = strawberry.field(description="Ask levels the venue sent.")
    reach_pct: float = strawberry.field(
        description="How far from mid the shallower side of the book sent reaches, in percent."
    )
    levels_in_band: int = strawberry.field(description="Levels (both sides) within bandPct of mid.")
    average_level_size: float | None = strawberry.field(
        description="Mean size in coins of the levels within the band; null when none lies in it."
    )
    walls: list[WhaleWall] = strawberry.field(description="Walls within the band, nearest to mid first.")
    imbalance: list[BookImbalance] = strawberry.field(description="Imbalance within 0.5 % and 2 % of mid.")

    @classmethod
    def of(cls, book: VenueBook) -> VenueOrderBook:
        a = book.analysis
        return cls(
            venue=Venue(book.venue),
            source=book.source,
            time=a.time,
            best_bid=a.best_bid,
            best_ask=a.best_ask,
            mid=a.mid,
            spread_pct=a.spread_pct,
            bid_levels=a.bid_levels,
            ask_levels=a.ask_levels,
            reach_pct=a.reach_pct,
            levels_in_band=a.levels_in_band,
            average_level_size=a.average_level_size,
            walls=[WhaleWall.of(w) for w in a.walls],
            imbalance=[BookImbalance.of(i) for i in a.imbalances],
        )


@strawberry.type(description="Order books of one symbol on several venues: whale walls and imbalance.")
class OrderBookReport:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    wall_multiple: float = strawberry.field(description="A wall is at least this many x the average level size.")
    band_pct: float = strawberry.field(description="Walls are looked for within this percent of mid.")
    books: list[VenueOrderBook] = strawberry.field(description="Each venue that answered, in the order asked.")
    failures: list[str] = strawberry.field(description="Each venue that did not answer, as venue: why.")
    generated_at: datetime = strawberry.field(description="When this report was assembled (UTC, ISO-8601).")

    @classmethod
    def of(cls, r: OrderBookReport_) -> OrderBookReport:
        return cls(
            symbol=r.symbol,
            wall_multiple=r.wall_multiple,
            band_pct=r.band_pct,
            books=[VenueOrderBook.of(b) for b in r.books],
            failures=list(r.failures),
            generated_at=r.generated_at,
        )


@strawberry.type(description="Taker buys against taker sells over a span, in USD(T).")
class VolumeDelta:
    buy_usd: float = strawberry.field(description="Notional bought by takers (lifting the ask).")
    sell_usd: float = strawberry.field(description="Notional sold by takers (hitting the bid).")
    delta_usd: float = strawberry.field(description="buyUsd - sellUsd: positive, buyers aggressed.")
    delta_pct: float | None = strawberry.field(
        description="deltaUsd as a percent of all traded notional; null when nothing traded."
    )
    trades: int = strawberry.field(description="Trades counted.")

    @classmethod
    def of(cls, d: engine_flow.VolumeDelta) -> VolumeDelta:
        return cls(
            buy_usd=d.buy_usd, sell_usd=d.sell_usd, delta_usd=d.delta_usd, delta_pct=d.delta_pct, trades=d.trades
        )


@strawberry.type(description="The cumulative volume delta at the end of one step of the window.")
class CvdPoint:
    time: datetime = strawberry.field(description="End of the step (UTC, ISO-8601).")
    cvd_usd: float = strawberry.field(description="Taker buys minus sells (USD) from the window's start to time.")


@strawberry.type(description="One venue's trade flow over the window, from its live trade stream.")
class VenueFlow:
    venue: VenueEnum = strawberry.field(description="The venue.")  # type: ignore[valid-type]
    source: str = strawberry.field(description="Where the trades come from (venue.trades stream).")
    complete: bool = strawberry.field(
        description="Whether the stream covered the whole window; false: delta sums only from coveredFrom."
    )
    covered_from: datetime | None = strawberry.field(
        description="Start of what delta sums (UTC, ISO-8601); null when nothing is covered yet."
    )
    delta: VolumeDelta | None = strawberry.field(description="Volume delta over what is covered; null: nothing.")
    cvd: list[CvdPoint] = strawberry.field(description="The CVD path in 12 steps; empty unless complete.")
    large_trades: list[LiveTrade] = strawberry.field(description="Trades at or above thresholdUsd, newest first.")
    error: str | None = strawberry.field(description="Why the window is incomplete or missing; null when complete.")

    @classmethod
    def of(cls, f: VenueFlow_) -> VenueFlow:
        return cls(
            venue=Venue(f.venue),
            source=f.source,
            complete=f.complete,
            covered_from=f.covered_from,
            delta=VolumeDelta.of(f.delta) if f.delta is not None else None,
            cvd=[CvdPoint(time=t, cvd_usd=v) for t, v in f.cvd],
            large_trades=[LiveTrade.of(t) for t in f.large_trades],
            error=f.error,
        )


@strawberry.type(description="Large trades and cumulative volume delta of one symbol over a window, per venue.")
class FlowReport:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    window: FlowWindowEnum = strawberry.field(description="The window asked for.")  # type: ignore[valid-type]
    start: datetime = strawberry.field(description="Window start (exclusive; UTC, ISO-8601).")
    end: datetime = strawberry.field(description="Window end, now (UTC, ISO-8601).")
    threshold_usd: float = strawberry.field(description="A large trade is at least this notional (USD).")
    venues: list[VenueFlow] = strawberry.field(description="Each venue asked, in order.")
    merged: VolumeDelta | None = strawberry.field(
        description="The delta summed over mergedVenues (those that covered the whole window); null when none did."
    )
    merged_venues: list[VenueEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The venues in merged."
    )
    large_trades: list[LiveTrade] = strawberry.field(description="Every venue's large trades, newest first.")
    missing: list[str] = strawberry.field(description="Each venue left out of merged, as venue: why.")

    @classmethod
    def of(cls, r: FlowReport_, window: FlowWindow) -> FlowReport:
        return cls(
            symbol=r.symbol,
            window=window,
            start=r.start,
            end=r.end,
            threshold_usd=r.threshold_usd,
            venues=[VenueFlow.of(v) for v in r.venues],
            merged=VolumeDelta.of(r.merged) if r.merged is not None else None,
            merged_venues=[Venue(v) for v in r.merged_venues],
            large_trades=[LiveTrade.of(t) for t in r.large_trades],
            missing=list(r.missing),
        )


@strawberry.type(description="One layer of the scalping view: its value, source, verdict and freshness.")
class ScalpingLayer:
    name: ScalpingLayerEnum = strawberry.field(description="Which layer.")  # type: ignore[valid-type]
    critical: bool = strawberry.field(description="Whether it counts toward ready (5 critical layers).")
    value: float | None = strawberry.field(description="The layer's number (see its name); null when missing.")
    verdict: ScalpingVerdictEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="BULLISH, BEARISH or NEUTRAL by the layer's rule; null when missing (never a neutral stand-in)."
    )
    detail: str = strawberry.field(description="What the value is, for a human, or why it is missing.")
    source: str | None = strawberry.field(description="The source that answered, or the last one tried.")
    observed_at: datetime | None = strawberry.field(description="When the value was true (UTC, ISO-8601).")
    fresh: bool = strawberry.field(description="Present and young enough to count (README lists the ages).")
    error: str | None = strawberry.field(description="Why it is missing or stale; null when it counts.")
    failed_sources: list[str] = strawberry.field(description="Sources tried first that failed, as source: error.")

    @classmethod
    def of(cls, layer: scalping.Layer) -> ScalpingLayer:
        return cls(
            name=layer.name,
            critical=layer.critical,
            value=layer.value,
            verdict=layer.verdict,
            detail=layer.detail,
            source=layer.source,
            observed_at=layer.observed_at,
            fresh=layer.fresh,
            error=layer.error,
            failed_sources=list(layer.failed),
        )


@strawberry.type(description="Whether one symbol can be scalped now, layer by layer.")
class ScalpingView:
    symbol: str = strawberry.field(description="The USDT perpetual, canonical spelling (BTCUSDT).")
    as_of: datetime = strawberry.field(description="The moment the layers were judged at (UTC, ISO-8601).")
    price: float | None = strawberry.field(description="Close of the last closed 1m candle, USDT.")
    price_source: str | None = strawberry.field(description="Where the 1m candles came from.")
    ready: bool = strawberry.field(description="At least 4 of the 5 critical layers are present and fresh.")
    critical_usable: int = strawberry.field(description="Critical layers present and fresh (0..5).")
    missing: list[str] = strawberry.field(description="Each critical layer that does not count, as NAME: why.")
    bullish: int = strawberry.field(description="Fresh layers with a BULLISH verdict.")
    bearish: int = strawberry.field(description="Fresh layers with a BEARISH verdict.")
    layers: list[ScalpingLayer] = strawberry.field(description="Every layer, critical ones included.")

    @classmethod
    def of(cls, r: ScalpingReport) -> ScalpingView:
        v = r.view
        return cls(
            symbol=v.symbol,
            as_of=v.as_of,
            price=r.price,
            price_source=r.price_source,
            ready=v.ready,
            critical_usable=v.critical_usable,
            missing=list(v.missing),
            bullish=v.bullish,
            bearish=v.bearish,
            layers=[ScalpingLayer.of(layer) for layer in v.layers],
        )


OrderBookResult = Annotated[
    OrderBookReport | InvalidInput | SymbolNotFound | ExchangeNotFound | CapabilityUnsupported | UpstreamUnavailable,
    strawberry.union("OrderBookResult", description="Order books with walls and imbalance, or why there are none."),
]
FlowResult = Annotated[
    FlowReport | InvalidInput | SymbolNotFound | ExchangeNotFound | CapabilityUnsupported,
    strawberry.union("FlowResult", description="Trade flow over the window, or why there is none."),
]
ScalpingResult = Annotated[
    ScalpingView | InvalidInput | SymbolNotFound,
    strawberry.union("ScalpingResult", description="The scalping view, or why there is none."),
]
SymbolArg = Annotated[
    str, strawberry.argument(description="A USDT perpetual in any usual spelling: BTC, BTCUSDT, btc-usdt.")
]


def _venues(venues: list[Venue] | None) -> list[str] | None:
    return None if venues is None else [v.value for v in venues]


@strawberry.type
class OrderFlowQuery:
    @strawberry.field(description="Whale walls and book imbalance of one symbol on several venues' order books.")
    async def order_book(
        self,
        info: Info[RequestContext, None],
        symbol: SymbolArg,
        venues: Annotated[
            list[VenueEnum] | None,  # type: ignore[valid-type]
            strawberry.argument(
                description="Venues to read, 1..6 (default binance, okx, bybit); one without order books answers "
                "CapabilityUnsupported."
            ),
        ] = None,
    ) -> OrderBookResult:
        result = await resolve_order_book(info.context, symbol, _venues(venues))
        return problem(result) if isinstance(result, Problem) else OrderBookReport.of(result)

    @strawberry.field(description="Large trades and cumulative volume delta of one symbol, per venue and merged.")
    async def flow(
        self,
        info: Info[RequestContext, None],
        symbol: SymbolArg,
        window: Annotated[
            FlowWindowEnum,  # type: ignore[valid-type]
            strawberry.argument(description="How far back: M5, M15, M30 or H1 (default)."),
        ] = FlowWindow.H1,
        venues: Annotated[
            list[VenueEnum] | None,  # type: ignore[valid-type]
            strawberry.argument(description="Venues whose trade streams to read, 1..6 (default binance, okx, bybit)."),
        ] = None,
    ) -> FlowResult:
        chosen = FlowWindow(window)
        result = await resolve_flow(info.context, symbol, chosen.duration, _venues(venues))
        return problem(result) if isinstance(result, Problem) else FlowReport.of(result, chosen)

    @strawberry.field(
        description="Scalping readiness of one symbol: RSI 1m/5m, volume delta, book, liquidations, funding, "
        "long/short, walls, fear & greed."
    )
    async def scalping(self, info: Info[RequestContext, None], symbol: SymbolArg) -> ScalpingResult:
        result = await resolve_scalping(info.context, symbol)
        return problem(result) if isinstance(result, Problem) else ScalpingView.of(result)
