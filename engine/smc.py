"""Smart Money Concepts on closed, oldest-first candles: causal by construction, one bar at a time.

Public API (stable; other modules import it):

- ``analyze_structure(candles, *, interval=None, swing_bars=2, liquidity_tolerance=0.001, nearest=3)
  -> StructureReading``: the whole reading for one timeframe.
- ``StructureTracker(interval, *, swing_bars=2, liquidity_tolerance=0.001, nearest=3)``: the same analysis
  fed candle by candle (``update(candle)``, then ``reading()``); ``analyze_structure`` is a loop over it.
- ``StructureReading``: ``structure`` (:class:`Structure`), ``events`` (:class:`StructureEvent`, oldest known
  first), ``fair_value_gaps``, ``order_blocks``, ``liquidity_zones``, ``last_bos``, ``last_choch``,
  ``nearest_unfilled_fvgs``, ``liquidity_above``, ``liquidity_below``, ``last_close``, ``as_of``, ``candles``.
- Enums :class:`Structure` (BULLISH, BEARISH, RANGING), :class:`EventKind` (SWING_HIGH, SWING_LOW, BOS,
  CHOCH), :class:`Direction` (BULLISH, BEARISH).

Definitions (the golden tests are written from these):

- Swing high at bar j: ``high[j]`` is >= the highs of the N bars before and > the highs of the N bars after
  (swing low mirrored). It is known only at the close of bar j+N: a swing never appears on its own bar,
  which is the look-ahead the best-known open-source SMC library has.
- BOS / CHoCH: the first close beyond the latest confirmed swing high (low). Against the prevailing
  structure it is a CHoCH (change of character), otherwise (with it, or with no structure yet) a BOS. Each
  swing level breaks at most once. The event's ``bar_time`` is the breaking bar, ``price`` the swing level.
- Fair value gap: three candles a, b, c with ``low[c] > high[a]`` (bullish: gap = [high[a], low[c]]) or
  ``high[c] < low[a]`` (bearish: gap = [high[c], low[a]]); ``bar_time`` is the open of b, ``known_at`` the
  close of c. Filled when a later bar trades through the whole gap (bullish: low <= bottom; bearish:
  high >= top).
- Order block: on each BOS/CHoCH, the last opposite-colour candle (bullish break: close < open) at or before
  the extreme (lowest low for a bullish break) between the broken swing and the breaking bar; zone =
  that candle's [low, high]. Mitigated when price later trades back into it, broken when a close goes past
  its far side.
- Liquidity zone: confirmed swing highs (lows) within ``liquidity_tolerance`` (relative) of the zone's first
  swing, two or more touches. Swept when a later bar trades beyond the tolerance band.
- Structure: the direction of the last BOS/CHoCH; RANGING before any break.

Causality: ``known_at`` is the close time (``open_time + interval``) of the bar that made a fact known.
Facts are appended, never edited; the only later changes are fill, mitigation, break, sweep and extra
touches, each stamped with its own time after the fact was known. Run candle by candle, a reading that has
been given is never rewritten (tests/test_smc_engine.py replays a real year of 4h BTC to prove it).
"""

from __future__ import annotations

import enum
import heapq
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from engine.market import Candle

DEFAULT_SWING_BARS = 2
DEFAULT_LIQUIDITY_TOLERANCE = 0.001  # 0.1 % of the zone's first swing price
DEFAULT_NEAREST = 3


class Structure(enum.Enum):
    """Prevailing market structure of one timeframe."""

    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    RANGING = "RANGING"


class EventKind(enum.Enum):
    SWING_HIGH = "SWING_HIGH"
    SWING_LOW = "SWING_LOW"
    BOS = "BOS"
    CHOCH = "CHOCH"


class Direction(enum.Enum):
    """BULLISH / BEARISH. A swing high is BEARISH (price turned down from it), a swing low BULLISH."""

    BULLISH = "BULLISH"
    BEARISH = "BEARISH"


