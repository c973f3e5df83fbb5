"""Trade flow: large trades and cumulative volume delta (CVD) over a window, per venue and merged.

Pure functions over :class:`engine.market.Trade` events (the aggressor's side and the venue's event time):

- *Volume delta* over ``(start, end]``: USD(T) bought by takers minus USD(T) sold by takers. Taker buys lift
  the ask, so a positive delta means buyers paid the spread: aggressive demand.
- *CVD path*: the running delta at the end of each step of the window, so a client can draw it.
- *Large trades*: trades of at least ``threshold_usd`` notional (default $100k, ``LARGE_TRADE_THRESHOLD_USD``),
  newest first.

Nothing here knows whether a stream covered the window: the caller (``resolvers.flow``) says so, and a venue
whose stream did not cover it is reported missing, never as a zero delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime, timedelta

    from engine.market import Trade

DEFAULT_LARGE_TRADE_USD = 100_000.0


@dataclass(frozen=True, slots=True)
class VolumeDelta:
    buy_usd: float
    sell_usd: float
    trades: int

    @property
    def delta_usd(self) -> float:
        return self.buy_usd - self.sell_usd

    @property
    def total_usd(self) -> float:
        return self.buy_usd + self.sell_usd

    @property
    def delta_pct(self) -> float | None:
        """The delta as a share of all volume, percent (-100..100); None when nothing traded."""
        total = self.total_usd
        return self.delta_usd / total * 100.0 if total > 0 else None

    @classmethod
    def merge(cls, deltas: Iterable[VolumeDelta]) -> VolumeDelta:
        buy = sell = 0.0
        count = 0
        for d in deltas:
            buy += d.buy_usd
            sell += d.sell_usd
            count += d.trades
        return cls(buy, sell, count)


def _is_buy(trade: Trade) -> bool:
    return trade.taker_side.upper() == "BUY"


def _within(trades: Iterable[Trade], start: datetime, end: datetime) -> list[Trade]:
    return [t for t in trades if start < t.time <= end]


def volume_delta(trades: Iterable[Trade], start: datetime, end: datetime) -> VolumeDelta:
    """Taker-buy and taker-sell notional of the trades with event time in ``(start, end]``."""
    buy = sell = 0.0
    count = 0
    for t in _within(trades, start, end):
        count += 1
        if _is_buy(t):
            buy += t.usd
        else:
            sell += t.usd
    return VolumeDelta(buy, sell, count)


def cvd_path(
    trades: Sequence[Trade], start: datetime, end: datetime, step: timedelta
) -> tuple[tuple[datetime, float], ...]:
    """``(step end, cumulative delta USD since start)`` for each step of ``(start, end]``; the last point is
    the window's whole delta. Trades need not be sorted."""
    if step.total_seconds() <= 0:
        raise ValueError("step must be positive")
    ordered = sorted(_within(trades, start, end), key=lambda t: t.time)
    points: list[tuple[datetime, float]] = []
    running = 0.0
    index = 0
    edge = start + step
    while True:
        edge = min(edge, end)
        while index < len(ordered) and ordered[index].time <= edge:
            trade = ordered[index]
            running += trade.usd if _is_buy(trade) else -trade.usd
            index += 1
        points.append((edge, running))
        if edge >= end:
            return tuple(points)
        edge += step


def large_trades(
    trades: Iterable[Trade], start: datetime, end: datetime, threshold_usd: float = DEFAULT_LARGE_TRADE_USD
) -> tuple[Trade, ...]:
    """Trades in ``(start, end]`` of at least ``threshold_usd`` notional, newest first."""
    found = [t for t in _within(trades, start, end) if t.usd >= threshold_usd]
    found.sort(key=lambda t: t.time, reverse=True)
    return tuple(found)
