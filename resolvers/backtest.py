"""The backtest service (history directory, cached histories and reports) and the ``backtest`` resolver.

The composition root registers one :class:`BacktestService` as ``Services.extras["backtest"]``; the
GraphQL resolver and the CLI both go through it. A run takes about a second of CPU, so the resolver runs
it in a worker thread and the service keeps the last few reports by their inputs.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from engine.backtest import BacktestConfig, BacktestReport, run_backtest
from engine.market import Timeframe
from providers.history_files import HistoryFormatError, HistoryNotAvailable, default_history_dir, load_history
from providers.symbols import InvalidSymbolFormat, parse_symbol
from schema.errors import InvalidInput, invalid_input

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from pathlib import Path

    from engine import Mode
    from engine.backtest import MarketHistory
    from resolvers.context import RequestContext

EXTRAS_KEY = "backtest"
DEFAULT_HORIZONS_HOURS = (4, 24)
MAX_HORIZON_HOURS = 24 * 14

_ReportKey = tuple[str, str, tuple[int, ...], object, object, bool]  # symbol, mode, horizons, start, end, wf


@dataclass(frozen=True, slots=True)
class HistoryMissing:
    """The history files are not there (or unreadable); ``missing`` names what was looked for."""

    message: str
    directory: str
    missing: tuple[str, ...]


class BacktestService:
    """Knows where the history is; loads each symbol's history once and caches recent reports."""

    def __init__(self, directory: Path | None = None, *, max_reports: int = 16) -> None:
        self.directory = directory if directory is not None else default_history_dir()
        self._histories: dict[str, MarketHistory] = {}
        self._reports: OrderedDict[_ReportKey, BacktestReport] = OrderedDict()
        self._max_reports = max_reports
        self._lock = threading.Lock()

    def history(self, symbol: str) -> MarketHistory:
        """Raises :class:`HistoryNotAvailable` or :class:`HistoryFormatError`."""
        base = parse_symbol(symbol).base
        with self._lock:
            cached = self._histories.get(base)
        if cached is not None:
            return cached
        loaded = load_history(self.directory, base)
        with self._lock:
            return self._histories.setdefault(base, loaded)

    def report(
        self,
        symbol: str,
        mode: Mode,
        horizons_hours: Sequence[int] = DEFAULT_HORIZONS_HOURS,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        walk_forward: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> BacktestReport:
        """Run (or reuse) a backtest. Raises ``ValueError`` for bad inputs, and what :meth:`history` raises."""
        base = parse_symbol(symbol).base
        horizon_bars = horizons_to_bars(horizons_hours)
        key: _ReportKey = (base, mode.value, horizon_bars, start, end, walk_forward)
        with self._lock:
            cached = self._reports.get(key)
            if cached is not None:
                self._reports.move_to_end(key)
                return cached
        history = self.history(base)
        config = BacktestConfig(horizon_bars=horizon_bars, start=start, end=end)
        report = run_backtest(history, mode, config, with_walk_forward=walk_forward, progress=progress)
        with self._lock:
            self._reports[key] = report
            while len(self._reports) > self._max_reports:
                self._reports.popitem(last=False)
        return report


def horizons_to_bars(horizons_hours: Sequence[int], bar: Timeframe = Timeframe.H4) -> tuple[int, ...]:
    """Whole multiples of the 4 h bar, distinct, at most two weeks; ``ValueError`` naming the bad one."""
    bar_hours = int(bar.duration.total_seconds() // 3600)
    if not horizons_hours:
        raise ValueError("give at least one horizon")
    bars: list[int] = []
    for hours in horizons_hours:
        if hours <= 0 or hours % bar_hours or hours > MAX_HORIZON_HOURS:
            raise ValueError(
                f"horizon {hours}h must be a positive multiple of the {bar_hours}h bar, at most {MAX_HORIZON_HOURS}h"
            )
        if hours // bar_hours in bars:
            raise ValueError(f"horizon {hours}h is given twice")
        bars.append(hours // bar_hours)
    return tuple(bars)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC (every time in the service is UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def service_of(ctx: RequestContext) -> BacktestService | None:
    service = ctx.services.extras.get(EXTRAS_KEY)
    return service if isinstance(service, BacktestService) else None


async def resolve_backtest(
    ctx: RequestContext,
    symbol: str,
    mode: Mode,
    horizons_hours: Sequence[int],
    start: datetime | None,
    end: datetime | None,
    walk_forward: bool = True,
) -> BacktestReport | HistoryMissing | InvalidInput:
    """Validate, then run in a worker thread (CPU-bound, ~1 s) so the event loop keeps serving."""
    try:
        parse_symbol(symbol)
    except InvalidSymbolFormat as exc:
        return invalid_input("symbol", str(exc))
    try:
        horizons_to_bars(horizons_hours)
    except ValueError as exc:
        return invalid_input("horizonsHours", str(exc))
    start, end = as_utc(start), as_utc(end)
    if start is not None and end is not None and end < start:
        return invalid_input("to", "`to` must not be before `from`")
    service = service_of(ctx)
    if service is None:
        return HistoryMissing("no backtest service is configured on this server", "", ())
    try:
        return await asyncio.to_thread(
            service.report, symbol, mode, horizons_hours, start, end, walk_forward=walk_forward
        )
    except HistoryNotAvailable as exc:
        return HistoryMissing(exc.message, str(service.directory), exc.missing)
    except HistoryFormatError as exc:
        return HistoryMissing(f"history files unreadable: {exc}", str(service.directory), ())
    except ValueError as exc:  # e.g. a from/to window too short to walk forward
        return invalid_input("from", str(exc))
