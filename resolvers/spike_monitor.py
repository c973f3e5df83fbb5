"""The in-process spike monitor: samples the universe's open interest and volume into bounded rings.

History is kept here, not fetched per scan: one sample costs the all-symbol calls of a scan (Binance
``ticker/24hr``, Bybit ``tickers``, OKX ``market/tickers`` and ``public/open-interest``: 4 calls, Bybit's
one answer serving both its volume and open interest), while rebuilding 13 h of history per symbol from
candle and open-interest-history endpoints would cost two calls per symbol (~1,500 for the universe).
Samples come from every spike scan and, when ``SPIKE_POLL_SECONDS`` > 0, from a background poller; a
fresh process has no history and says so ("warming up") instead of guessing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from engine.spikes import SpikeHistory, SpikeMetric
from resolvers.gateway import UNIVERSE_VENUES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from engine.inputs import Reading
    from engine.market import OpenInterest, Ticker24h
    from resolvers.gateway import MarketGateway

log = structlog.get_logger(__name__)
MAX_POLLS = 10_000_000  # the poller's loop bound (a process lives far shorter at any sane interval)


@dataclass(frozen=True, slots=True)
class Sample:
    """What one sampling round read: when, the venues that answered each metric, and what failed."""

    time: datetime
    volume_venues: tuple[str, ...]
    open_interest_venues: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass
class SpikeMonitor:
    """One per process (a :class:`~resolvers.context.Services` field): the rings and the lock that keeps
    concurrent scans from sampling twice at once."""

    history: SpikeHistory = field(default_factory=SpikeHistory)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def sample(self, gateway: MarketGateway, venues: Sequence[str] = UNIVERSE_VENUES) -> Sample:
        """Read every symbol's volume and open interest on ``venues`` and record them at the service clock."""
        async with self._lock:
            tickers, oi = await asyncio.gather(gateway.universe_tickers(venues), gateway.universe_open_interest(venues))
            now = gateway.now()
            for venue in venues:
                self.history.record(venue, now, _values(tickers[venue], oi[venue]), _prices(tickers[venue]))
            missing = tuple(
                f"{kind} {venue}: {reading.error}"
                for kind, readings in (("volume", tickers), ("open interest", oi))
                for venue, reading in readings.items()
                if not reading.available
            )
            return Sample(
                time=now,
                volume_venues=tuple(v for v in venues if tickers[v].available),
                open_interest_venues=tuple(v for v in venues if oi[v].available),
                missing=missing,
            )

    async def poll(self, gateway: MarketGateway, interval_seconds: float) -> None:
        """Sample every ``interval_seconds`` (the first after one interval) until cancelled."""
        for _ in range(MAX_POLLS):
            await asyncio.sleep(interval_seconds)
            try:
                await self.sample(gateway)
            except Exception:  # a poll must never end the poller; the next one retries
                log.exception("spike sample failed")


def _values(
    tickers: Reading[Mapping[str, Ticker24h]], oi: Reading[Mapping[str, OpenInterest]]
) -> dict[str, dict[SpikeMetric, float | None]]:
    values: dict[str, dict[SpikeMetric, float | None]] = {}
    for symbol, ticker in (tickers.value or {}).items():
        # coins: every venue reports them exactly (OKX's swap quote volume is only coins x last price)
        values.setdefault(symbol, {})[SpikeMetric.QUOTE_VOLUME] = ticker.volume
    for symbol, interest in (oi.value or {}).items():
        values.setdefault(symbol, {})[SpikeMetric.OPEN_INTEREST] = interest.usd
    return values


def _prices(tickers: Reading[Mapping[str, Ticker24h]]) -> dict[str, float]:
    """Each symbol's last price: values a volume change (coins) in USD."""
    return {symbol: ticker.last_price for symbol, ticker in (tickers.value or {}).items()}
