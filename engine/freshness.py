"""Staleness: a reading older than its input's maximum age is treated exactly like a missing one.

Max ages are data: a fixed allowance plus a multiple of the signal timeframe for inputs that are
sampled per period (candles, ratios, open-interest history). The observation time is the reading's
``observed_at``; when a provider left it ``None`` the engine falls back to the time carried inside the
value itself (last candle open, last OI point, funding/ratio/index time) so an old value cannot pass
as fresh just because nobody stamped it. Social scores carry their source's update time when it gives
one (CoinGecko's ``last_updated``); price and liquidation totals carry none and are only judged when stamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from engine.market import Candle, FearGreed, FundingRate, LongShortPoint, OpenInterestPoint, SocialSentiment
from engine.quality import InputName

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from engine.inputs import Reading
    from engine.market import Timeframe

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MaxAge:
    """``timeframes`` x the signal timeframe + ``extra``."""

    timeframes: int
    extra: timedelta

    def for_timeframe(self, timeframe: Timeframe) -> timedelta:
        return timeframe.duration * self.timeframes + self.extra


MAX_AGES: Mapping[InputName, MaxAge] = MappingProxyType(
    {
        InputName.PRICE: MaxAge(0, timedelta(minutes=10)),
        InputName.CANDLES: MaxAge(2, timedelta(minutes=5)),
        InputName.FUNDING: MaxAge(0, timedelta(hours=12)),
        InputName.GLOBAL_LONG_SHORT: MaxAge(3, timedelta(hours=1)),
        InputName.TOP_TRADER_POSITIONS: MaxAge(3, timedelta(hours=1)),
        InputName.OPEN_INTEREST: MaxAge(3, timedelta(hours=1)),
        InputName.LIQUIDATIONS: MaxAge(0, timedelta(hours=2)),
        InputName.SOCIAL: MaxAge(0, timedelta(hours=48)),
        InputName.FEAR_GREED: MaxAge(0, timedelta(hours=48)),
    }
)


def format_age(age: timedelta) -> str:
    """``8h05m``, ``48h``, ``10m``: short and unambiguous in an error message."""
    minutes = int(age.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours}h{minutes:02d}m"
    return f"{hours}h" if hours else f"{minutes}m"


def observed_time(reading: Reading[T]) -> datetime | None:
    if reading.observed_at is not None:
        return reading.observed_at
    value = reading.value
    if isinstance(value, tuple) and value:
        last = value[-1]
        if isinstance(last, Candle):
            return last.open_time
        if isinstance(last, OpenInterestPoint):
            return last.time
    if isinstance(value, FundingRate | LongShortPoint | FearGreed | SocialSentiment):
        return value.time
    return None


def stale_error(name: InputName, reading: Reading[T], as_of: datetime, timeframe: Timeframe) -> str | None:
    """The staleness error for an available reading, or ``None`` when it is fresh enough (or unstamped)."""
    if not reading.available:
        return None
    observed = observed_time(reading)
    if observed is None:
        return None
    max_age = MAX_AGES[name].for_timeframe(timeframe)
    if as_of - observed > max_age:
        return f"stale: observed {observed.isoformat()}, older than {format_age(max_age)}"
    return None