@dataclass(frozen=True, slots=True)
class StructureEvent:
    """A swing, BOS or CHoCH. For BOS/CHoCH ``swing_time`` is the bar of the broken swing."""

    kind: EventKind
    direction: Direction
    price: float
    bar_time: datetime
    known_at: datetime
    swing_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class FairValueGap:
    direction: Direction
    top: float
    bottom: float
    bar_time: datetime  # open time of the middle candle
    known_at: datetime  # close time of the third candle
    filled_at: datetime | None = None

    @property
    def filled(self) -> bool:
        return self.filled_at is not None


@dataclass(frozen=True, slots=True)
class OrderBlock:
    direction: Direction
    top: float
    bottom: float
    bar_time: datetime  # the order-block candle
    known_at: datetime  # close of the breaking bar
    mitigated_at: datetime | None = None
    broken_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LiquidityTouch:
    price: float
    bar_time: datetime
    known_at: datetime


@dataclass(frozen=True, slots=True)
class LiquidityZone:
    """Equal highs (``side`` BEARISH: buy-side liquidity above) or equal lows (BULLISH: sell-side below)."""

    side: Direction
    level: float  # the first swing's price; the band is level * (1 ± tolerance)
    top: float
    bottom: float
    touches: tuple[LiquidityTouch, ...]
    known_at: datetime  # when the second touch became known
    swept_at: datetime | None = None

    @property
    def touch_count(self) -> int:
        return len(self.touches)

    @property
    def is_equal_highs(self) -> bool:
        return self.side is Direction.BEARISH


@dataclass(frozen=True, slots=True)
class StructureReading:
    structure: Structure
    events: tuple[StructureEvent, ...]
    fair_value_gaps: tuple[FairValueGap, ...]
    order_blocks: tuple[OrderBlock, ...]
    liquidity_zones: tuple[LiquidityZone, ...]
    last_bos: StructureEvent | None
    last_choch: StructureEvent | None
    nearest_unfilled_fvgs: tuple[FairValueGap, ...]
    liquidity_above: LiquidityZone | None
    liquidity_below: LiquidityZone | None
    last_close: float | None
    as_of: datetime | None  # close time of the last candle
    candles: int
    swing_bars: int


# --- mutable records behind the frozen readings -------------------------------------------------------------


@dataclass(slots=True)
class _Gap:
    direction: Direction
    top: float
    bottom: float
    bar_time: datetime
    known_at: datetime
    filled_at: datetime | None = None

    def freeze(self) -> FairValueGap:
        return FairValueGap(self.direction, self.top, self.bottom, self.bar_time, self.known_at, self.filled_at)


@dataclass(slots=True)
class _Block:
    direction: Direction
    top: float
    bottom: float
    bar_time: datetime
    known_at: datetime
    mitigated_at: datetime | None = None
    broken_at: datetime | None = None

    def freeze(self) -> OrderBlock:
        return OrderBlock(
            self.direction, self.top, self.bottom, self.bar_time, self.known_at, self.mitigated_at, self.broken_at
        )


@dataclass(slots=True)
class _Cluster:
    side: Direction
    level: float
    low_bound: float
    high_bound: float
    touches: list[LiquidityTouch] = field(default_factory=list)
    swept_at: datetime | None = None

    def freeze(self) -> LiquidityZone:
        prices = [t.price for t in self.touches]
        return LiquidityZone(
            self.side,
            self.level,
            max(prices),
            min(prices),
            tuple(self.touches),
            self.touches[1].known_at,
            self.swept_at,
        )


@dataclass(slots=True)
class _Swing:
    index: int
    price: float
    bar_time: datetime
    broken: bool = False


