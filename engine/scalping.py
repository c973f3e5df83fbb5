"""The scalping view of one symbol: nine layers, each with its value, source, verdict and freshness, and a
readiness rule that refuses to call a view ready on missing data.

Layers (``critical`` ones marked *): RSI on 1m closed candles*, RSI on 5m closed candles, volume delta*
(taker buys minus sells over the last minutes, from the trade streams), book imbalance within 0.5 % of
mid*, recent liquidations* (the last hour, from the liquidation stream), funding*, the accounts' long/short
ratio, whale walls near the price, and fear & greed.

**Ready** only when at least :data:`MIN_CRITICAL` of the five critical layers are present *and* fresh; the
view lists every critical layer that is not, with the reason. A missing layer has no value and no verdict:
it is never read as neutral. A stale layer keeps its value (so a client can see it) but does not count.

Verdicts are short-horizon readings, each rule written here once (the thresholds are the constants below):
RSI above 70 is overbought (BEARISH), below 30 oversold (BULLISH); a volume delta beyond +-10 % of the
volume is the side that is aggressing; book imbalance beyond +-0.2 is the side with more resting size;
liquidations are read contrarian to the side being flushed (65 % or more longs liquidated: BEARISH
pressure, 35 % or less: BULLISH); funding beyond +-0.05 % per 8 h is a crowded side (positive: longs
crowded, BEARISH); 60 % or more accounts long is crowded (BEARISH), 40 % or less BULLISH; a wall within
0.5 % is support (bid: BULLISH) or resistance (ask: BEARISH), the larger notional deciding; fear & greed
is contrarian (25 or less BULLISH, 75 or more BEARISH). Anything between is NEUTRAL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from engine.freshness import format_age
from engine.indicators import rsi_wilder
from engine.orderbook import BookSide, nearest_walls

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from engine.flow import VolumeDelta
    from engine.inputs import Reading
    from engine.market import Candle, FearGreed, FundingRate, LiquidationTotals, LongShortPoint
    from engine.orderbook import BookAnalysis

T = TypeVar("T")

RSI_PERIOD = 14
MIN_CRITICAL = 4
WALL_NEAR_PCT = 0.5
IMBALANCE_BAND_PCT = 0.5


class LayerName(enum.Enum):
    RSI_1M = "RSI_1M"
    RSI_5M = "RSI_5M"
    VOLUME_DELTA = "VOLUME_DELTA"
    BOOK_IMBALANCE = "BOOK_IMBALANCE"
    LIQUIDATIONS = "LIQUIDATIONS"
    FUNDING = "FUNDING"
    LONG_SHORT = "LONG_SHORT"
    WHALE_WALLS = "WHALE_WALLS"
    FEAR_GREED = "FEAR_GREED"


CRITICAL = frozenset(
    {LayerName.RSI_1M, LayerName.VOLUME_DELTA, LayerName.BOOK_IMBALANCE, LayerName.LIQUIDATIONS, LayerName.FUNDING}
)

# How old a layer's observation may be and still count: minutes-scale data for a minutes-scale view.
MAX_AGE: dict[LayerName, timedelta] = {
    LayerName.RSI_1M: timedelta(minutes=3),
    LayerName.RSI_5M: timedelta(minutes=10),
    LayerName.VOLUME_DELTA: timedelta(minutes=2),
    LayerName.BOOK_IMBALANCE: timedelta(seconds=60),
    LayerName.LIQUIDATIONS: timedelta(minutes=5),
    LayerName.FUNDING: timedelta(minutes=15),
    LayerName.LONG_SHORT: timedelta(minutes=35),  # a 15m-period point is stamped at its period
    LayerName.WHALE_WALLS: timedelta(seconds=60),
    LayerName.FEAR_GREED: timedelta(hours=48),
}


class Verdict(enum.Enum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


@dataclass(frozen=True, slots=True)
class Layer:
    name: LayerName
    critical: bool
    value: float | None  # None: missing
    verdict: Verdict | None  # None: missing
    detail: str  # what the value is, or why it is missing
    source: str | None
    observed_at: datetime | None
    fresh: bool
    error: str | None = None  # why missing, or why stale
    failed: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        return self.value is not None

    @property
    def usable(self) -> bool:
        return self.present and self.fresh


@dataclass(frozen=True, slots=True)
class ScalpingInputs:
    symbol: str
    as_of: datetime
    candles_1m: Reading[tuple[Candle, ...]]  # closed bars, oldest first
    candles_5m: Reading[tuple[Candle, ...]]
    volume_delta: Reading[VolumeDelta]  # over the delta window ending now (observed_at = its end)
    book: Reading[BookAnalysis]
    liquidations: Reading[LiquidationTotals]
    funding: Reading[FundingRate]
    long_short: Reading[LongShortPoint]
    fear_greed: Reading[FearGreed]


@dataclass(frozen=True, slots=True)
class ScalpingView:
    symbol: str
    as_of: datetime
    layers: tuple[Layer, ...]
    ready: bool
    critical_usable: int
    missing: tuple[str, ...]  # each critical layer that does not count, "NAME: reason"
    bullish: int  # usable layers with a BULLISH verdict
    bearish: int

    def layer(self, name: LayerName) -> Layer:
        return next(layer for layer in self.layers if layer.name is name)


def _band(value: float, low: float, high: float, *, above: Verdict, below: Verdict) -> Verdict:
    if value >= high:
        return above
    if value <= low:
        return below
    return Verdict.NEUTRAL


def _layer(
    name: LayerName,
    reading: Reading[T],
    as_of: datetime,
    read: Callable[[T], tuple[float, Verdict, str]],
    observed: Callable[[T], datetime | None] = lambda _: None,
) -> Layer:
    critical = name in CRITICAL
    if reading.value is None:
        error = reading.error or "no source answered"
        return Layer(name, critical, None, None, error, reading.source, None, False, error, reading.failed)
    try:
        value, verdict, detail = read(reading.value)
    except ValueError as exc:  # too few candles for the indicator, and the like
        error = str(exc)
        return Layer(name, critical, None, None, error, reading.source, None, False, error, reading.failed)
    at = reading.observed_at or observed(reading.value)
    stale = _staleness(at, as_of, MAX_AGE[name])
    return Layer(name, critical, value, verdict, detail, reading.source, at, stale is None, stale, reading.failed)


def _staleness(at: datetime | None, as_of: datetime, max_age: timedelta) -> str | None:
    """Why an observation at ``at`` does not count as fresh at ``as_of``, or None when it does."""
    if at is None:
        return "the source gives no observation time"
    if as_of - at > max_age:
        return f"stale: observed {at.isoformat()}, older than {format_age(max_age)}"
    if at - as_of > max_age:
        return f"observed {at.isoformat()}, ahead of the clock by more than {format_age(max_age)}"
    return None


def _rsi(interval: str) -> Callable[[tuple[Candle, ...]], tuple[float, Verdict, str]]:
    def read(candles: tuple[Candle, ...]) -> tuple[float, Verdict, str]:
        value = rsi_wilder([c.close for c in candles], RSI_PERIOD)
        verdict = _band(value, 30.0, 70.0, above=Verdict.BEARISH, below=Verdict.BULLISH)
        return value, verdict, f"RSI({RSI_PERIOD}) on {len(candles)} closed {interval} candles"

    return read


def _candle_close(interval: timedelta) -> Callable[[tuple[Candle, ...]], datetime | None]:
    return lambda candles: candles[-1].open_time + interval if candles else None


def _delta(d: VolumeDelta) -> tuple[float, Verdict, str]:
    pct = d.delta_pct
    if pct is None:
        return 0.0, Verdict.NEUTRAL, "no trade in the window: delta 0"
    verdict = _band(pct, -10.0, 10.0, above=Verdict.BULLISH, below=Verdict.BEARISH)
    return d.delta_usd, verdict, f"taker buys {d.buy_usd:,.0f} - sells {d.sell_usd:,.0f} USD = {pct:+.1f} % of volume"


def _imbalance(book: BookAnalysis) -> tuple[float, Verdict, str]:
    found = book.imbalance(IMBALANCE_BAND_PCT)
    if found is None or found.ratio is None:
        raise ValueError(f"no level within {IMBALANCE_BAND_PCT} % of mid")
    verdict = _band(found.ratio, -0.2, 0.2, above=Verdict.BULLISH, below=Verdict.BEARISH)
    reach = "" if found.complete else f" (the book sent reaches only {book.reach_pct:.3f} %)"
    detail = f"bids {found.bid_usd:,.0f} vs asks {found.ask_usd:,.0f} USD within {IMBALANCE_BAND_PCT} %{reach}"
    return found.ratio, verdict, detail


def _liquidations(totals: LiquidationTotals) -> tuple[float, Verdict, str]:
    share = totals.long_share_pct
    total = totals.long_usd + totals.short_usd
    hours = totals.window.total_seconds() / 3600
    if share is None:
        return 0.0, Verdict.NEUTRAL, f"no liquidation in the last {hours:g} h"
    verdict = _band(share, 35.0, 65.0, above=Verdict.BEARISH, below=Verdict.BULLISH)
    return total, verdict, f"{total:,.0f} USD liquidated in {hours:g} h, {share:.0f} % longs"


def _funding(rate: FundingRate) -> tuple[float, Verdict, str]:
    pct = rate.percent_8h
    verdict = _band(pct, -0.05, 0.05, above=Verdict.BEARISH, below=Verdict.BULLISH)
    return pct, verdict, f"{pct:+.4f} % per 8 h (longs pay when positive)"


def _long_short(point: LongShortPoint) -> tuple[float, Verdict, str]:
    verdict = _band(point.long_pct, 40.0, 60.0, above=Verdict.BEARISH, below=Verdict.BULLISH)
    return point.long_pct, verdict, f"{point.long_pct:.1f} % of accounts long (ratio {point.long_short_ratio:.2f})"


def _walls(book: BookAnalysis) -> tuple[float, Verdict, str]:
    near = nearest_walls(book, WALL_NEAR_PCT)
    bid = sum(w.notional_usd for w in near if w.side is BookSide.BID)
    ask = sum(w.notional_usd for w in near if w.side is BookSide.ASK)
    if not near:
        return 0.0, Verdict.NEUTRAL, f"no wall within {WALL_NEAR_PCT} % of mid"
    verdict = Verdict.BULLISH if bid > ask else Verdict.BEARISH if ask > bid else Verdict.NEUTRAL
    nearest = near[0]
    detail = (
        f"{len(near)} wall(s) within {WALL_NEAR_PCT} %: bids {bid:,.0f}, asks {ask:,.0f} USD; nearest "
        f"{nearest.side.value} {nearest.price:g} ({nearest.distance_pct:.2f} %)"
    )
    return float(len(near)), verdict, detail


def _fear_greed(index: FearGreed) -> tuple[float, Verdict, str]:
    verdict = _band(index.value, 25.0, 75.0, above=Verdict.BEARISH, below=Verdict.BULLISH)
    return index.value, verdict, f"{index.value:.0f} ({index.classification})"


def scalping_view(inputs: ScalpingInputs) -> ScalpingView:
    """Every layer read and judged; ready when enough critical layers are present and fresh."""
    now = inputs.as_of
    layers = (
        _layer(LayerName.RSI_1M, inputs.candles_1m, now, _rsi("1m"), _candle_close(timedelta(minutes=1))),
        _layer(LayerName.RSI_5M, inputs.candles_5m, now, _rsi("5m"), _candle_close(timedelta(minutes=5))),
        _layer(LayerName.VOLUME_DELTA, inputs.volume_delta, now, _delta),
        _layer(LayerName.BOOK_IMBALANCE, inputs.book, now, _imbalance, lambda b: b.time),
        _layer(LayerName.LIQUIDATIONS, inputs.liquidations, now, _liquidations),
        _layer(LayerName.FUNDING, inputs.funding, now, _funding, lambda f: f.time),
        _layer(LayerName.LONG_SHORT, inputs.long_short, now, _long_short, lambda p: p.time),
        _layer(LayerName.WHALE_WALLS, inputs.book, now, _walls, lambda b: b.time),
        _layer(LayerName.FEAR_GREED, inputs.fear_greed, now, _fear_greed, lambda f: f.time),
    )
    critical = [layer for layer in layers if layer.critical]
    usable = sum(1 for layer in critical if layer.usable)
    missing = tuple(f"{layer.name.value}: {layer.error}" for layer in critical if not layer.usable)
    counted = [layer for layer in layers if layer.usable]
    return ScalpingView(
        symbol=inputs.symbol,
        as_of=now,
        layers=layers,
        ready=usable >= MIN_CRITICAL,
        critical_usable=usable,
        missing=missing,
        bullish=sum(1 for layer in counted if layer.verdict is Verdict.BULLISH),
        bearish=sum(1 for layer in counted if layer.verdict is Verdict.BEARISH),
    )
