"""LiquidationWindow arithmetic with hand-built events and an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.market import Liquidation, PositionSide
from resolvers.broker import InProcessBroker
from resolvers.liquidation_window import LiquidationWindow

T0 = datetime(2025, 7, 11, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def liq(symbol: str, side: PositionSide, usd: float, at: datetime) -> Liquidation:
    return Liquidation("binance", symbol, side, price=100.0, size=usd / 100.0, time=at, received_at=at)


def test_totals_per_window_and_side() -> None:
    clock = Clock()
    window = LiquidationWindow(clock)
    clock.now = T0 + 30 * H
    now = clock.now
    window.add(liq("BTCUSDT", PositionSide.LONG, 1_000, now - timedelta(minutes=10)))
    window.add(liq("BTCUSDT", PositionSide.SHORT, 2_000, now - timedelta(minutes=50)))
    window.add(liq("BTCUSDT", PositionSide.LONG, 4_000, now - 2 * H))
    window.add(liq("BTCUSDT", PositionSide.SHORT, 8_000, now - 5 * H))
    window.add(liq("BTCUSDT", PositionSide.LONG, 16_000, now - 23 * H))
    window.add(liq("BTCUSDT", PositionSide.LONG, 32_000, now - 25 * H))  # outside 24 h: ignored
    window.add(liq("ETHUSDT", PositionSide.SHORT, 64_000, now - timedelta(minutes=1)))

    one, four, day = (window.totals("BTCUSDT", w) for w in (H, 4 * H, 24 * H))
    assert (one.long_usd, one.short_usd) == pytest.approx((1_000, 2_000))
    assert (four.long_usd, four.short_usd) == pytest.approx((5_000, 2_000))
    assert (day.long_usd, day.short_usd) == pytest.approx((21_000, 10_000))
    assert day.window == 24 * H
    assert one.long_share_pct == pytest.approx(100 / 3)
    assert window.totals("ETHUSDT", H).short_usd == pytest.approx(64_000)
    assert window.totals("SOLUSDT", H).long_share_pct is None


def test_prunes_older_than_24h_and_reports_coverage() -> None:
    clock = Clock()
    window = LiquidationWindow(clock)
    assert window.coverage == timedelta(0)
    window.start()
    for minute in range(0, 48 * 60, 10):
        clock.now = T0 + timedelta(minutes=minute)
        window.add(liq("BTCUSDT", PositionSide.LONG, 100, clock.now))
    assert window.coverage == timedelta(minutes=48 * 60 - 10)
    assert window.event_count("BTCUSDT") == 24 * 6  # only the last 24 h are kept
    clock.now += 25 * H
    window.prune_all()
    assert window.event_count() == 0 and window.symbols == []
    with pytest.raises(ValueError):
        window.totals("BTCUSDT", 25 * H)


def test_hard_cap_per_symbol() -> None:
    clock = Clock()
    window = LiquidationWindow(clock, max_events_per_symbol=5)
    for i in range(10):
        window.add(liq("BTCUSDT", PositionSide.SHORT, 10, T0 - timedelta(seconds=10 - i)))
    assert window.event_count("BTCUSDT") == 5
    assert window.totals("BTCUSDT", H).short_usd == pytest.approx(50)


async def test_fed_by_broker_subscription() -> None:
    clock = Clock()
    broker = InProcessBroker()
    window = LiquidationWindow(clock)
    subscription = broker.subscribe("liquidations:binance:*")
    import asyncio

    task = asyncio.ensure_future(window.run(subscription))
    await asyncio.sleep(0)
    broker.publish("liquidations:binance:*", liq("BTCUSDT", PositionSide.LONG, 7_000, T0 - timedelta(seconds=5)))
    broker.publish("liquidations:binance:BTCUSDT", liq("BTCUSDT", PositionSide.SHORT, 3_000, T0))
    broker.publish("liquidations:binance:BTCUSDT", "not a liquidation")
    await asyncio.sleep(0)
    subscription.close()
    await asyncio.wait_for(task, 1)
    totals = window.totals("BTCUSDT", H)
    assert (totals.long_usd, totals.short_usd) == pytest.approx((7_000, 3_000))
