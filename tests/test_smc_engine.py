"""engine/smc.py: golden cases written from the definitions, the bar-by-bar causality replay of a real year
of 4 h BTC, and a property test that appending candles never rewrites what was already known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market import Candle
from engine.smc import (
    Direction,
    EventKind,
    Structure,
    StructureReading,
    StructureTracker,
    analyze_structure,
)
from tests.conftest import shared_path

if TYPE_CHECKING:
    from collections.abc import Sequence

HOUR = timedelta(hours=1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def bars(*ohlc: tuple[float, float, float, float], step: timedelta = HOUR) -> list[Candle]:
    return [Candle(T0 + i * step, o, h, lo, c, 1.0) for i, (o, h, lo, c) in enumerate(ohlc)]


def hl(highs: Sequence[float], lows: Sequence[float]) -> list[Candle]:
    """Candles from highs and lows only; open and close at the mid (no breaks by close unless asked)."""
    return bars(*(((h + lo) / 2, h, lo, (h + lo) / 2) for h, lo in zip(highs, lows, strict=True)))


def at(i: int) -> datetime:
    return T0 + i * HOUR


def kinds(reading: StructureReading) -> list[tuple[EventKind, float, datetime]]:
    return [(e.kind, e.price, e.bar_time) for e in reading.events]


# --- golden cases ----------------------------------------------------------------------------------------------


def test_a_swing_is_known_only_n_bars_after_its_extreme() -> None:
    candles = hl([10, 11, 15, 12, 11, 10], [5, 6, 9, 8, 7, 6])
    before = analyze_structure(candles[:4], interval=HOUR)  # bar 2 is the high, only one bar after it so far
    assert [e for e in before.events if e.kind is EventKind.SWING_HIGH] == []
    reading = analyze_structure(candles[:5], interval=HOUR)
    [swing] = [e for e in reading.events if e.kind is EventKind.SWING_HIGH]
    assert (swing.price, swing.bar_time, swing.known_at) == (15, at(2), at(5))  # close of bar 4 = open + 1 h
    assert swing.direction is Direction.BEARISH
    assert reading.structure is Structure.RANGING  # nothing broken yet
    assert reading.as_of == at(5) and reading.candles == 5


def test_swing_bars_is_configurable_and_ties_go_to_the_later_bar() -> None:
    candles = hl([0.8, 1, 5, 5, 3, 2, 1, 0.5], [0.5, 0.5, 1, 1, 1, 1, 0.4, 0.2])
    [high] = [e for e in analyze_structure(candles, interval=HOUR).events if e.kind is EventKind.SWING_HIGH]
    assert high.bar_time == at(3)  # bar 2 is not above bar 3; bar 3 is >= the bars before it
    wide = analyze_structure(candles, interval=HOUR, swing_bars=3)
    [wide_high] = [e for e in wide.events if e.kind is EventKind.SWING_HIGH]
    assert (wide_high.bar_time, wide_high.known_at) == (at(3), at(7))


def test_bos_then_bos_then_choch_by_close_not_by_wick() -> None:
    candles = bars(
        (10, 11, 9, 10),  # 0
        (10, 12, 9.5, 11),  # 1
        (11, 14, 10, 13),  # 2: swing high 14
        (13, 13.5, 11, 12),  # 3
        (12, 12.5, 8, 9),  # 4: swing low 8 (bars 5, 6 above)
        (9, 13, 8.5, 12.5),  # 5: known swing high 14 (bars 3, 4 lower)
        (12.5, 14.5, 12, 13.9),  # 6: wick through 14, close below: no break; swing low 8 known
        (13.9, 16, 13.5, 15),  # 7: close 15 > 14 -> BOS up (structure was RANGING)
        (15, 17, 14.5, 16.5),  # 8
        (16.5, 16.8, 14, 15),  # 9: swing high 17 (bar 8) known at close of bar 10
        (15, 15.5, 13, 14),  # 10
        (14, 17.5, 13.8, 17.2),  # 11: close 17.2 > 17 -> BOS up again (with the structure)
        (17.2, 17.4, 11, 11.5),  # 12
        (11.5, 12, 7, 7.5),  # 13: close 7.5 < 8 (swing low of bar 4) -> CHoCH down
    )
    reading = analyze_structure(candles, interval=HOUR)
    breaks = [
        (e.kind, e.direction, e.price, e.bar_time, e.swing_time)
        for e in reading.events
        if e.kind
        in {
            EventKind.BOS,
            EventKind.CHOCH,
        }
    ]
    assert breaks == [
        (EventKind.BOS, Direction.BULLISH, 14, at(7), at(2)),
        (EventKind.BOS, Direction.BULLISH, 17, at(11), at(8)),
        (EventKind.CHOCH, Direction.BEARISH, 8, at(13), at(4)),
    ]
    assert reading.structure is Structure.BEARISH
    assert reading.last_choch is not None and reading.last_choch.known_at == at(14)
    assert reading.last_bos is not None and reading.last_bos.bar_time == at(11)
    # before bar 13 the structure was bullish, and a swing level breaks only once
    assert analyze_structure(candles[:13], interval=HOUR).structure is Structure.BULLISH


def test_order_block_is_the_last_down_candle_before_the_leg_that_broke() -> None:
    candles = bars(
        (10, 11, 9, 10),
        (10, 12, 9.5, 11),
        (11, 14, 10, 13),  # swing high 14
        (13, 13.5, 11, 11.5),
        (11.5, 12, 9, 9.5),  # down candle; the lowest low (9) of the leg
        (9.5, 12.5, 9.2, 12),
        (12, 14.2, 11.8, 14.1),  # close 14.1 > 14: BOS up
        (14.1, 14.5, 11.5, 12),  # low 11.5 <= 12 (OB top): mitigated
        (12, 12.2, 8.5, 8.8),  # close 8.8 < 9 (OB bottom): broken
    )
    reading = analyze_structure(candles, interval=HOUR)
    block, after = reading.order_blocks
    assert (block.direction, block.top, block.bottom, block.bar_time, block.known_at) == (
        Direction.BULLISH,
        12,
        9,
        at(4),
        at(7),
    )
    assert (block.mitigated_at, block.broken_at) == (at(8), at(9))
    # bar 8 also closed below the swing low of bar 4 (9): a CHoCH down, whose block is the last up candle at or
    # before the highest high since that swing (bar 7's 14.5): bar 6
    assert reading.last_choch is not None and reading.last_choch.bar_time == at(8)
    assert (after.direction, after.top, after.bottom, after.bar_time, after.known_at) == (
        Direction.BEARISH,
        14.2,
        11.8,
        at(6),
        at(9),
    )


def test_fair_value_gaps_middle_candle_time_and_fill_state() -> None:
    candles = bars(
        (10, 11, 9, 10.5),  # a: high 11
        (10.5, 15, 10.4, 14.5),  # b
        (14.5, 16, 13, 15.5),  # c: low 13 > 11 -> bullish gap [11, 13]
        (15.5, 15.8, 11.5, 12),  # into the gap, not through it
        (12, 12.2, 10.9, 11),  # low 10.9 <= 11: filled
    )
    partly = analyze_structure(candles[:4], interval=HOUR)
    [gap] = partly.fair_value_gaps
    assert (gap.direction, gap.bottom, gap.top, gap.bar_time, gap.known_at) == (Direction.BULLISH, 11, 13, at(1), at(3))
    assert not gap.filled and partly.nearest_unfilled_fvgs == (gap,)
    filled, later = analyze_structure(candles, interval=HOUR).fair_value_gaps
    assert filled.filled and filled.filled_at == at(5)
    # c and e leave one too: high(e) 12.2 < low(c) 13, a bearish gap on d
    assert (later.direction, later.top, later.bottom, later.bar_time, later.filled) == (
        Direction.BEARISH,
        13,
        12.2,
        at(3),
        False,
    )

    down = bars((20, 21, 19, 19.5), (19.5, 19.6, 15, 15.5), (15.5, 17, 14, 14.5), (14.5, 21.5, 14, 21))
    [bear] = analyze_structure(down, interval=HOUR).fair_value_gaps
    assert (bear.direction, bear.top, bear.bottom, bear.bar_time) == (Direction.BEARISH, 19, 17, at(1))
    assert bear.filled_at == at(4)  # high 21.5 >= top 19


def test_equal_highs_cluster_within_tolerance_with_touch_count_then_sweep() -> None:
    highs = [90, 95, 100, 96, 94, 97, 100.05, 96, 95, 99.99, 97, 96, 94, 100.5]
    lows = [h - 3 for h in highs]
    candles = hl(highs, lows)
    before_sweep = analyze_structure(candles[:11], interval=HOUR, liquidity_tolerance=0.001)
    [zone] = before_sweep.liquidity_zones
    assert zone.is_equal_highs and zone.touch_count == 2  # 100 (bar 2) and 100.05 (bar 6); 99.99 not yet known
    assert (zone.level, zone.top, zone.bottom) == (100, 100.05, 100)
    assert zone.known_at == at(9) and zone.swept_at is None
    assert before_sweep.liquidity_above == zone and before_sweep.liquidity_below is None
    swept = analyze_structure(candles, interval=HOUR, liquidity_tolerance=0.001)
    [done] = swept.liquidity_zones
    assert done.touch_count == 3 and done.swept_at == at(14)  # bar 9 (99.99) joined; 100.5 > 100.1 swept
    assert swept.liquidity_above is None
    tight = analyze_structure(candles[:11], interval=HOUR, liquidity_tolerance=0.0001)
    assert tight.liquidity_zones == ()  # 0.05 apart is outside 0.01 %


def test_input_rules() -> None:
    candles = hl([1, 2, 3], [0, 1, 2])
    with pytest.raises(ValueError, match="oldest-first"):
        analyze_structure(list(reversed(candles)), interval=HOUR)
    with pytest.raises(ValueError, match="swing_bars"):
        analyze_structure(candles, interval=HOUR, swing_bars=0)
    empty = analyze_structure([])
    assert empty.structure is Structure.RANGING and empty.candles == 0 and empty.as_of is None
    assert analyze_structure(candles).as_of == at(3)  # interval inferred from the spacing


# --- causality -------------------------------------------------------------------------------------------------


def assert_extends(earlier: StructureReading, later: StructureReading) -> int:
    """Every fact ``earlier`` gave is in ``later`` unchanged; the only allowed difference is a state change
    (fill, mitigation, break, sweep, extra touch) stamped after ``earlier.as_of``. Returns the violations."""
    cutoff = earlier.as_of
    rewritten = 0
    rewritten += earlier.events != later.events[: len(earlier.events)]

    def settled(before: datetime | None, after: datetime | None) -> bool:
        return before == after or (before is None and after is not None and cutoff is not None and after > cutoff)

    for old, new in zip(earlier.fair_value_gaps, later.fair_value_gaps, strict=False):
        same = (old.direction, old.top, old.bottom, old.bar_time, old.known_at)
        rewritten += same != (new.direction, new.top, new.bottom, new.bar_time, new.known_at)
        rewritten += not settled(old.filled_at, new.filled_at)
    rewritten += len(later.fair_value_gaps) < len(earlier.fair_value_gaps)
    for ob, nb in zip(earlier.order_blocks, later.order_blocks, strict=False):
        rewritten += (ob.direction, ob.top, ob.bottom, ob.bar_time, ob.known_at) != (
            nb.direction,
            nb.top,
            nb.bottom,
            nb.bar_time,
            nb.known_at,
        )
        rewritten += not settled(ob.mitigated_at, nb.mitigated_at) + (not settled(ob.broken_at, nb.broken_at))
    rewritten += len(later.order_blocks) < len(earlier.order_blocks)
    for oz, nz in zip(earlier.liquidity_zones, later.liquidity_zones, strict=False):
        rewritten += (oz.side, oz.level, oz.known_at) != (nz.side, nz.level, nz.known_at)
        rewritten += oz.touches != nz.touches[: len(oz.touches)]
        rewritten += any(cutoff is None or t.known_at <= cutoff for t in nz.touches[len(oz.touches) :])
        rewritten += not settled(oz.swept_at, nz.swept_at)
    rewritten += len(later.liquidity_zones) < len(earlier.liquidity_zones)
    for old_items, new_items in (
        (earlier.events, later.events),
        (earlier.fair_value_gaps, later.fair_value_gaps),
        (earlier.order_blocks, later.order_blocks),
        (earlier.liquidity_zones, later.liquidity_zones),
    ):
        # nothing new may claim to have been known by then
        rewritten += cutoff is not None and sum(x.known_at <= cutoff for x in new_items) != len(old_items)
    return rewritten


def history_candles() -> tuple[Candle, ...]:
    from providers.history_files import load_history

    return load_history(shared_path("fixtures", "history")).candles


def naive_centered_swings(candles: Sequence[Candle], n: int) -> set[datetime]:
    """The look-ahead the best-known open-source SMC library has: a swing high is the max of a window
    centred on the bar, over whatever bars exist, marked on the extreme bar itself."""
    swings = set()
    for j in range(len(candles)):
        window = candles[max(0, j - n) : j + n + 1]
        if candles[j].high == max(c.high for c in window):
            swings.add(candles[j].open_time)
    return swings


def test_bar_by_bar_replay_of_a_real_year_rewrites_nothing() -> None:
    candles = history_candles()
    assert len(candles) > 2000  # a year of 4 h bars
    tracker = StructureTracker(timedelta(hours=4))
    readings: list[StructureReading] = []
    for candle in candles:
        tracker.update(candle)
        readings.append(tracker.reading())
    final = readings[-1]
    assert len(final.events) > 500 and final.fair_value_gaps and final.order_blocks and final.liquidity_zones
    rewritten = sum(assert_extends(r, final) for r in readings[::5]) + sum(
        assert_extends(a, b) for a, b in pairwise(readings)
    )
    assert rewritten == 0
    # the batch function on a prefix is the tracker at that bar
    for cut in (30, 700, 1500):
        assert analyze_structure(candles[:cut], interval=timedelta(hours=4)) == readings[cut - 1]
    # and a centred-window detector on the same replay does rewrite settled readings
    naive_rewrites = 0
    previous: set[datetime] = set()
    for end in range(3, 400):
        current = naive_centered_swings(candles[:end], 2)
        naive_rewrites += len(previous - current)
        previous = current
    assert naive_rewrites > 10


def test_the_checker_catches_a_rewrite() -> None:
    candles = hl([10, 11, 15, 12, 11, 10, 9], [5, 6, 9, 8, 7, 6, 5])
    earlier = analyze_structure(candles[:6], interval=HOUR)
    later = analyze_structure(candles, interval=HOUR)
    assert assert_extends(earlier, later) == 0
    moved = StructureReading(**{**{f: getattr(later, f) for f in later.__dataclass_fields__}, "events": ()})
    assert assert_extends(earlier, moved) > 0


@st.composite
def candle_series(draw: st.DrawFn) -> list[Candle]:
    count = draw(st.integers(min_value=0, max_value=80))
    price = draw(st.floats(min_value=50, max_value=150))
    out = []
    for i in range(count):
        move = draw(st.floats(min_value=-0.05, max_value=0.05))
        close = max(1.0, price * (1 + move))
        up = draw(st.floats(min_value=0, max_value=0.03))
        down = draw(st.floats(min_value=0, max_value=0.03))
        # coarse prices make equal highs/lows (and so liquidity zones) common
        o, c = round(price, 0), round(close, 0)
        h, lo = round(max(o, c) * (1 + up), 0), round(min(o, c) * (1 - down), 0)
        out.append(Candle(T0 + i * HOUR, o, h, lo, c, 1.0))
        price = close
    return out


@settings(max_examples=200, deadline=None)
@given(series=candle_series(), cut=st.integers(min_value=0, max_value=80), swing_bars=st.integers(1, 3))
def test_appending_candles_never_changes_an_already_known_event(
    series: list[Candle], cut: int, swing_bars: int
) -> None:
    prefix = analyze_structure(series[:cut], interval=HOUR, swing_bars=swing_bars, liquidity_tolerance=0.002)
    full = analyze_structure(series, interval=HOUR, swing_bars=swing_bars, liquidity_tolerance=0.002)
    assert assert_extends(prefix, full) == 0
    for event in full.events:
        assert event.known_at >= event.bar_time + HOUR  # never known before its own bar closed
        if event.kind in {EventKind.SWING_HIGH, EventKind.SWING_LOW}:
            assert event.known_at == event.bar_time + (swing_bars + 1) * HOUR