class StructureTracker:
    """The SMC state machine, one closed candle at a time; heaps keep each bar O(log n)."""

    def __init__(
        self,
        interval: timedelta,
        *,
        swing_bars: int = DEFAULT_SWING_BARS,
        liquidity_tolerance: float = DEFAULT_LIQUIDITY_TOLERANCE,
        nearest: int = DEFAULT_NEAREST,
    ) -> None:
        if swing_bars < 1:
            raise ValueError("swing_bars must be at least 1")
        if not 0.0 <= liquidity_tolerance < 0.5:
            raise ValueError("liquidity_tolerance must be in [0, 0.5)")
        if interval.total_seconds() <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.swing_bars = swing_bars
        self.tolerance = liquidity_tolerance
        self.nearest = max(0, nearest)
        self._candles: list[Candle] = []
        self._events: list[StructureEvent] = []
        self._gaps: list[_Gap] = []
        self._blocks: list[_Block] = []
        self._clusters: list[_Cluster] = []
        self._active_high_clusters: list[_Cluster] = []
        self._active_low_clusters: list[_Cluster] = []
        self._swing_high: _Swing | None = None
        self._swing_low: _Swing | None = None
        self._structure = Structure.RANGING
        self._last_bos: StructureEvent | None = None
        self._last_choch: StructureEvent | None = None
        # Heaps of still-open items keyed by the price that closes them (max-heaps store the negated key).
        self._open_bull_gaps: list[tuple[float, int]] = []  # -bottom: filled when low <= bottom
        self._open_bear_gaps: list[tuple[float, int]] = []  # top: filled when high >= top
        self._unmitigated_bull: list[tuple[float, int]] = []  # -top: mitigated when low <= top
        self._unmitigated_bear: list[tuple[float, int]] = []  # bottom: mitigated when high >= bottom
        self._unbroken_bull: list[tuple[float, int]] = []  # -bottom: broken when close < bottom
        self._unbroken_bear: list[tuple[float, int]] = []  # top: broken when close > top

    # --- feeding ----------------------------------------------------------------------------------------------

    def update(self, candle: Candle) -> None:
        """Add the next closed candle; it must open after the previous one."""
        if self._candles and candle.open_time <= self._candles[-1].open_time:
            raise ValueError("candles must be closed, oldest-first and strictly increasing in open_time")
        self._candles.append(candle)
        i = len(self._candles) - 1
        closed_at = candle.open_time + self.interval
        self._settle_open_items(candle, closed_at)
        self._check_breaks(i, candle, closed_at)
        self._detect_gap(i, closed_at)
        self._confirm_swing(i, closed_at)

    def extend(self, candles: Sequence[Candle]) -> None:
        for candle in candles:
            self.update(candle)

    def _settle_open_items(self, c: Candle, at: datetime) -> None:
        gaps, blocks = self._gaps, self._blocks
        while self._open_bull_gaps and c.low <= -self._open_bull_gaps[0][0]:
            gaps[heapq.heappop(self._open_bull_gaps)[1]].filled_at = at
        while self._open_bear_gaps and c.high >= self._open_bear_gaps[0][0]:
            gaps[heapq.heappop(self._open_bear_gaps)[1]].filled_at = at
        while self._unmitigated_bull and c.low <= -self._unmitigated_bull[0][0]:
            blocks[heapq.heappop(self._unmitigated_bull)[1]].mitigated_at = at
        while self._unmitigated_bear and c.high >= self._unmitigated_bear[0][0]:
            blocks[heapq.heappop(self._unmitigated_bear)[1]].mitigated_at = at
        while self._unbroken_bull and c.close < -self._unbroken_bull[0][0]:
            blocks[heapq.heappop(self._unbroken_bull)[1]].broken_at = at
        while self._unbroken_bear and c.close > self._unbroken_bear[0][0]:
            blocks[heapq.heappop(self._unbroken_bear)[1]].broken_at = at
        if self._active_high_clusters:
            kept = []
            for cluster in self._active_high_clusters:
                if c.high > cluster.high_bound:
                    cluster.swept_at = at
                else:
                    kept.append(cluster)
            self._active_high_clusters = kept
        if self._active_low_clusters:
            kept = []
            for cluster in self._active_low_clusters:
                if c.low < cluster.low_bound:
                    cluster.swept_at = at
                else:
                    kept.append(cluster)
            self._active_low_clusters = kept

    def _check_breaks(self, i: int, c: Candle, at: datetime) -> None:
        high, low = self._swing_high, self._swing_low
        if high is not None and not high.broken and c.close > high.price:
            high.broken = True
            self._break(Direction.BULLISH, high, i, c, at)
        if low is not None and not low.broken and c.close < low.price:
            low.broken = True
            self._break(Direction.BEARISH, low, i, c, at)

    def _break(self, direction: Direction, swing: _Swing, i: int, c: Candle, at: datetime) -> None:
        against = Structure.BEARISH if direction is Direction.BULLISH else Structure.BULLISH
        kind = EventKind.CHOCH if self._structure is against else EventKind.BOS
        event = StructureEvent(kind, direction, swing.price, c.open_time, at, swing.bar_time)
        self._events.append(event)
        if kind is EventKind.CHOCH:
            self._last_choch = event
        else:
            self._last_bos = event
        self._structure = Structure.BULLISH if direction is Direction.BULLISH else Structure.BEARISH
        self._order_block(direction, swing.index, i, at)

    def _order_block(self, direction: Direction, start: int, end: int, at: datetime) -> None:
        bars = self._candles
        bullish = direction is Direction.BULLISH
        extreme = start
        for k in range(start, end + 1):
            if (bars[k].low < bars[extreme].low) if bullish else (bars[k].high > bars[extreme].high):
                extreme = k
        chosen = extreme
        for k in range(extreme, start - 1, -1):
            if (bars[k].close < bars[k].open) if bullish else (bars[k].close > bars[k].open):
                chosen = k
                break
        bar = bars[chosen]
        index = len(self._blocks)
        self._blocks.append(_Block(direction, bar.high, bar.low, bar.open_time, at))
        if bullish:
            heapq.heappush(self._unmitigated_bull, (-bar.high, index))
            heapq.heappush(self._unbroken_bull, (-bar.low, index))
        else:
            heapq.heappush(self._unmitigated_bear, (bar.low, index))
            heapq.heappush(self._unbroken_bear, (bar.high, index))

    def _detect_gap(self, i: int, at: datetime) -> None:
        if i < 2:
            return
        a, b, c = self._candles[i - 2], self._candles[i - 1], self._candles[i]
        index = len(self._gaps)
        if c.low > a.high:
            self._gaps.append(_Gap(Direction.BULLISH, c.low, a.high, b.open_time, at))
            heapq.heappush(self._open_bull_gaps, (-a.high, index))
        elif c.high < a.low:
            self._gaps.append(_Gap(Direction.BEARISH, a.low, c.high, b.open_time, at))
            heapq.heappush(self._open_bear_gaps, (a.low, index))

    def _confirm_swing(self, i: int, at: datetime) -> None:
        n = self.swing_bars
        j = i - n
        if j < n:
            return
        bars = self._candles
        pivot = bars[j]
        if all(bars[k].high <= pivot.high for k in range(j - n, j)) and all(
            bars[k].high < pivot.high for k in range(j + 1, i + 1)
        ):
            self._swing_high = _Swing(j, pivot.high, pivot.open_time)
            self._events.append(
                StructureEvent(EventKind.SWING_HIGH, Direction.BEARISH, pivot.high, pivot.open_time, at)
            )
            self._touch(Direction.BEARISH, LiquidityTouch(pivot.high, pivot.open_time, at))
        if all(bars[k].low >= pivot.low for k in range(j - n, j)) and all(
            bars[k].low > pivot.low for k in range(j + 1, i + 1)
        ):
            self._swing_low = _Swing(j, pivot.low, pivot.open_time)
            self._events.append(StructureEvent(EventKind.SWING_LOW, Direction.BULLISH, pivot.low, pivot.open_time, at))
            self._touch(Direction.BULLISH, LiquidityTouch(pivot.low, pivot.open_time, at))

    def _touch(self, side: Direction, touch: LiquidityTouch) -> None:
        active = self._active_high_clusters if side is Direction.BEARISH else self._active_low_clusters
        best: _Cluster | None = None
        for cluster in active:
            if cluster.low_bound <= touch.price <= cluster.high_bound and (
                best is None or abs(touch.price - cluster.level) < abs(touch.price - best.level)
            ):
                best = cluster
        if best is not None:
            best.touches.append(touch)
            if len(best.touches) == 2:
                self._clusters.append(best)
            return
        level = touch.price
        active.append(_Cluster(side, level, level * (1 - self.tolerance), level * (1 + self.tolerance), [touch]))

    # --- reading ----------------------------------------------------------------------------------------------

    def reading(self) -> StructureReading:
        """Everything known at the close of the last candle fed."""
        gaps = tuple(g.freeze() for g in self._gaps)
        zones = tuple(c.freeze() for c in self._clusters)
        last = self._candles[-1] if self._candles else None
        close = last.close if last is not None else None
        nearest: tuple[FairValueGap, ...] = ()
        above = below = None
        if close is not None:
            unfilled = [g for g in gaps if g.filled_at is None]
            unfilled.sort(key=lambda g: (_distance(g.bottom, g.top, close), g.known_at))
            nearest = tuple(unfilled[: self.nearest])
            live = [z for z in zones if z.swept_at is None]
            above = min((z for z in live if z.bottom > close), key=lambda z: z.bottom - close, default=None)
            below = min((z for z in live if z.top < close), key=lambda z: close - z.top, default=None)
        return StructureReading(
            structure=self._structure,
            events=tuple(self._events),
            fair_value_gaps=gaps,
            order_blocks=tuple(b.freeze() for b in self._blocks),
            liquidity_zones=zones,
            last_bos=self._last_bos,
            last_choch=self._last_choch,
            nearest_unfilled_fvgs=nearest,
            liquidity_above=above,
            liquidity_below=below,
            last_close=close,
            as_of=last.open_time + self.interval if last is not None else None,
            candles=len(self._candles),
            swing_bars=self.swing_bars,
        )


