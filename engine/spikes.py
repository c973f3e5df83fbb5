"""Open-interest and volume spikes: z-scores of a symbol's change over 5m, 15m and 1h against its own history.

Pure (no I/O, no clock): the caller feeds samples with their times. Each (venue, symbol) keeps one bounded
ring of 5-minute slots (:data:`SLOT`) holding the latest open interest (USD), rolling 24 h volume (coins) and
last price seen in that slot, enough for :data:`WINDOWS` past windows of the longest horizon (13 h).

For a horizon of ``m`` slots the reading is ``x = V(now) − V(now − m)``; its history is the same change over
the :data:`WINDOWS` earlier, non-overlapping windows ending ``m``, ``2m``, … slots before now, and
``z = (x − mean) / stdev`` (sample standard deviation). A z-score needs at least :data:`MIN_WINDOWS` complete
windows (both ends sampled); otherwise the reading says how many it has. A flat history (stdev 0) gives no z.
A slot holds its last sample, so the current change runs from the last sample of slot ``now − m`` to the
latest sample: early in a slot it spans less than ``m`` slots (a burst is under-read, never inflated).

Volume: venues publish a rolling 24 h volume on their all-symbol tickers, not per-5-minute volume, so
``x`` for volume is the change of that rolling sum: the volume traded in the last window minus the volume of
the same window 24 h earlier. A burst of trading shows as a large positive change; the 24 h-old window that
drops out is the baseline. The change is measured in coins (the base volume every venue reports exactly) and
valued in USD at the latest price: a quote volume that is an estimate of coins x last price (OKX swaps)
would move with every price tick, so a 1 % move of a $10 B/day market would read as $100 M of new volume.
Only positive volume spikes count (a negative change is yesterday's burst leaving the window). Open-interest
spikes count both ways (a build-up or a flush).
"""

from __future__ import annotations

import enum
import math
import statistics
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

SLOT = timedelta(minutes=5)
WINDOWS = 12  # past windows a z-score is measured against
MIN_WINDOWS = 6  # fewer complete windows: no z-score yet


class SpikeMetric(enum.Enum):
    OPEN_INTEREST = "OPEN_INTEREST"  # USD notional
    QUOTE_VOLUME = "QUOTE_VOLUME"  # rolling 24 h volume: recorded in coins, changes valued in USD at the last price


class Horizon(enum.Enum):
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"

    @property
    def slots(self) -> int:
        return _HORIZON_SLOTS[self]

    @property
    def threshold(self) -> float:
        """The z-score from which a change counts as a spike at this horizon (the issue's 3.0, 2.5, 2.0)."""
        return _THRESHOLDS[self]


_HORIZON_SLOTS = {Horizon.M5: 1, Horizon.M15: 3, Horizon.H1: 12}
_THRESHOLDS = {Horizon.M5: 3.0, Horizon.M15: 2.5, Horizon.H1: 2.0}
CAPACITY = (WINDOWS + 1) * _HORIZON_SLOTS[Horizon.H1] + 4  # slots kept per symbol (~13 h of 5 min)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def slot_of(time: datetime) -> int:
    return int((time - _EPOCH) / SLOT)


@dataclass(frozen=True, slots=True)
class ZScore:
    """``value`` is the change over the horizon now; ``mean``/``stdev`` those of the past windows."""

    value: float
    mean: float
    stdev: float
    z: float
    windows: int


def zscore(current: float, history: Iterable[float]) -> ZScore | None:
    """The z-score of ``current`` against ``history`` (sample stdev); ``None`` for fewer than
    :data:`MIN_WINDOWS` points or a flat history."""
    past = list(history)
    if len(past) < MIN_WINDOWS:
        return None
    mean = statistics.fmean(past)
    stdev = statistics.stdev(past)
    if stdev == 0 or not math.isfinite(stdev):
        return None
    return ZScore(value=current, mean=mean, stdev=stdev, z=(current - mean) / stdev, windows=len(past))


