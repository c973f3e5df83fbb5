"""``OutcomeJob``: what the market did after each stored signal, at 1 h, 4 h and 24 h.

Every ``interval_seconds`` the job picks (signal, horizon) pairs whose horizon has passed and that have
no outcome, fetches candles for each symbol from the first venue serving candles (binance first, then
the registry's order), evaluates them with :func:`engine.outcomes.evaluate_outcome` (entry = the
signal's price) and stores the result in ``signal_outcomes``. Errors are logged; the loop never dies.

Candle grid: ``evaluate_outcome`` reads the candles that open at or after the window start, and needs
the window to end on a candle close, so the window starts at the signal time rounded *up* to the candle
grid. We read 5-minute candles when they reach back far enough (the window starts < 5 min after the
signal) and 1-hour candles otherwise (< 1 h late, about 41 days back). A signal older than that is
never evaluated (and is reported as pending).
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from engine.market import CandleInterval
from engine.modes import Recommendation
from engine.outcomes import evaluate_outcome, first_exit
from persistence.analytics import HORIZONS_HOURS
from persistence.background import BackgroundLoop
from providers.symbols import parse_symbol
from providers.venue import Capability

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from engine.market import Candle
    from persistence.repository import DueOutcome, OutcomeRepository
    from providers.registry import Registry

log = structlog.get_logger(__name__)

CANDLE_LIMIT = 1000  # per request; every venue we use serves at least this many
INTERVALS = (CandleInterval.M5, CandleInterval.H1)  # finest first
MAX_AGE = CandleInterval.H1.duration * (CANDLE_LIMIT - 2)


class CandleSource(Protocol):
    async def candles(self, symbol: str, interval: CandleInterval, limit: int) -> tuple[str, Sequence[Candle]]:
        """``(source name, oldest-first candles ending now)`` for a stored symbol such as ``BTCUSDT``."""
        ...


class RegistryCandleSource:
    """Candles from the provider registry: binance first, then every other venue serving candles."""

    def __init__(self, registry: Registry, order: tuple[str, ...] = ("binance",)) -> None:
        self._registry = registry
        self._order = order

    async def candles(self, symbol: str, interval: CandleInterval, limit: int) -> tuple[str, Sequence[Candle]]:
        instrument = parse_symbol(symbol)
        failures: list[str] = []
        for venue in self._registry.with_capability(Capability.CANDLES, self._order):
            try:
                return venue.name, await venue.candles(instrument, interval, limit)
            except Exception as exc:  # any venue failure: try the next one
                failures.append(f"{venue.name}: {exc}")
        raise LookupError(f"no venue served {interval.value} candles for {symbol}: {'; '.join(failures) or 'none'}")


def grid_start(moment: datetime, interval: CandleInterval) -> datetime:
    """``moment`` rounded up to the next candle open of ``interval`` (itself when on the grid)."""
    step = interval.duration.total_seconds()
    epoch = moment.timestamp()
    return datetime.fromtimestamp(math.ceil(epoch / step) * step, tz=UTC)


def choose_interval(oldest: datetime, now: datetime) -> CandleInterval | None:
    """The finest interval whose last ``CANDLE_LIMIT`` candles reach back to ``oldest``."""
    for interval in INTERVALS:
        needed = (now - grid_start(oldest, interval)) / interval.duration + 2
        if needed <= CANDLE_LIMIT:
            return interval
    return None


class OutcomeJob(BackgroundLoop):
    task_name = "history-outcomes"

    def __init__(
        self,
        outcomes: OutcomeRepository,
        candles: CandleSource,
        *,
        interval_seconds: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        horizons_hours: Sequence[int] = HORIZONS_HOURS,
        batch_limit: int = 500,
    ) -> None:
        self._outcomes = outcomes
        self._candles = candles
        self._interval = interval_seconds
        self._clock = clock
        self._horizons = tuple(horizons_hours)
        self._batch_limit = batch_limit

    async def _run(self) -> None:
        while True:
            try:
                stored = await self.run_once(self._clock())
                if stored:
                    log.info("signal outcomes stored", count=stored)
            except Exception:
                log.exception("outcome job run failed; will retry")
            await asyncio.sleep(self._interval)

    async def run_once(self, now: datetime) -> int:
        """Evaluate every due (signal, horizon) pair at ``now``; return how many outcomes were stored."""
        due = await self._outcomes.due(
            now=now, horizons_hours=self._horizons, oldest=now - MAX_AGE, limit=self._batch_limit
        )
        by_symbol: dict[str, list[DueOutcome]] = defaultdict(list)
        for item in due:
            by_symbol[item.symbol].append(item)
        stored = 0
        for symbol, items in by_symbol.items():
            try:
                stored += await self._evaluate_symbol(symbol, items, now)
            except Exception as exc:
                log.warning("outcomes not evaluated", symbol=symbol, pending=len(items), error=repr(exc))
        return stored

    async def _evaluate_symbol(self, symbol: str, items: list[DueOutcome], now: datetime) -> int:
        interval = choose_interval(min(i.generated_at for i in items), now)
        if interval is None:
            return 0
        oldest_start = grid_start(min(i.generated_at for i in items), interval)
        limit = min(CANDLE_LIMIT, math.ceil((now - oldest_start) / interval.duration) + 2)
        source, candles = await self._candles.candles(symbol, interval, limit)
        stored = 0
        for item in items:
            start = grid_start(item.generated_at, interval)
            outcome = evaluate_outcome(
                Recommendation(item.recommendation),
                item.price,
                start,
                timedelta(hours=item.horizon_hours),
                candles,
                interval.duration,
            )
            if outcome is None:  # the venue's candles do not cover the window (yet)
                continue
            exit_first = None
            if item.stop is not None and item.take_profit is not None:  # the stored plan's legs
                exit_first = first_exit(
                    Recommendation(item.recommendation),
                    item.stop,
                    item.take_profit,
                    start,
                    timedelta(hours=item.horizon_hours),
                    candles,
                    interval.duration,
                )
            if await self._outcomes.insert(
                item, outcome, window_start=start, price_source=f"{source}:{interval.value}", exit_first=exit_first
            ):
                stored += 1
        return stored