def _distance(bottom: float, top: float, price: float) -> float:
    if bottom <= price <= top:
        return 0.0
    return bottom - price if price < bottom else price - top


def infer_interval(candles: Sequence[Candle]) -> timedelta | None:
    """The smallest positive spacing of consecutive open times, or ``None`` with fewer than two candles."""
    steps = [b.open_time - a.open_time for a, b in pairwise(candles)]
    positive = [s for s in steps if s.total_seconds() > 0]
    return min(positive) if positive else None


def analyze_structure(
    candles: Sequence[Candle],
    *,
    interval: timedelta | None = None,
    swing_bars: int = DEFAULT_SWING_BARS,
    liquidity_tolerance: float = DEFAULT_LIQUIDITY_TOLERANCE,
    nearest: int = DEFAULT_NEAREST,
) -> StructureReading:
    """The SMC reading of closed, oldest-first ``candles`` of one timeframe.

    Pass ``interval`` (the timeframe's duration): without it, it is inferred from the candle spacing, and
    ``known_at`` stamps are only as good as that guess.
    """
    step = interval if interval is not None else infer_interval(candles)
    if step is None:  # zero or one candle: nothing can be known yet
        close = candles[-1].close if candles else None
        return StructureReading(
            Structure.RANGING, (), (), (), (), None, None, (), None, None, close, None, len(candles), swing_bars
        )
    tracker = StructureTracker(step, swing_bars=swing_bars, liquidity_tolerance=liquidity_tolerance, nearest=nearest)
    tracker.extend(candles)
    return tracker.reading()