class SlotRing:
    """One symbol's samples by 5-minute slot: float arrays indexed ``slot % CAPACITY`` (NaN = unsampled),
    so memory is fixed (~5 KB) whatever the sampling rate. ``QUOTE_VOLUME`` is recorded in coins with the
    slot's last ``price``; its readings are in USD at the latest slot's price."""

    __slots__ = ("_prices", "_slots", "_values", "latest")

    def __init__(self) -> None:
        self._slots = array("q", [-1]) * CAPACITY
        self._values = {m: array("d", [math.nan]) * CAPACITY for m in SpikeMetric}
        self._prices = array("d", [math.nan]) * CAPACITY
        self.latest = -1

    def record(self, slot: int, values: Mapping[SpikeMetric, float | None], price: float | None = None) -> None:
        """The latest sample of a slot wins; a sample older than the ring is ignored."""
        if slot <= self.latest - CAPACITY:
            return
        index = slot % CAPACITY
        if self._slots[index] != slot:
            self._slots[index] = slot
            for metric in SpikeMetric:
                self._values[metric][index] = math.nan
            self._prices[index] = math.nan
        for metric, value in values.items():
            if value is not None and math.isfinite(value):
                self._values[metric][index] = value
        if price is not None and math.isfinite(price) and price > 0:
            self._prices[index] = price
        self.latest = max(self.latest, slot)

    def price(self, slot: int) -> float | None:
        index = slot % CAPACITY
        if self._slots[index] != slot or math.isnan(self._prices[index]):
            return None
        return self._prices[index]

    def value(self, metric: SpikeMetric, slot: int) -> float | None:
        index = slot % CAPACITY
        if self._slots[index] != slot:
            return None
        value = self._values[metric][index]
        return None if math.isnan(value) else value

    def change(self, metric: SpikeMetric, end: int, slots: int) -> float | None:
        """``V(end) − V(end − slots)``, or ``None`` when either end is unsampled."""
        last, first = self.value(metric, end), self.value(metric, end - slots)
        return None if last is None or first is None else last - first

    def reading(self, metric: SpikeMetric, horizon: Horizon) -> tuple[ZScore | None, int]:
        """The z-score of the latest slot's change over ``horizon`` and the complete past windows found."""
        if self.latest < 0:
            return None, 0
        current = self.change(metric, self.latest, horizon.slots)
        past = [
            c
            for j in range(1, WINDOWS + 1)
            if (c := self.change(metric, self.latest - j * horizon.slots, horizon.slots)) is not None
        ]
        if current is None:
            return None, len(past)
        score = zscore(current, past)
        if score is None or metric is not SpikeMetric.QUOTE_VOLUME:
            return score, len(past)
        price = self.price(self.latest)  # coins -> USD at the latest price (z is unchanged by the scale)
        if price is None:
            return None, len(past)
        return ZScore(score.value * price, score.mean * price, score.stdev * price, score.z, score.windows), len(past)


@dataclass(frozen=True, slots=True)
class Spike:
    venue: str
    symbol: str
    metric: SpikeMetric
    horizon: Horizon
    score: ZScore
    threshold: float


def is_spike(metric: SpikeMetric, z: float, threshold: float) -> bool:
    """Volume counts upward only; open interest both ways."""
    return z >= threshold if metric is SpikeMetric.QUOTE_VOLUME else abs(z) >= threshold


class SpikeHistory:
    """Every (venue, symbol)'s ring; ``record`` a scan's values, ``spikes`` the readings over a threshold."""

    def __init__(self) -> None:
        self._rings: dict[tuple[str, str], SlotRing] = {}
        self.first_sample: datetime | None = None
        self.last_sample: datetime | None = None

    def __len__(self) -> int:
        return len(self._rings)

    def record(
        self,
        venue: str,
        time: datetime,
        values: Mapping[str, Mapping[SpikeMetric, float | None]],
        prices: Mapping[str, float] | None = None,
    ) -> None:
        """One venue's scan at ``time``: symbol → metric → value (``None`` where the venue gave none; volume in
        coins) and symbol → last price (what values a volume change in USD)."""
        slot = slot_of(time)
        for symbol, by_metric in values.items():
            ring = self._rings.get((venue, symbol))
            if ring is None:
                ring = self._rings[(venue, symbol)] = SlotRing()
            ring.record(slot, by_metric, prices.get(symbol) if prices is not None else None)
        if self.first_sample is None or time < self.first_sample:
            self.first_sample = time
        if self.last_sample is None or time > self.last_sample:
            self.last_sample = time

    def ring(self, venue: str, symbol: str) -> SlotRing | None:
        return self._rings.get((venue, symbol))

    def spikes(self, thresholds: Mapping[Horizon, float] | None = None) -> list[Spike]:
        """Every reading at or over its horizon's threshold (default: 3.0, 2.5, 2.0), strongest first.

        Only rings sampled in the slot of the latest sample count: a venue that failed this round, or a
        symbol it no longer lists, keeps its old ring, whose last change would otherwise be reported again
        as if it were happening now."""
        limits = thresholds or {h: h.threshold for h in Horizon}
        found: list[Spike] = []
        if self.last_sample is None:
            return found
        current = slot_of(self.last_sample)
        for (venue, symbol), ring in self._rings.items():
            if ring.latest != current:
                continue
            for metric in SpikeMetric:
                for horizon, threshold in limits.items():
                    score, _ = ring.reading(metric, horizon)
                    if score is not None and is_spike(metric, score.z, threshold):
                        found.append(Spike(venue, symbol, metric, horizon, score, threshold))
        found.sort(key=lambda s: (-abs(s.score.z), s.symbol, s.venue, s.metric.value, s.horizon.value))
        return found

    def windows_available(self, horizon: Horizon) -> int:
        """How many complete past windows of ``horizon`` the sampling so far can give at best."""
        if self.first_sample is None or self.last_sample is None:
            return 0
        span = slot_of(self.last_sample) - slot_of(self.first_sample)
        return max(0, min(WINDOWS, span // horizon.slots - 1))
